/**
 * Cutting clips. A live clip is cut from the fragmented MP4 the recorder is writing: only
 * complete fragments are read (a fragment being written is ignored; LiveFileIndex reads only
 * what was appended since the last clip), the runs of the last N
 * seconds are selected from the video keyframe at or before the asked start, rebased to 0 and
 * written as a faststart MP4 by the same planner that finalises recordings (no re-encode, no
 * process). A VOD clip is cut from a finished (progressive) MP4 with ffmpeg `-c copy`, starting
 * exactly at a keyframe found with ffprobe; its real length is read from its mvhd.
 */
import { spawn } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { planProgressiveMp4, readBoxHeader, type FragmentRun, type InitTrack } from '../../formats/mp4-progressive.js';
import { writePlan } from '../record/finalize.js';
import { LiveFileIndex } from './live-index.js';
import { runFfmpeg } from '../transcode/run-ffmpeg.js';

/** sample_flags bit sample_is_non_sync_sample (ISO/IEC 14496-12 8.8.3.1). */
export const SAMPLE_FLAG_NON_SYNC = 0x00010000;
/** How far before the asked start ffprobe looks for a keyframe in a VOD (longer GOPs start the clip at the window's first keyframe). */
export const KEYFRAME_LOOKBACK_SECONDS = 20;
/** A timestamp this close past a keyframe still counts as at the keyframe (float rounding). */
const KEYFRAME_EPSILON_SECONDS = 0.0005;

/** ClipWindow is what to keep, in seconds of the source's media timeline; `end` undefined = to the end. */
export interface ClipWindow {
  start: number;
  end?: number;
}

/** ClipSelection is the rebased runs of a clip and where it really starts and ends in the source. */
export interface ClipSelection {
  runs: FragmentRun[];
  /** Source time of the clip's first sample (the keyframe at or before the asked start), seconds. */
  startSeconds: number;
  /** Source time where the clip's last sample ends, seconds. */
  endSeconds: number;
}

interface FlatSample {
  run: number;
  index: number;
  dts: number;
}

/** mediaEndSeconds is where the given runs' media ends (the latest track end), seconds. */
export function mediaEndSeconds(tracks: InitTrack[], runs: FragmentRun[]): number {
  let end = 0;
  for (const r of runs) {
    const t = tracks.find((x) => x.trackId === r.trackId);
    if (!t) continue;
    let dts = r.baseMediaDecodeTime;
    for (const s of r.samples) dts += s.duration;
    end = Math.max(end, dts / t.timescale);
  }
  return end;
}

/**
 * selectClipRuns keeps the samples of `window`: video from the keyframe at or before
 * `window.start` (or the first keyframe when none is before it), every track from that
 * time, up to `window.end` by decode time. The kept runs are split where samples were left
 * out and rebased so the clip starts at 0. Undefined when nothing falls in the window.
 */
export function selectClipRuns(tracks: InitTrack[], runs: FragmentRun[], window: ClipWindow): ClipSelection | undefined {
  const byId = new Map(tracks.map((t) => [t.trackId, t]));
  const video = tracks.find((t) => t.handler === 'vide');
  let origin = Math.max(0, window.start);
  if (video) {
    const keyframes: FlatSample[] = [];
    runs.forEach((r, ri) => {
      if (r.trackId !== video.trackId) return;
      let dts = r.baseMediaDecodeTime;
      r.samples.forEach((s, i) => {
        if ((s.flags & SAMPLE_FLAG_NON_SYNC) === 0) keyframes.push({ run: ri, index: i, dts });
        dts += s.duration;
      });
    });
    const [firstKey] = keyframes;
    if (firstKey === undefined) return undefined;
    const startTicks = (origin + KEYFRAME_EPSILON_SECONDS) * video.timescale;
    let pick = firstKey;
    for (const k of keyframes) if (k.dts <= startTicks) pick = k;
    origin = pick.dts / video.timescale;
  }
  const endLimit = window.end ?? Infinity;
  if (origin >= endLimit) return undefined;
  const out: FragmentRun[] = [];
  let endSeconds = origin;
  for (const r of runs) {
    const t = byId.get(r.trackId);
    if (!t) continue;
    const from = Math.round(origin * t.timescale);
    const to = endLimit === Infinity ? Infinity : endLimit * t.timescale;
    let dts = r.baseMediaDecodeTime;
    let offset = r.dataOffset;
    let current: FragmentRun | undefined;
    for (const s of r.samples) {
      if (dts >= from && dts < to) {
        if (!current) {
          current = { trackId: r.trackId, baseMediaDecodeTime: dts - from, dataOffset: offset, samples: [] };
          out.push(current);
        }
        current.samples.push(s);
        endSeconds = Math.max(endSeconds, (dts + s.duration) / t.timescale);
      } else current = undefined;
      dts += s.duration;
      offset += s.size;
    }
  }
  if (video && !out.some((r) => r.trackId === video.trackId)) return undefined;
  if (out.length === 0) return undefined;
  return { runs: out, startSeconds: origin, endSeconds };
}

/** CutResult describes a written clip file. */
export interface CutResult {
  startSeconds: number;
  durationSeconds: number;
  bytes: number;
}

/**
 * cutLiveTail writes the last `seconds` of a fragmented MP4 being written (a path, or an
 * index that follows it) to `out` as a faststart MP4. Throws when no complete fragment is on disk yet.
 */
