/**
 * A live source for HLS tests without the RTMP ingest: ffmpeg encodes testsrc2 + sine in real
 * time (-re) to FLV on stdout; we parse tags as they arrive and drive a FakeHub.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../../../src/media/hub/types.js';
import type { FakeHub } from './fakes.js';

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

export interface LiveSource {
  proc: ChildProcess;
  /** Wall clock when ffmpeg was spawned (an upper bound for capture start). */
  spawnedAt: number;
  /** Wall clock when the first frame reached the hub. */
  firstFrameAt?: number;
  firstDts?: number;
  stop(): void;
}

export function startLiveSource(hub: FakeHub, channel: string, opts: { width?: number; height?: number; seconds?: number } = {}): LiveSource {
  const w = opts.width ?? 640;
  const h = opts.height ?? 360;
  const args = [
    '-v', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(opts.seconds ?? 60), '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '50', '-r', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', 'pipe:1',
  ];
  const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const src: LiveSource = { proc, spawnedAt: Date.now(), stop: () => { if (proc.exitCode === null) proc.kill('SIGKILL'); } };
  let buf = Buffer.alloc(0);
  let headerDone = false;
  let video: VideoTrackInfo | undefined;
  let audio: AudioTrackInfo | undefined;
  let published = false;
  const queued: MediaFrame[] = [];
  const emit = (f: MediaFrame) => {
    if (!published) {
      queued.push(f);
      if (video && audio) {
        hub.publish(channel, video, audio);
        published = true;
        for (const q of queued.splice(0)) emit(q);
      }
      return;
    }
    if (src.firstFrameAt === undefined) {
      src.firstFrameAt = Date.now();
      src.firstDts = f.dts;
    }
    hub.frame(channel, f);
  };
  proc.stdout!.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (!headerDone) {
      if (buf.length < 13) return;
      buf = buf.subarray(buf.readUInt32BE(5) + 4);
      headerDone = true;
    }
    while (buf.length >= 11) {
      const size = buf.readUIntBE(1, 3);
      if (buf.length < 11 + size + 4) break;
      const type = buf[0]!;
      const ts = (buf.readUIntBE(4, 3) | (buf[7]! << 24)) >>> 0;
      const body = Buffer.from(buf.subarray(11, 11 + size));
      buf = buf.subarray(11 + size + 4);
      if (type === 9 && (body[0]! & 0x0f) === 7) {
        const data = body.subarray(5);
        if (body[1] === 0) video = { codec: 'avc', config: data, width: w, height: h, codecString: `avc1.${data.subarray(1, 4).toString('hex')}` };
        else if (body[1] === 1) emit({ kind: 'video', dts: ts, pts: ts + body.readIntBE(2, 3), keyframe: body[0]! >> 4 === 1, data, flvTag: Buffer.alloc(0) });
      } else if (type === 8 && body[0]! >> 4 === 10) {
        const data = body.subarray(2);
        if (body[1] === 0) {
          const rate = AAC_RATES[((data[0]! & 7) << 1) | (data[1]! >> 7)]!;
          audio = { codec: 'aac', config: data, sampleRate: rate, channels: (data[1]! >> 3) & 0x0f, codecString: `mp4a.40.${data[0]! >> 3}` };
        } else emit({ kind: 'audio', dts: ts, pts: ts, keyframe: true, data, flvTag: Buffer.alloc(0) });
      }
    }
  });
  proc.on('exit', () => { if (published) hub.end(channel); });
  return src;
}
