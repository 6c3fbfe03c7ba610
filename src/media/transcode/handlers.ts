/**
 * Job handlers for recordings: transcode-720p (H.264), transcode-hevc (H.265), thumbnails
 * (poster + sprite sheet + WebVTT seek previews), extract-captions (needs a captions engine).
 * Each writes to a temporary name and renames when complete, then records the file on the VOD.
 */
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobContext, JobHandler } from '../../platform/jobs/worker.js';
import { JobSkipped, PermanentJobError } from '../../platform/jobs/worker.js';
import type { RecordingStore, RecordingsTable, Rendition } from '../record/vods.js';
import { runFfmpeg } from './run-ffmpeg.js';

/** The recipe of the design brief: libx264 preset fast, CRF 22, AAC 128k, faststart. */
export const H264_720P = { preset: 'fast', crf: 22, audioBitrate: '128k', height: 720 } as const;
export const HEVC = { preset: 'fast', crf: 28, audioBitrate: '128k' } as const;
/** Seek-preview tiles: width, columns, and the most tiles per recording (one sheet). */
export const SPRITE = { tileWidth: 160, columns: 10, maxTiles: 100, minIntervalSeconds: 2 } as const;
export const SOURCE_FILE = 'source.mp4';

/** CaptionsEngine makes a WebVTT document for a media file (provided by the captions feature). */
export type CaptionsEngine = (input: { file: string; language: string; signal: AbortSignal; onProgress(f: number): void }) => Promise<string>;

export interface RecordingJobDeps {
  store: RecordingStore;
  /** `${dataDir}/recordings`. */
  recordingsRoot: string;
  ffmpeg: string | undefined;
  /** Set when a captions engine is available. */
  captions?: () => CaptionsEngine | undefined;
  defaultCaptionsLanguage?: string;
}

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

async function recordingOf(deps: RecordingJobDeps, ctx: JobContext): Promise<{ rec: RecordingsTable; dir: string; source: string }> {
  const id = ctx.job.recordingId ?? (ctx.job.payload.recordingId as string | undefined);
  if (!id) throw new PermanentJobError('job has no recording');
  const rec = await deps.store.get(id);
  if (!rec) throw new PermanentJobError(`recording ${id} no longer exists`);
  if (rec.state !== 'ready') throw new PermanentJobError(`recording ${id} is ${rec.state}, not ready`);
  const dir = join(deps.recordingsRoot, rec.dir);
  return { rec, dir, source: join(dir, SOURCE_FILE) };
}

function needFfmpeg(deps: RecordingJobDeps): string {
  if (!deps.ffmpeg) throw new PermanentJobError('ffmpeg is not available on this node (install ffmpeg or set FFMPEG_PATH)');
  return deps.ffmpeg;
}

