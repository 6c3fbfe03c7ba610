/**
 * One JPEG from one keyframe: the keyframe (with its parameter sets from avcC/hvcC) becomes
 * an Annex-B elementary stream fed to a short-lived ffmpeg that decodes a single frame.
 * No decoder runs between snapshots.
 */
import { spawn } from 'node:child_process';
import { parseAvcDecoderConfig, splitLengthPrefixed } from '../../formats/avc.js';
import { parseHevcDecoderConfig } from '../../formats/hevc.js';
import type { VideoTrackInfo } from '../hub/types.js';

const START_CODE = Buffer.from([0, 0, 0, 1]);
/** Longest a snapshot may take before ffmpeg is killed. */
export const SNAPSHOT_TIMEOUT_MS = 10_000;
/** JPEG quality for ffmpeg's mjpeg encoder (2 best .. 31 worst). */
const JPEG_QSCALE = 4;
const MAX_STDERR_CHARS = 2000;

/** annexBKeyframe turns a length-prefixed keyframe into Annex-B with the parameter sets in front. */
export function annexBKeyframe(video: VideoTrackInfo, sample: Buffer): Buffer {
  const parts: Buffer[] = [];
  let lengthSize: number;
  if (video.codec === 'avc') {
    const cfg = parseAvcDecoderConfig(video.config);
    for (const n of [...cfg.sps, ...cfg.pps]) parts.push(START_CODE, n);
    lengthSize = cfg.nalLengthSize;
  } else if (video.codec === 'hevc') {
    const cfg = parseHevcDecoderConfig(video.config);
    for (const a of cfg.arrays) for (const n of a.nalus) parts.push(START_CODE, n);
    lengthSize = cfg.nalLengthSize;
  } else throw new Error(`snapshots support avc and hevc, not ${video.codec}`);
  for (const n of splitLengthPrefixed(sample, lengthSize)) parts.push(START_CODE, n);
  return Buffer.concat(parts);
}

export interface SnapshotOptions {
  ffmpeg: string;
  /** Output width cap (height follows the aspect ratio). */
  maxWidth?: number;
  timeoutMs?: number;
}

/** snapshotJpeg decodes one keyframe with ffmpeg and returns the JPEG bytes. */
export async function snapshotJpeg(video: VideoTrackInfo, keyframe: Buffer, o: SnapshotOptions): Promise<Buffer> {
  const input = annexBKeyframe(video, keyframe);
  const maxWidth = o.maxWidth ?? 1280;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', video.codec === 'avc' ? 'h264' : 'hevc', '-i', 'pipe:0',
    '-frames:v', '1', '-vf', `scale='min(${maxWidth},iw)':-2`,
    '-q:v', String(JPEG_QSCALE), '-f', 'image2pipe', '-c:v', 'mjpeg', 'pipe:1',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(o.ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? SNAPSHOT_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-MAX_STDERR_CHARS); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const jpeg = Buffer.concat(out);
      if (code === 0 && jpeg.length > 0) resolve(jpeg);
      else reject(new Error(`ffmpeg snapshot failed (${signal ?? `exit ${code}`}): ${err.trim() || 'no output'}`));
    });
    child.stdin.on('error', () => undefined); // ffmpeg may exit before reading everything
    child.stdin.end(input);
  });
}

/** jpegSize reads width and height from a JPEG's SOF marker. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } | undefined {
  let o = 2;
  while (o + 9 < jpeg.length) {
    if (jpeg[o] !== 0xff) return undefined;
    const marker = jpeg.readUInt8(o + 1);
    const len = jpeg.readUInt16BE(o + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: jpeg.readUInt16BE(o + 5), width: jpeg.readUInt16BE(o + 7) };
    }
    o += 2 + len;
  }
  return undefined;
}
