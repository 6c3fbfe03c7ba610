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
import type { Recogniser, RecogniseRequest, RecognisedSegment } from '../types.js';

export interface WhisperOptions {
  modelPath: string;
  /** whisper.cpp threads; default: the cores available, at most MAX_DEFAULT_THREADS. */
  threads?: number;
  /** Extra whisper_full parameters (smart-whisper names), e.g. {max_tokens: 32}. */
  params?: Record<string, unknown>;
  /** How long model loading may take before open() gives up. */
  loadTimeoutMs?: number;
}

/** More threads than this rarely helps whisper.cpp on CPU (memory bound). */
const MAX_DEFAULT_THREADS = 4;

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
    validateModelFile(opts.modelPath);
    const threads = opts.threads ?? Math.min(MAX_DEFAULT_THREADS, Math.max(1, availableParallelism()));
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
      return r;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  recognise(req: RecogniseRequest): Promise<RecognisedSegment[]> {
    if (this.closed) return Promise.reject(new Error('whisper: recogniser is closed'));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // The window is a fresh copy; hand its memory to the worker instead of copying again.
      this.worker.postMessage({ type: 'recognise', id, pcm: req.pcm, language: req.language }, [req.pcm.buffer as ArrayBuffer]);
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
