/**
 * SDP (RFC 8866) as RTSP uses it: the session description of ANNOUNCE (publish) and DESCRIBE
 * (play). Pure. The WebRTC parser (src/media/webrtc/sdp.ts) reads offers for ICE/DTLS; this one
 * reads what an RTSP publisher declares per media section:
 *
 *   m=video 0 RTP/AVP 96
 *   a=rtpmap:96 H264/90000
 *   a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAHtkA...,aMuDyyA=; profile-level-id=42C01E
 *   a=control:streamid=0
 *   m=audio 0 RTP/AVP 97
 *   a=rtpmap:97 MPEG4-GENERIC/44100/2
 *   a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=1210
 *   m=audio 0 RTP/AVP 96                          (or AAC in LATM, GStreamer's default)
 *   a=rtpmap:96 MP4A-LATM/44100/2
 *   a=fmtp:96 cpresent=0;config=40002420
 */
import { LatmError, parseStreamMuxConfig, type StreamMuxConfig } from './rtp-latm.js';

export class SdpRtspError extends Error {
  constructor(message: string) {
    super(`sdp: ${message}`);
    this.name = 'SdpRtspError';
  }
}

export const SDP_MAX_BYTES = 64 * 1024;
export const SDP_MAX_MEDIA = 16;

export interface SdpRtpMap {
  encoding: string;
  clockRate: number;
  channels?: number;
}

export interface SdpMedia {
  type: string;
  proto: string;
  payloadTypes: number[];
  control?: string;
  rtpmap: Map<number, SdpRtpMap>;
  fmtp: Map<number, Record<string, string>>;
}

export interface SdpSession {
  control?: string;
  media: SdpMedia[];
}

/** parseFmtp reads `a=fmtp:` parameters ("k=v; k=v"); keys are lower-cased. */
export function parseFmtp(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) out[p.toLowerCase()] = '';
    else out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
  }
  return out;
}

/** parseSdp reads a session description; throws SdpRtspError when it is not one. */
export function parseSdp(text: string): SdpSession {
  if (text.length > SDP_MAX_BYTES) throw new SdpRtspError(`description longer than ${SDP_MAX_BYTES} bytes`);
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const [firstLine] = lines;
  if (firstLine === undefined || !firstLine.startsWith('v=')) throw new SdpRtspError('no v= line');
  const session: SdpSession = { media: [] };
  let cur: SdpMedia | null = null;
  for (const line of lines) {
    if (line.length < 2 || line[1] !== '=') throw new SdpRtspError(`bad line ${JSON.stringify(line.slice(0, 40))}`);
    const type = line[0];
    const value = line.slice(2);
    if (type === 'm') {
      const f = value.split(/\s+/);
      const [mediaType, , proto] = f;
      if (f.length < 4 || mediaType === undefined || proto === undefined) throw new SdpRtspError(`bad m= line ${JSON.stringify(value.slice(0, 40))}`);
      if (session.media.length >= SDP_MAX_MEDIA) throw new SdpRtspError(`more than ${SDP_MAX_MEDIA} media sections`);
      cur = { type: mediaType, proto, payloadTypes: f.slice(3).map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < 128), rtpmap: new Map(), fmtp: new Map() };
      session.media.push(cur);
      continue;
    }
    if (type !== 'a') continue;
    const colon = value.indexOf(':');
    const name = colon < 0 ? value : value.slice(0, colon);
    const arg = colon < 0 ? '' : value.slice(colon + 1);
    if (name === 'control') {
      if (cur) cur.control = arg.trim();
      else session.control = arg.trim();
    } else if (cur && (name === 'rtpmap' || name === 'fmtp')) {
      const m = /^(\d{1,3})\s+(.*)$/.exec(arg);
      const spec = m?.[2];
      if (!m || spec === undefined) continue;
      const pt = Number(m[1]);
      if (name === 'rtpmap') {
        const [encoding, rate, channels] = spec.trim().split('/');
        const clockRate = Number(rate);
        if (!encoding || !Number.isInteger(clockRate) || clockRate <= 0) continue;
        cur.rtpmap.set(pt, { encoding, clockRate, ...(channels !== undefined && Number(channels) > 0 ? { channels: Number(channels) } : {}) });
      } else {
        cur.fmtp.set(pt, parseFmtp(spec));
      }
    }
  }
  return session;
}

