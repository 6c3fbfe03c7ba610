/**
 * AAC in LATM over RTP (RFC 6416 section 7.3, formerly RFC 3016: rtpmap `MP4A-LATM`), the default
 * AAC payloader of GStreamer's `rtspclientsink` (rtpmp4apay). Pure. Only out-of-band configuration
 * is read (`cpresent=0`): the fmtp's `config=` is the StreamMuxConfig (ISO/IEC 14496-3 1.7.3) in hex,
 * and every RTP payload carries AudioMuxElements without it:
 *
 *   StreamMuxConfig = audioMuxVersion(1) [audioMuxVersionA(1) taraBufferFullness(LatmValue)]
 *                     allStreamsSameTimeFraming(1) numSubFrames(6) numProgram(4) numLayer(3)
 *                     AudioSpecificConfig  frameLengthType(3) latmBufferFullness(8)
 *                     otherDataPresent(1) [otherDataLenBits]  crcCheckPresent(1) [crcCheckSum(8)]
 *   AudioMuxElement(muxConfigPresent=0) = { PayloadLengthInfo PayloadMux } × (numSubFrames + 1)
 *   PayloadLengthInfo (frameLengthType 0) = tmp(8) repeated while tmp == 255, the length is their sum
 *
 * One program, one layer and frameLengthType 0 (what AAC encoders write) are read; anything else is
 * refused with a LatmError naming it. Payloaders often cut the StreamMuxConfig right after the
 * AudioSpecificConfig (GStreamer's `40002420`): missing trailing fields take their defaults.
 * An AudioMuxElement may span several RTP packets (the marker bit ends it), and one packet may hold
 * several AudioMuxElements.
 */
import { BitReader } from './avc.js';
import { AAC_OBJECT_LC, AAC_OBJECT_PS, AAC_OBJECT_SBR } from './aac.js';

export class LatmError extends Error {
  constructor(message: string) {
    super(`latm: ${message}`);
    this.name = 'LatmError';
  }
}

/** Largest AudioMuxElement reassembled from fragments (an AAC frame is at most 6144 bits per channel). */
export const LATM_MAX_ELEMENT_BYTES = 64 * 1024;
const ESCAPE_OBJECT_TYPE = 31;
const EXPLICIT_FREQUENCY_INDEX = 15;
const SYNC_EXTENSION_TYPE = 0x2b7;
const PS_SYNC_EXTENSION_TYPE = 0x548;
const AAC_OBJECT_MAIN = 1;
const AAC_OBJECT_LTP = 4;
const PAYLOAD_LENGTH_ESCAPE = 255;

export interface StreamMuxConfig {
  /** PayloadMux count per AudioMuxElement (numSubFrames + 1). */
  subFrames: number;
  /** The stream's AudioSpecificConfig, byte-aligned (zero-padded): the track's decoder configuration. */
  audioSpecificConfig: Buffer;
  otherDataPresent: boolean;
}

/** bitsToBuffer copies bits [start, end) of buf into a new zero-padded buffer. */
function bitsToBuffer(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.alloc(Math.ceil((end - start) / 8));
  for (let i = 0; i < end - start; i++) {
    const bit = start + i;
    if ((buf.readUInt8(bit >> 3) >> (7 - (bit & 7))) & 1) out.writeUInt8(out.readUInt8(i >> 3) | (0x80 >> (i & 7)), i >> 3);
  }
  return out;
}

/** LatmGetValue (ISO/IEC 14496-3 1.7.3): bytesForValue(2) then that many + 1 bytes. */
function latmValue(r: BitReader): number {
  const bytes = r.u(2) + 1;
  return r.u(8 * bytes);
}

function objectTypeOf(r: BitReader): number {
  const t = r.u(5);
  return t === ESCAPE_OBJECT_TYPE ? 32 + r.u(6) : t;
}

function skipRateIndex(r: BitReader): void {
  if (r.u(4) === EXPLICIT_FREQUENCY_INDEX) r.skip(24);
}

/** readAudioSpecificConfig walks an ASC of an AAC object type inside the StreamMuxConfig (its length is its syntax). */
function readAudioSpecificConfig(buf: Buffer, r: BitReader): void {
  let objectType = objectTypeOf(r);
  skipRateIndex(r);
  const channelConfiguration = r.u(4);
  if (objectType === AAC_OBJECT_SBR || objectType === AAC_OBJECT_PS) {
    skipRateIndex(r);
    objectType = objectTypeOf(r);
  }
  if (objectType !== AAC_OBJECT_MAIN && objectType !== AAC_OBJECT_LC && objectType !== AAC_OBJECT_LTP) throw new LatmError(`audio object type ${objectType} is not AAC`);
  if (channelConfiguration === 0) throw new LatmError('channel configuration 0 (a program_config_element) is not supported');
  // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder [coreCoderDelay(14)], extensionFlag.
  r.skip(1);
  if (r.u1()) r.skip(14);
  r.skip(1);
  // The backward-compatible SBR (and PS) signalling encoders append, when present.
  if (r.bitsLeft >= 16 && peek(buf, r, 11) === SYNC_EXTENSION_TYPE) {
    r.skip(11);
    if (objectTypeOf(r) === AAC_OBJECT_SBR && r.u1()) {
      skipRateIndex(r);
      if (r.bitsLeft >= 12 && peek(buf, r, 11) === PS_SYNC_EXTENSION_TYPE) r.skip(12);
    }
  }
}

