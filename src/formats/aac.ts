/**
 * AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) and ADTS headers. Pure; malformed
 * input throws AacError.
 *
 *   ASC = audioObjectType(5, 31 → 32 + 6 more bits) samplingFrequencyIndex(4, 15 → 24-bit rate)
 *         channelConfiguration(4) [SBR/PS explicit signalling: extension rate index, object type]
 */
import { BitReader } from './avc.js';

export class AacError extends Error {
  constructor(message: string) {
    super(`aac: ${message}`);
    this.name = 'AacError';
  }
}

export const AAC_OBJECT_MAIN = 1;
export const AAC_OBJECT_LC = 2;
export const AAC_OBJECT_SBR = 5;
export const AAC_OBJECT_PS = 29;
const ESCAPE_OBJECT_TYPE = 31;
const EXPLICIT_FREQUENCY_INDEX = 15;

/** Sampling frequencies by samplingFrequencyIndex. */
export const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

export interface AudioSpecificConfig {
  objectType: number;
  sampleRate: number;
  samplingFrequencyIndex: number;
  /** Channel count (channelConfiguration 7 means 8 channels). */
  channels: number;
  channelConfiguration: number;
  /** With SBR/PS signalled explicitly: the output (extension) rate. */
  extensionSampleRate?: number;
  codecString: string;
}

function readObjectType(r: BitReader): number {
  const t = r.u(5);
  return t === ESCAPE_OBJECT_TYPE ? 32 + r.u(6) : t;
}

function readRate(r: BitReader): { index: number; rate: number } {
  const index = r.u(4);
  if (index === EXPLICIT_FREQUENCY_INDEX) return { index, rate: r.u(24) };
  const rate = AAC_SAMPLE_RATES[index];
  if (rate === undefined) throw new AacError(`reserved samplingFrequencyIndex ${index}`);
  return { index, rate };
}

/** parseAudioSpecificConfig reads an ASC (the body of an AAC sequence header). */
export function parseAudioSpecificConfig(buf: Buffer): AudioSpecificConfig {
  if (buf.length < 2) throw new AacError('AudioSpecificConfig shorter than 2 bytes');
  const r = new BitReader(buf, (m) => new AacError(m));
  let objectType = readObjectType(r);
  if (objectType === 0) throw new AacError('object type 0 is invalid');
  const { index, rate } = readRate(r);
  const channelConfiguration = r.u(4);
  let extensionSampleRate: number | undefined;
  const codecObjectType = objectType;
  if (objectType === AAC_OBJECT_SBR || objectType === AAC_OBJECT_PS) {
    extensionSampleRate = readRate(r).rate;
    objectType = readObjectType(r);
  }
  const channels = channelConfiguration === 7 ? 8 : channelConfiguration;
  return {
    objectType,
    sampleRate: rate,
    samplingFrequencyIndex: index,
    channels,
    channelConfiguration,
    ...(extensionSampleRate !== undefined ? { extensionSampleRate } : {}),
    codecString: `mp4a.40.${codecObjectType}`,
  };
}

/** encodeAudioSpecificConfig builds the common 2-byte ASC (object type < 31, table rate). */
export function encodeAudioSpecificConfig(objectType: number, sampleRate: number, channelConfiguration: number): Buffer {
  const index = AAC_SAMPLE_RATES.indexOf(sampleRate);
  if (index < 0) throw new AacError(`sample rate ${sampleRate} is not in the table`);
  if (objectType <= 0 || objectType >= ESCAPE_OBJECT_TYPE) throw new AacError(`object type ${objectType} needs escape coding`);
  const v = (objectType << 11) | (index << 7) | (channelConfiguration << 3);
  return Buffer.from([v >> 8, v & 0xff]);
}

export const ADTS_HEADER_SIZE = 7;

/** adtsHeader builds a 7-byte ADTS header (no CRC) for one raw AAC frame of frameLength bytes. */
export function adtsHeader(asc: AudioSpecificConfig, frameLength: number): Buffer {
  const full = frameLength + ADTS_HEADER_SIZE;
  if (full > 0x1fff) throw new AacError('frame too large for ADTS');
  const profile = Math.min(asc.objectType, 4) - 1; // ADTS carries object type - 1 in 2 bits
  const b = Buffer.allocUnsafe(ADTS_HEADER_SIZE);
  b[0] = 0xff;
  b[1] = 0xf1; // sync, MPEG-4, layer 0, no CRC
  b[2] = (profile << 6) | ((asc.samplingFrequencyIndex & 0x0f) << 2) | ((asc.channelConfiguration >> 2) & 1);
  b[3] = ((asc.channelConfiguration & 3) << 6) | (full >> 11);
  b[4] = (full >> 3) & 0xff;
  b[5] = ((full & 7) << 5) | 0x1f;
  b[6] = 0xfc;
  return b;
}
