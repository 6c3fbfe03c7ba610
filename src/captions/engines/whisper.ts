/**
 * WhisperRecogniser runs whisper.cpp (through the smart-whisper binding, built from source
 * with node-gyp) in a worker thread. One worker per channel session; requests are
 * answered in order.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { validateModelFile } from '../models.js';
import { PCM_SAMPLES_PER_MS, type Recogniser, type RecogniseRequest, type RecognisedSegment } from '../types.js';

/** AudioCtxSetting: 'auto' sizes whisper.cpp's encoder context to each window; 0 = the model's full 30 s; N = N positions. */
export type AudioCtxSetting = 'auto' | number;

export interface WhisperOptions {
  modelPath: string;
  /** whisper.cpp threads; default defaultWhisperThreads(). */
  threads?: number;
  /** Extra whisper_full parameters (smart-whisper names), e.g. {max_tokens: 32}. */
  params?: Record<string, unknown>;
  /** How long model loading may take before open() gives up. */
  loadTimeoutMs?: number;
  /** Encoder context per window (captions.whisper.audioCtx); default 'auto'. */
  audioCtx?: AudioCtxSetting;
  /** Bound on decoded tokens per second of window audio (captions.whisper.maxTokensPerSecond); 0 = whisper.cpp's own limit. */
  maxTokensPerSecond?: number;
}

/** whisper.cpp's encoder has 50 positions per second of audio (1500 for its 30 s context). */
export const AUDIO_CTX_PER_SECOND = 50;
/** 'auto' rounds the context up to a multiple of this (whisper.cpp pads attention to 256 anyway; 64 keeps steps small). */
export const AUDIO_CTX_ROUND = 64;
/** Positions added past the window's end so its last word is not at the very edge of the context (1.28 s). */
export const AUDIO_CTX_MARGIN = 64;
/** Smallest context 'auto' gives (2.56 s of audio). */
export const AUDIO_CTX_MIN = 128;
/** Every released whisper model has a 1500-position (30 s) encoder context. */
export const AUDIO_CTX_FULL = 1500;
/** Default captions.whisper.maxTokensPerSecond: about twice fast Korean speech (~7 syllables/s) plus timestamp tokens. */
export const DEFAULT_MAX_TOKENS_PER_SECOND = 20;
/** The token bound never goes below this, whatever the window's length. */
export const MIN_MAX_TOKENS = 32;

/**
 * audioCtxFor is the encoder context (positions) for a window of windowMs: 'auto' covers
 * the window plus a margin, rounded up, at least AUDIO_CTX_MIN, at most the model's
 * context; 0 leaves whisper.cpp at its full 30 s; a number is used as is (capped).
 * Returns 0 when the full context would be used anyway.
 */
export function audioCtxFor(windowMs: number, setting: AudioCtxSetting, modelCtx = AUDIO_CTX_FULL): number {
  if (setting === 0) return 0;
  const want = setting === 'auto'
    ? Math.max(AUDIO_CTX_MIN, Math.ceil((Math.ceil((windowMs * AUDIO_CTX_PER_SECOND) / 1000) + AUDIO_CTX_MARGIN) / AUDIO_CTX_ROUND) * AUDIO_CTX_ROUND)
    : Math.round(setting);
  return want >= modelCtx ? 0 : want;
}

/** maxTokensFor bounds the tokens decoded for a window (0 = no bound of ours). */
export function maxTokensFor(windowMs: number, perSecond: number): number {
  if (perSecond <= 0) return 0;
  return Math.max(MIN_MAX_TOKENS, Math.ceil((windowMs / 1000) * perSecond));
}

/** More threads than this rarely helps whisper.cpp on CPU (memory bound). */
const MAX_DEFAULT_THREADS = 4;

/**
 * defaultWhisperThreads leaves one core to the rest of the server (event loop, audio tap,
 * HLS): ggml's threads spin-wait for each other, and on a busy 2-core machine two threads
 * took about twice the wall and CPU time of one (docs/captions.md, Measurements).
 */
export function defaultWhisperThreads(cores = availableParallelism()): number {
  return Math.min(MAX_DEFAULT_THREADS, Math.max(1, cores - 1));
}