/** transcode runs one ffmpeg encode into `file` and adds it as a rendition. */
async function transcode(deps: RecordingJobDeps, ctx: JobContext, name: string, file: string, codecArgs: string[], size: { width: number; height: number }, videoCodec: string): Promise<Record<string, unknown>> {
  const ffmpeg = needFfmpeg(deps);
  const { rec, dir, source } = await recordingOf(deps, ctx);
  const out = join(dir, file);
  const tmp = `${out}.part.mp4`;
  try {
    await runFfmpeg({
      ffmpeg,
      args: ['-y', '-i', source, '-map', '0:v:0?', '-map', '0:a:0?', ...codecArgs, '-movflags', '+faststart', '-f', 'mp4', tmp],
      durationMs: Number(rec.duration_ms),
      signal: ctx.signal,
      onProgress: (f) => ctx.progress(f),
    });
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
  const bytes = (await stat(out)).size;
  const rendition: Rendition = { name, file, width: size.width, height: size.height, videoCodec, audioCodec: rec.audio_codec ? 'aac' : null, bytes };
  await deps.store.addRendition(rec.id, rendition);
  return { rendition };
}

function scaledTo(rec: RecordingsTable, maxHeight: number): { width: number; height: number } {
  const h = Math.min(maxHeight, Number(rec.height) || maxHeight);
  const w = Number(rec.height) > 0 ? even((Number(rec.width) * h) / Number(rec.height)) : even((h * 16) / 9);
  return { width: w, height: even(h) };
}

/** vttTime formats seconds as HH:MM:SS.mmm. */
export function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** spriteVtt builds the WebVTT thumbnails track: one cue per tile, pointing at its region of the sheet. */
export function spriteVtt(o: { sprite: string; tiles: number; intervalSeconds: number; durationSeconds: number; tileWidth: number; tileHeight: number; columns: number }): string {
  const lines = ['WEBVTT', ''];
  for (let i = 0; i < o.tiles; i++) {
    const start = i * o.intervalSeconds;
    if (start >= o.durationSeconds) break;
    const end = Math.min(o.durationSeconds, start + o.intervalSeconds);
    const x = (i % o.columns) * o.tileWidth;
    const y = Math.floor(i / o.columns) * o.tileHeight;
    lines.push(`${vttTime(start)} --> ${vttTime(end)}`, `${o.sprite}#xywh=${x},${y},${o.tileWidth},${o.tileHeight}`, '');
  }
  return lines.join('\n');
}

/** recordingJobHandlers gives the handler of every recording job type. */
export function recordingJobHandlers(deps: RecordingJobDeps): Record<string, JobHandler> {
  return {
    'transcode-720p': async (ctx) => {
      const { rec } = await recordingOf(deps, ctx);
      // A 720p H.264 copy of a source no taller than 720p would only re-encode it (often larger): skip, write nothing.
      if (Number(rec.height) > 0 && Number(rec.height) <= H264_720P.height) throw new JobSkipped(`the source is ${Number(rec.height)}p, not taller than ${H264_720P.height}p: a 720p rendition would not improve it`);
      const size = scaledTo(rec, H264_720P.height);
      return transcode(deps, ctx, '720p', '720p.mp4', [
        '-vf', `scale=${size.width}:${size.height}`, '-c:v', 'libx264', '-preset', H264_720P.preset, '-crf', String(H264_720P.crf), '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', H264_720P.audioBitrate,
      ], size, 'avc');
    },
    'transcode-hevc': async (ctx) => {
      const { rec } = await recordingOf(deps, ctx);
      if (rec.video_codec === 'hevc') throw new JobSkipped('the source is already H.265: an H.265 rendition would not improve it');
      const size = { width: Number(rec.width), height: Number(rec.height) };
      return transcode(deps, ctx, 'hevc', 'hevc.mp4', [
        '-c:v', 'libx265', '-preset', HEVC.preset, '-crf', String(HEVC.crf), '-tag:v', 'hvc1', '-x265-params', 'log-level=error',
        '-c:a', 'aac', '-b:a', HEVC.audioBitrate,
      ], size, 'hevc');
    },
    thumbnails: async (ctx) => {
      const ffmpeg = needFfmpeg(deps);
      const { rec, dir, source } = await recordingOf(deps, ctx);
      const durationSeconds = Math.max(0.001, Number(rec.duration_ms) / 1000);
      // Poster: a frame a tenth of the way in (past fades), as the VOD's still.
      const posterTmp = join(dir, 'poster.part.jpg');
      await runFfmpeg({
        ffmpeg, signal: ctx.signal,
        args: ['-y', '-ss', (durationSeconds * 0.1).toFixed(3), '-i', source, '-frames:v', '1', '-vf', `scale='min(1280,iw)':-2`, '-q:v', '3', '-f', 'image2', posterTmp],
      });
      await rename(posterTmp, join(dir, 'poster.jpg'));
      ctx.progress(0.2);
      const interval = Math.max(SPRITE.minIntervalSeconds, Math.ceil(durationSeconds / SPRITE.maxTiles));
      const tiles = Math.min(SPRITE.maxTiles, Math.max(1, Math.ceil(durationSeconds / interval)));
      const rows = Math.ceil(tiles / SPRITE.columns);
      const tileWidth = SPRITE.tileWidth;
      const tileHeight = Number(rec.width) > 0 ? even((tileWidth * Number(rec.height)) / Number(rec.width)) : even((tileWidth * 9) / 16);
      const spriteTmp = join(dir, 'sprite.part.jpg');
      await runFfmpeg({
        ffmpeg, signal: ctx.signal, durationMs: Number(rec.duration_ms), onProgress: (f) => ctx.progress(0.2 + 0.8 * f),
        args: ['-y', '-i', source, '-an', '-vf', `fps=1/${interval},scale=${tileWidth}:${tileHeight},tile=${SPRITE.columns}x${rows}`, '-frames:v', '1', '-q:v', '5', '-f', 'image2', spriteTmp],
      });
      await rename(spriteTmp, join(dir, 'sprite.jpg'));
      await writeFile(join(dir, 'thumbnails.vtt'), spriteVtt({ sprite: 'sprite.jpg', tiles, intervalSeconds: interval, durationSeconds, tileWidth, tileHeight, columns: SPRITE.columns }));
      await deps.store.update(rec.id, { poster: 'poster.jpg', thumbnails: 'thumbnails.vtt' });
      return { poster: 'poster.jpg', sprite: 'sprite.jpg', thumbnails: 'thumbnails.vtt', tiles, intervalSeconds: interval };
    },
    'extract-captions': async (ctx) => {
      const engine = deps.captions?.();
      if (!engine) throw new PermanentJobError('captions engine not available');
      const { rec, dir, source } = await recordingOf(deps, ctx);
      const language = (ctx.job.payload.language as string | undefined) ?? deps.defaultCaptionsLanguage ?? 'en';
      const vtt = await engine({ file: source, language, signal: ctx.signal, onProgress: (f) => ctx.progress(f) });
      const file = `captions-${language.replace(/[^A-Za-z0-9-]/g, '')}.vtt`;
      await writeFile(join(dir, file), vtt);
      await deps.store.addCaptions(rec.id, { language, file });
      return { captions: file, language };
    },
  };
}