/** resolveControl gives the absolute URL of a track's a=control against the base (request URL or Content-Base). */
export function resolveControl(base: string, control: string | undefined): string {
  if (!control || control === '*') return base;
  if (/^rtsps?:\/\//i.test(control)) return control;
  return base.endsWith('/') ? base + control : `${base}/${control}`;
}

export interface H264SdpParams {
  packetizationMode: number;
  sps?: Buffer;
  pps?: Buffer;
  profileLevelId?: string;
}

/** h264Params reads H.264 fmtp (RFC 6184 8.1): packetization-mode and the first SPS and PPS of sprop-parameter-sets. */
export function h264Params(fmtp: Record<string, string> | undefined): H264SdpParams {
  const out: H264SdpParams = { packetizationMode: Number(fmtp?.['packetization-mode'] ?? 0) };
  const sets = fmtp?.['sprop-parameter-sets'];
  if (sets) {
    for (const b64 of sets.split(',')) {
      const nal = Buffer.from(b64.trim(), 'base64');
      if (nal.length === 0) continue;
      const t = nal.readUInt8(0) & 0x1f;
      if (t === 7 && !out.sps) out.sps = nal;
      else if (t === 8 && !out.pps) out.pps = nal;
    }
  }
  if (fmtp?.['profile-level-id']) out.profileLevelId = fmtp['profile-level-id'];
  return out;
}

export interface AacSdpParams {
  mode: string;
  /** AudioSpecificConfig from config= (hex). */
  config: Buffer;
  sizeLength: number;
  indexLength: number;
  indexDeltaLength: number;
}

/** aacParams reads mpeg4-generic fmtp (RFC 3640 4.1); throws SdpRtspError without a usable config= or AU-header sizes. */
export function aacParams(fmtp: Record<string, string> | undefined): AacSdpParams {
  const hex = fmtp?.['config'] ?? '';
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new SdpRtspError('mpeg4-generic without a config= AudioSpecificConfig');
  const sizeLength = Number(fmtp?.['sizelength'] ?? NaN);
  if (!Number.isInteger(sizeLength) || sizeLength < 1 || sizeLength > 16) throw new SdpRtspError('mpeg4-generic without sizelength (only AAC-hbr/AAC-lbr AU headers are read)');
  const indexLength = Number(fmtp?.['indexlength'] ?? 0);
  const indexDeltaLength = Number(fmtp?.['indexdeltalength'] ?? 0);
  if (!Number.isInteger(indexLength) || indexLength < 0 || indexLength > 8 || !Number.isInteger(indexDeltaLength) || indexDeltaLength < 0 || indexDeltaLength > 8) {
    throw new SdpRtspError('bad indexlength/indexdeltalength');
  }
  return { mode: fmtp?.['mode'] ?? '', config: Buffer.from(hex, 'hex'), sizeLength, indexLength, indexDeltaLength };
}

export interface LatmSdpParams {
  /** The StreamMuxConfig from config= (hex), read. */
  mux: StreamMuxConfig;
}

/**
 * latmParams reads MP4A-LATM fmtp (RFC 6416 7.3): only `cpresent=0` with the StreamMuxConfig in
 * `config=` is taken (cpresent defaults to 1, configuration in band, which onair does not read).
 */
export function latmParams(fmtp: Record<string, string> | undefined): LatmSdpParams {
  if ((fmtp?.['cpresent'] ?? '1') !== '0') throw new SdpRtspError('MP4A-LATM with cpresent=1 (in-band StreamMuxConfig) is not supported; cpresent=0 with config= is');
  const hex = fmtp?.['config'] ?? '';
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new SdpRtspError('MP4A-LATM without a config= StreamMuxConfig');
  try {
    return { mux: parseStreamMuxConfig(Buffer.from(hex, 'hex')) };
  } catch (err) {
    if (err instanceof LatmError) throw new SdpRtspError(`MP4A-LATM config=${hex.slice(0, 32)}: ${err.message}`);
    throw err;
  }
}

export interface DescribeTracks {
  video?: { payloadType: number; control: string; sps: Buffer; pps: Buffer };
  audio?: { payloadType: number; control: string; sampleRate: number; channels: number; config: Buffer };
}

/** buildSdp writes the DESCRIBE answer for a live channel (H.264 packetization-mode=1, AAC-hbr). */
export function buildSdp(o: { sessionId: string; address: string; name: string } & DescribeTracks): string {
  const lines = [
    'v=0',
    `o=- ${o.sessionId} ${o.sessionId} IN IP4 ${o.address}`,
    `s=${o.name.replace(/[\r\n]/g, ' ')}`,
    'c=IN IP4 0.0.0.0',
    't=0 0',
    'a=control:*',
    'a=range:npt=0-',
  ];
  if (o.video) {
    const v = o.video;
    const pli = v.sps.subarray(1, 4).toString('hex').toUpperCase();
    lines.push(
      `m=video 0 RTP/AVP ${v.payloadType}`,
      `a=rtpmap:${v.payloadType} H264/90000`,
      `a=fmtp:${v.payloadType} packetization-mode=1; sprop-parameter-sets=${v.sps.toString('base64')},${v.pps.toString('base64')}; profile-level-id=${pli}`,
      `a=control:${v.control}`,
    );
  }
  if (o.audio) {
    const a = o.audio;
    lines.push(
      `m=audio 0 RTP/AVP ${a.payloadType}`,
      `a=rtpmap:${a.payloadType} MPEG4-GENERIC/${a.sampleRate}/${a.channels}`,
      `a=fmtp:${a.payloadType} profile-level-id=1; mode=AAC-hbr; sizelength=13; indexlength=3; indexdeltalength=3; config=${a.config.toString('hex')}`,
      `a=control:${a.control}`,
    );
  }
  return lines.join('\r\n') + '\r\n';
}