/** peek reads n bits of buf at r's position without consuming them. */
function peek(buf: Buffer, r: BitReader, n: number): number {
  const ahead = new BitReader(buf, (m) => new LatmError(m));
  ahead.skip(r.position);
  return ahead.u(n);
}

/** parseStreamMuxConfig reads the fmtp `config=` bytes; throws LatmError for a layout onair does not take. */
export function parseStreamMuxConfig(buf: Buffer): StreamMuxConfig {
  const r = new BitReader(buf, (m) => new LatmError(m));
  const audioMuxVersion = r.u1();
  const audioMuxVersionA = audioMuxVersion === 1 ? r.u1() : 0;
  if (audioMuxVersionA !== 0) throw new LatmError('audioMuxVersionA 1 is reserved');
  if (audioMuxVersion === 1) latmValue(r); // taraBufferFullness
  r.skip(1); // allStreamsSameTimeFraming: one stream, so its value does not matter
  const subFrames = r.u(6) + 1;
  const programs = r.u(4) + 1;
  const layers = r.u(3) + 1;
  if (programs !== 1 || layers !== 1) throw new LatmError(`${programs} programs / ${layers} layers (only one AAC stream is read)`);
  let ascStart = r.position;
  if (audioMuxVersion === 1) {
    const ascBits = latmValue(r);
    ascStart = r.position;
    readAudioSpecificConfig(buf, r);
    const used = r.position - ascStart;
    if (ascBits < used) throw new LatmError('AudioSpecificConfig longer than its ascLen');
    if (ascBits - used > r.bitsLeft) throw new LatmError('bitstream truncated');
    r.skip(ascBits - used);
  } else {
    readAudioSpecificConfig(buf, r);
  }
  const audioSpecificConfig = bitsToBuffer(buf, ascStart, r.position);
  // Payloaders cut the rest short; absent fields take their defaults (frame length type 0, no other data).
  if (r.bitsLeft < 3) return { subFrames, audioSpecificConfig, otherDataPresent: false };
  const frameLengthType = r.u(3);
  if (frameLengthType !== 0) throw new LatmError(`frameLengthType ${frameLengthType} (only 0, byte-counted payloads, is read)`);
  if (r.bitsLeft < 9) return { subFrames, audioSpecificConfig, otherDataPresent: false };
  r.skip(8); // latmBufferFullness
  return { subFrames, audioSpecificConfig, otherDataPresent: r.u1() === 1 };
}

/**
 * splitAudioMuxElements reads the PayloadMux frames of whole AudioMuxElements (muxConfigPresent=0)
 * back to back in `data`. Throws LatmError when a length runs past the end.
 */
export function splitAudioMuxElements(data: Buffer, cfg: StreamMuxConfig): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    for (let i = 0; i < cfg.subFrames; i++) {
      let length = 0;
      let tmp: number;
      do {
        if (at >= data.length) throw new LatmError('PayloadLengthInfo runs past the payload');
        tmp = data.readUInt8(at++);
        length += tmp;
      } while (tmp === PAYLOAD_LENGTH_ESCAPE);
      if (at + length > data.length) throw new LatmError(`PayloadMux of ${length} bytes runs past the payload`);
      frames.push(data.subarray(at, at + length));
      at += length;
    }
    // Other data (rare) has its length in the config, which payloaders leave out: nothing more can be read.
    if (cfg.otherDataPresent) break;
  }
  return frames;
}

export interface LatmDepacketizerStats {
  packets: number;
  frames: number;
  /** Payloads or reassembled elements that could not be read, and elements cut short by loss. */
  dropped: number;
}

/** LatmFrames is what a payload (or the last fragment of an element) yields: raw AAC frames from `timestamp` on, one frame duration apart. */
export interface LatmFrames {
  timestamp: number;
  frames: Buffer[];
}

/**
 * LatmDepacketizer turns MP4A-LATM payloads (in order) into raw AAC frames. Never throws: what it
 * cannot read is counted and dropped; an element whose fragments were interrupted (a new timestamp
 * before the marker) is dropped too.
 */
export class LatmDepacketizer {
  private parts: Buffer[] = [];
  private size = 0;
  private partTimestamp = 0;
  readonly stats: LatmDepacketizerStats = { packets: 0, frames: 0, dropped: 0 };

  constructor(private readonly cfg: StreamMuxConfig) {}

  push(payload: Buffer, timestamp: number, marker: boolean): LatmFrames | null {
    this.stats.packets++;
    if (this.parts.length > 0 && timestamp !== this.partTimestamp) {
      this.stats.dropped++;
      this.parts = [];
      this.size = 0;
    }
    if (this.size + payload.length > LATM_MAX_ELEMENT_BYTES) {
      this.stats.dropped++;
      this.parts = [];
      this.size = 0;
      return null;
    }
    if (!marker) {
      // A fragment: kept (copied, the read buffer is reused) until the marker ends the element.
      this.parts.push(Buffer.from(payload));
      this.size += payload.length;
      this.partTimestamp = timestamp;
      return null;
    }
    const whole = this.parts.length > 0 ? Buffer.concat([...this.parts, payload]) : payload;
    this.parts = [];
    this.size = 0;
    let frames: Buffer[];
    try {
      frames = splitAudioMuxElements(whole, this.cfg);
    } catch {
      this.stats.dropped++;
      return null;
    }
    if (frames.length === 0) return null;
    this.stats.frames += frames.length;
    return { timestamp, frames };
  }
}