type Pending = { resolve(s: RecognisedSegment[]): void; reject(e: Error): void };

/**
 * startWorker runs the worker script next to this module: the built .js, or under tsx
 * (tests, dev) the .ts source through tsx's loader registered inside the worker.
 */
function startWorker(workerData: unknown): Worker {
  const js = new URL('./whisper-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData });
  const ts = new URL('./whisper-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

export class WhisperRecogniser implements Recogniser {
  readonly name = 'whisper';
  loadMs = 0;
  /** Time spent in whisper.cpp for the last window, ms. */
  lastInferMs = 0;
  /** whisper_full parameters of the last window (audio_ctx, max_tokens), for tests and logs. */
  lastWindowParams: { audio_ctx: number; max_tokens: number } = { audio_ctx: 0, max_tokens: 0 };
  /** whisper.cpp threads of this worker. */
  threads = 0;
  private audioCtx: AudioCtxSetting = 'auto';
  private maxTokensPerSecond = DEFAULT_MAX_TOKENS_PER_SECOND;
  private modelCtx = AUDIO_CTX_FULL;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private exited: Promise<void>;

  private constructor(private readonly worker: Worker) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: { type: string; id?: number; segments?: RecognisedSegment[]; inferMs?: number; message?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'result') {
        this.lastInferMs = m.inferMs ?? 0;
        p.resolve(m.segments ?? []);
      } else p.reject(new Error(`whisper: ${m.message}`));
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => failAll(err));
    worker.on('exit', (code) => {
      this.closed = true;
      failAll(new Error(`whisper worker exited (code ${code})`));
    });
  }

  /** open starts the worker and resolves once the model is loaded (rejects with the loader's error). */
  static async open(opts: WhisperOptions): Promise<WhisperRecogniser> {
    // The binding crashes the whole process on some malformed files: check the structure first.
    const hparams = validateModelFile(opts.modelPath);
    const threads = opts.threads ?? defaultWhisperThreads();
    const worker = startWorker({ modelPath: opts.modelPath, threads, params: opts.params });
    try {
      const loadMs = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('whisper: model load timed out')), opts.loadTimeoutMs ?? 120_000);
        worker.once('message', (m: { type: string; loadMs?: number; message?: string }) => {
          clearTimeout(timer);
          if (m.type === 'ready') resolve(m.loadMs ?? 0);
          else reject(new Error(m.message ?? 'whisper worker failed'));
        });
        worker.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        worker.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`whisper worker exited during load (code ${code})`));
        });
      });
      const r = new WhisperRecogniser(worker);
      r.loadMs = loadMs;
      r.audioCtx = opts.audioCtx ?? 'auto';
      r.maxTokensPerSecond = opts.maxTokensPerSecond ?? DEFAULT_MAX_TOKENS_PER_SECOND;
      r.modelCtx = hparams.nAudioCtx;
      r.threads = threads;
      return r;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  recognise(req: RecogniseRequest): Promise<RecognisedSegment[]> {
    if (this.closed) return Promise.reject(new Error('whisper: recogniser is closed'));
    const id = ++this.seq;
    const windowMs = req.pcm.length / PCM_SAMPLES_PER_MS;
    // Per window: the encoder covers only this window's audio (its cost is proportional to
    // the context), and a model emitting garbage stops after a length-bounded token count.
    const params = { audio_ctx: audioCtxFor(windowMs, this.audioCtx, this.modelCtx), max_tokens: maxTokensFor(windowMs, this.maxTokensPerSecond) };
    this.lastWindowParams = params;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // The window is a fresh copy; hand its memory to the worker instead of copying again.
      this.worker.postMessage({ type: 'recognise', id, pcm: req.pcm, language: req.language, params }, [req.pcm.buffer as ArrayBuffer]);
    });
  }

  /** threadId identifies the worker thread (tests check inference is off the main thread). */
  get threadId(): number {
    return this.worker.threadId;
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.worker.postMessage({ type: 'close' });
      const t = setTimeout(() => void this.worker.terminate(), 5000);
      await this.exited;
      clearTimeout(t);
    }
    await this.exited;
  }
}
