/**
 * Captions for a media file (extract-captions jobs): ffmpeg decodes the file's audio to
 * 16 kHz mono PCM, the configured server engine recognises it (pocketsphinx streaming, or
 * whisper through the sliding-window loop, fed one step at a time so nothing is dropped),
 * and the final cues become one WebVTT document on the file's timeline.
 */
import { spawn } from 'node:child_process';
import { killNow } from '../media/child-process.js';
import { S16leSamples } from './audio-tap.js';
import { assertEngineLanguage, type ServerEngine } from './service.js';
import { CaptionTrack } from './track.js';
import { PCM_SAMPLES_PER_MS, PCM_SAMPLE_RATE, isStreamingRecogniser, type AnyRecogniser, type CaptionCue, type PcmTranscriber, type TranscriberSink } from './types.js';
import { SlidingWindowTranscriber } from './windowing.js';

/** Bytes of ffmpeg stderr kept for error messages. */
const STDERR_KEEP = 4096;
/** Cues kept for one file (a long recording): far above what hours of speech produce. */
const MAX_FILE_CUES = 100_000;

export interface TranscribeFileOptions {
  ffmpegPath: string;
  file: string;
  language: string;
  engine: ServerEngine;
  /** Makes the recogniser; streaming ones must not drop audio (file mode). */
  createRecogniser(engine: ServerEngine, language: string): Promise<AnyRecogniser>;
  /** Whisper window step and length (ms). */
  stepMs: number;
  lengthMs: number;
  signal?: AbortSignal;
  onProgress?(fraction: number): void;
}

export interface TranscribeFileResult {
  vtt: string;
  cues: CaptionCue[];
  audioMs: number;
  /** Audio the recogniser never saw (always 0 unless the engine misbehaves). */
  droppedMs: number;
}

/** ffmpegFilePcmArgs decodes a file's first audio stream to s16le 16 kHz mono on stdout. */
export function ffmpegFilePcmArgs(file: string): string[] {
  return ['-hide_banner', '-nostdin', '-i', file, '-map', '0:a:0', '-vn', '-ac', '1', '-ar', String(PCM_SAMPLE_RATE), '-f', 's16le', 'pipe:1'];
}

/** parseFfmpegDuration finds `Duration: HH:MM:SS.cc` in ffmpeg's stderr, in ms. */
export function parseFfmpegDuration(stderr: string): number | undefined {
  const m = /Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(stderr);
  return m ? (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 : undefined;
}

/** transcribeFile recognises a file's speech and returns its WebVTT captions. */
export async function transcribeFile(o: TranscribeFileOptions): Promise<TranscribeFileResult> {
  assertEngineLanguage(o.engine, o.language);
  o.signal?.throwIfAborted();
  const recogniser = await o.createRecogniser(o.engine, o.language);
  const track = new CaptionTrack(o.language, MAX_FILE_CUES);
  let failure: Error | undefined;
  let droppedMs = 0;
  const sink: TranscriberSink = {
    onCue: (cue) => { if (cue.type === 'final') track.add(cue); },
    onError: (err) => { failure ??= err instanceof Error ? err : new Error(String(err)); },
    onDropped: (ms) => { droppedMs += ms; },
  };
  let transcriber: PcmTranscriber;
  try {
    transcriber = isStreamingRecogniser(recogniser)
      ? recogniser.open({ language: o.language, idPrefix: 'v' }, sink)
      : new SlidingWindowTranscriber(recogniser, { stepMs: o.stepMs, lengthMs: o.lengthMs, language: o.language, idPrefix: 'v' }, sink);
  } catch (err) {
    await recogniser.close().catch(() => {});
    throw err;
  }
  const ffmpeg = spawn(o.ffmpegPath, ffmpegFilePcmArgs(o.file), { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => killNow(ffmpeg);
  const onAbort = () => { kill(); transcriber.close(); };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let stderr = '';
  let durationMs: number | undefined;
  ffmpeg.stderr.on('data', (d: Buffer) => {
    if (stderr.length < STDERR_KEEP) stderr += d.toString();
    durationMs ??= parseFfmpegDuration(stderr);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    ffmpeg.once('close', (code) => resolve(code));
    ffmpeg.once('error', reject);
  });

  let samples = 0;
  let lastProgress = -1;
  const step = o.stepMs * PCM_SAMPLES_PER_MS;
  const bytes = new S16leSamples();
  try {
    for await (const chunk of ffmpeg.stdout as AsyncIterable<Buffer>) {
      if (o.signal?.aborted || failure) break;
      const pcm = bytes.take(chunk);
      // At most one step at a time, each taken in before the next: whisper recognises every
      // window, pocketsphinx's input is waited for rather than audio dropped.
      for (let i = 0; i < pcm.length; i += step) {
        const part = pcm.subarray(i, Math.min(pcm.length, i + step));
        transcriber.push(part, samples / PCM_SAMPLES_PER_MS);
        samples += part.length;
        await transcriber.ready();
      }
      if (durationMs) {
        const f = Math.min(0.99, samples / PCM_SAMPLES_PER_MS / durationMs);
        if (f - lastProgress >= 0.01) {
          lastProgress = f;
          o.onProgress?.(f);
        }
      }
    }
    const code = await exited;
    o.signal?.throwIfAborted();
    if (failure) throw failure;
    if (code !== 0) throw new Error(`ffmpeg could not decode ${o.file} (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}`);
    await transcriber.flush();
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- failure holds the Error a transcriber callback reported
    if (failure) throw failure;
    o.onProgress?.(1);
  } catch (err) {
    kill();
    transcriber.close();
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await recogniser.close().catch(() => {});
  }
  return { vtt: track.toVtt(), cues: [...track.cues], audioMs: samples / PCM_SAMPLES_PER_MS, droppedMs };
}