export async function cutLiveTail(source: string | LiveFileIndex, out: string, seconds: number): Promise<CutResult> {
  const index = typeof source === 'string' ? new LiveFileIndex(source, seconds + KEYFRAME_LOOKBACK_SECONDS) : source;
  await index.refresh();
  const runs = index.runs;
  if (!index.hasInit || runs.length === 0) throw new Error('the recording has no complete fragment yet');
  const tracks = index.tracks;
  const end = mediaEndSeconds(tracks, runs);
  const sel = selectClipRuns(tracks, runs, { start: Math.max(0, end - seconds) });
  if (!sel) throw new Error('the recording has no keyframe in the asked range yet');
  const plan = planProgressiveMp4(tracks, sel.runs);
  await writePlan(index.path, out, plan);
  return { startSeconds: sel.startSeconds, durationSeconds: plan.durationSeconds, bytes: (await stat(out)).size };
}

/** run spawns a tool and collects its output (bounded by a timeout). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-2000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { stderr += err.message; });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** PROBE_TIMEOUT_MS bounds each ffprobe run. */
const PROBE_TIMEOUT_MS = 20_000;

/** ffprobeOf is the ffprobe beside an ffmpeg binary (same directory), or `ffprobe` on PATH. */
export function ffprobeOf(ffmpeg: string): string {
  return ffmpeg.includes('/') ? ffmpeg.replace(/ffmpeg([^/]*)$/, 'ffprobe$1') : 'ffprobe';
}

/** keyframeAtOrBefore finds the video keyframe time at or before `seconds` in a media file (seconds). */
export async function keyframeAtOrBefore(ffprobe: string, file: string, seconds: number): Promise<number> {
  const from = Math.max(0, seconds - KEYFRAME_LOOKBACK_SECONDS);
  const r = await run(ffprobe, [
    '-v', 'error', '-select_streams', 'v:0', '-read_intervals', `${from.toFixed(3)}%${(seconds + 1).toFixed(3)}`,
    '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file,
  ], PROBE_TIMEOUT_MS);
  if (r.code !== 0) throw new Error(`ffprobe failed: ${r.stderr.trim()}`);
  let best: number | undefined;
  let first: number | undefined;
  for (const line of r.stdout.split('\n')) {
    const [pts, flags] = line.trim().split(',');
    if (!pts || !flags?.includes('K')) continue;
    const t = Number(pts);
    if (!Number.isFinite(t)) continue;
    first ??= t;
    if (t <= seconds + KEYFRAME_EPSILON_SECONDS && (best === undefined || t > best)) best = t;
  }
  return best ?? first ?? seconds;
}

/** Bytes read at each top-level box while looking for moov (a 64-bit size needs 16). */
const BOX_PEEK_BYTES = 16;
/** moov header + mvhd header + version/flags + the v1 fields up to duration. */
const MVHD_PEEK_BYTES = 64;

/** mp4DurationSeconds reads a (faststart or not) MP4's duration from moov/mvhd without a process. */
export async function mp4DurationSeconds(file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const peek = Buffer.alloc(MVHD_PEEK_BYTES);
    let off = 0;
    while (off + 8 <= size) {
      const { bytesRead } = await fh.read(peek, 0, BOX_PEEK_BYTES, off);
      const h = readBoxHeader(peek.subarray(0, bytesRead), 0, size - off);
      if (!h) break;
      if (h.type === 'moov') {
        await fh.read(peek, 0, MVHD_PEEK_BYTES, off + h.headerSize);
        const mvhd = readBoxHeader(peek, 0, h.size - h.headerSize);
        if (!mvhd || mvhd.type !== 'mvhd') break;
        // mvhd v0: creation(4) modification(4) timescale(4) duration(4); v1: 8, 8, 4, 8.
        const v1 = peek[mvhd.headerSize] === 1;
        const p = mvhd.headerSize + 4;
        const timescale = v1 ? peek.readUInt32BE(p + 16) : peek.readUInt32BE(p + 8);
        const duration = v1 ? Number(peek.readBigUInt64BE(p + 20)) : peek.readUInt32BE(p + 12);
        if (timescale > 0) return duration / timescale;
        break;
      }
      off += h.size;
    }
    throw new Error(`${file}: no moov/mvhd`);
  } finally {
    await fh.close();
  }
}

/**
 * cutVodRange writes [start, start+duration) of a finished MP4 to `out` with `-c copy`: the
 * clip starts at the keyframe at or before `start` and ends at the asked end.
 */
export async function cutVodRange(o: { ffmpeg: string; source: string; out: string; start: number; duration: number; signal?: AbortSignal }): Promise<CutResult> {
  const ffprobe = ffprobeOf(o.ffmpeg);
  const key = await keyframeAtOrBefore(ffprobe, o.source, o.start);
  const length = o.start + o.duration - key;
  await runFfmpeg({
    ffmpeg: o.ffmpeg, signal: o.signal,
    args: ['-y', '-ss', key.toFixed(3), '-i', o.source, '-t', length.toFixed(3), '-map', '0:v:0?', '-map', '0:a:0?', '-c', 'copy',
      '-avoid_negative_ts', 'make_zero', '-movflags', '+faststart', '-f', 'mp4', o.out],
  });
  const durationSeconds = await mp4DurationSeconds(o.out);
  return { startSeconds: key, durationSeconds, bytes: (await stat(o.out)).size };
}

/** posterOf writes a JPEG still of a clip (its first second, or its middle when shorter). */
export async function posterOf(o: { ffmpeg: string; clip: string; out: string; durationSeconds: number; signal?: AbortSignal }): Promise<void> {
  const at = Math.min(1, o.durationSeconds / 2);
  await runFfmpeg({
    ffmpeg: o.ffmpeg, signal: o.signal,
    args: ['-y', '-ss', at.toFixed(3), '-i', o.clip, '-frames:v', '1', '-vf', `scale='min(640,iw)':-2`, '-q:v', '4', '-f', 'image2', o.out],
  });
}
