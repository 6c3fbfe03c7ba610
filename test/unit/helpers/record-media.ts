/** Test helpers for recording tests: an ffmpeg-made FLV replayed as hub frames, and ffprobe. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFlv, type FlvContent } from '../../../testkit/hls-frames.js';
import { describeAvcConfig } from '../../../src/formats/avc.js';

/** makeFlv encodes `seconds` of test pattern + tone (H.264 with B-frames, AAC) into an FLV. */
export function makeFlv(dir: string, seconds: number, size = '640x360', name = 'in.flv'): string {
  const out = join(dir, name);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', out,
  ], { timeout: 60_000 });
  return out;
}

/** loadFlv reads an FLV into tracks and frames with the video size filled in from the SPS. */
export function loadFlv(path: string): FlvContent {
  const c = readFlv(readFileSync(path));
  if (c.video) {
    const d = describeAvcConfig(c.video.config);
    c.video = { ...c.video, width: d.width, height: d.height, codecString: d.codecString };
  }
  return c;
}

export interface Probe {
  duration: number;
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; duration?: string }[];
}

export function ffprobe(path: string): Probe {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name,width,height,duration', '-of', 'json', path], { encoding: 'utf8', timeout: 30_000 });
  const j = JSON.parse(out) as { format: { duration: string }; streams: Probe['streams'] };
  return { duration: Number(j.format.duration), streams: j.streams };
}

/** decodeErrors decodes the whole file and returns ffmpeg's error output (empty when clean). */
export function decodeErrors(path: string): string {
  try {
    return execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-i', path, '-f', 'null', '-'], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
}

/** topLevelBoxes lists the top-level box types of an MP4 file in order. */
export function topLevelBoxes(path: string): string[] {
  const buf = readFileSync(path);
  const out: string[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    out.push(buf.toString('latin1', off + 4, off + 8));
    if (size === 1) size = Number(buf.readBigUInt64BE(off + 8));
    if (size === 0) break;
    off += size;
  }
  return out;
}
