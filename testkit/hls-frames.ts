/** Test helpers: synthesised hub frames, and real frames read from an ffmpeg-made FLV file. */
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../src/media/hub/types.js';

export const AVCC = Buffer.from('0164001fffe1001967640028acd9405005bb016a020202800000030080000019478c18cb01000568ebecb22c', 'hex');
export const ASC_44100_STEREO = Buffer.from('1210', 'hex');

export const videoTrack: VideoTrackInfo = { codec: 'avc', config: AVCC, width: 1280, height: 720, codecString: 'avc1.64001f' };
export const audioTrack: AudioTrackInfo = { codec: 'aac', config: ASC_44100_STEREO, sampleRate: 44100, channels: 2, codecString: 'mp4a.40.2' };

function frame(kind: 'video' | 'audio', dts: number, pts: number, keyframe: boolean, data: Buffer): MediaFrame {
  return { kind, codec: kind === 'video' ? 'avc' : 'aac', dts, pts, keyframe, data };
}

export interface SynthOptions {
  seconds: number;
  fps?: number;
  gop?: number;
  audioRate?: number;
  video?: boolean;
  audio?: boolean;
  /** First timestamp (ms, before 32-bit wrapping). */
  startMs?: number;
  /** Use an I B B P pattern (pts > dts). */
  bframes?: boolean;
}

/** synthFrames makes an interleaved (dts-ordered) frame sequence with RTMP-style integer ms times, wrapped to 32 bits. */
export function synthFrames(o: SynthOptions): MediaFrame[] {
  const fps = o.fps ?? 25;
  const gop = o.gop ?? 50;
  const rate = o.audioRate ?? 44100;
  const start = o.startMs ?? 0;
  const out: { t: number; f: MediaFrame }[] = [];
  const wrap = (ms: number) => ms % 2 ** 32;
  if (o.video !== false) {
    const n = Math.round(o.seconds * fps);
    for (let i = 0; i < n; i++) {
      const dts = start + Math.round((i * 1000) / fps);
      let ptsDelta = 0;
      if (o.bframes) {
        // decode order I P B B P B B ... ; P shows 2 frames later, B one frame earlier than their decode slot + 1
        const k = i % gop;
        ptsDelta = k === 0 ? Math.round(1000 / fps) : k % 3 === 1 ? Math.round((3 * 1000) / fps) : 0;
      }
      const key = i % gop === 0;
      const data = Buffer.alloc(8 + (key ? 2000 : 300), i & 0xff);
      data.writeUInt32BE(data.length - 4, 0);
      out.push({ t: dts, f: frame('video', wrap(dts), wrap(dts + ptsDelta), key, data) });
    }
  }
  if (o.audio !== false) {
    const n = Math.floor((o.seconds * rate) / 1024);
    for (let i = 0; i < n; i++) {
      const dts = start + Math.round((i * 1024 * 1000) / rate);
      out.push({ t: dts + 0.5, f: frame('audio', wrap(dts), wrap(dts), true, Buffer.alloc(200, i & 0xff)) });
    }
  }
  out.sort((a, b) => a.t - b.t);
  return out.map((x) => x.f);
}

export interface FlvContent {
  video?: VideoTrackInfo;
  audio?: AudioTrackInfo;
  frames: MediaFrame[];
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** readFlv parses an FLV file (H.264 + AAC) into hub-style tracks and frames. */
export function readFlv(buf: Buffer): FlvContent {
  const out: FlvContent = { frames: [] };
  let off = buf.readUInt32BE(5) + 4;
  while (off + 11 <= buf.length) {
    const type = buf[off]!;
    const size = buf.readUIntBE(off + 1, 3);
    const ts = (buf.readUIntBE(off + 4, 3) | (buf[off + 7]! << 24)) >>> 0;
    const body = buf.subarray(off + 11, off + 11 + size);
    off += 11 + size + 4;
    if (body.length < 2) continue;
    if (type === 9 && (body[0]! & 0x0f) === 7) {
      const keyframe = body[0]! >> 4 === 1;
      const cts = (body.readIntBE(2, 3));
      const data = Buffer.from(body.subarray(5));
      if (body[1] === 0) {
        out.video = { codec: 'avc', config: data, width: 0, height: 0, codecString: `avc1.${data.subarray(1, 4).toString('hex')}` };
      } else if (body[1] === 1) out.frames.push({ kind: 'video', codec: 'avc', dts: ts, pts: ts + cts, keyframe, data });
    } else if (type === 8 && body[0]! >> 4 === 10) {
      const data = Buffer.from(body.subarray(2));
      if (body[1] === 0) {
        const aot = data[0]! >> 3;
        const rate = AAC_RATES[((data[0]! & 7) << 1) | (data[1]! >> 7)]!;
        const channels = (data[1]! >> 3) & 0x0f;
        out.audio = { codec: 'aac', config: data, sampleRate: rate, channels, codecString: `mp4a.40.${aot}` };
      } else out.frames.push({ kind: 'audio', codec: 'aac', dts: ts, pts: ts, keyframe: true, data });
    }
  }
  return out;
}
