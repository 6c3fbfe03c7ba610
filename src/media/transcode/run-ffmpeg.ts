/**
 * runFfmpeg runs one ffmpeg command for a job: progress from `-progress pipe:1`, the tail
 * of stderr kept for the error message, and cancellation by AbortSignal (SIGTERM, then
 * SIGKILL after a grace period).
 */
import { spawn } from 'node:child_process';
import { ProgressParser, progressFraction } from './progress.js';
import { stopChild } from '../child-process.js';

/** Grace between SIGTERM and SIGKILL on cancellation. */
export const KILL_GRACE_MS = 3000;
/** Stderr kept for error messages. */
const STDERR_TAIL_CHARS = 4000;

export class FfmpegError extends Error {
  constructor(message: string, readonly stderr: string, readonly exitCode: number | null, readonly signal: string | null) {
    super(message);
    this.name = 'FfmpegError';
  }
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export interface RunFfmpegOptions {
  ffmpeg: string;
  args: string[];
  /** Input duration, for progress as a fraction. */
  durationMs?: number;
  signal?: AbortSignal;
  /** Called with a non-decreasing fraction 0..1. */
  onProgress?(fraction: number): void;
  /** Called with the pid once spawned (tests). */
  onSpawn?(pid: number): void;
  killGraceMs?: number;
}

/** runFfmpeg resolves when ffmpeg exits 0; rejects with FfmpegError (stderr tail) or CancelledError. */
export function runFfmpeg(o: RunFfmpegOptions): Promise<void> {
  if (o.signal?.aborted) return Promise.reject(new CancelledError());
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1', '-nostats', ...o.args];
  return new Promise((resolve, reject) => {
    const child = spawn(o.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) o.onSpawn?.(child.pid);
    let stderr = '';
    let last = 0;
    let cancelled = false;
    const parser = new ProgressParser((p) => {
      const f = progressFraction(p, o.durationMs ?? 0);
      if (f === undefined || f < last) return;
      last = f;
      o.onProgress?.(f);
    });
    child.stdout.on('data', (d: Buffer) => parser.push(d));
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-STDERR_TAIL_CHARS); });
    const onAbort = () => {
      cancelled = true;
      void stopChild(child, { graceMs: o.killGraceMs ?? KILL_GRACE_MS });
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      o.signal?.removeEventListener('abort', onAbort);
      reject(new FfmpegError(`ffmpeg could not start: ${err.message}`, '', null, null));
    });
    child.on('close', (code, signal) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (cancelled) reject(new CancelledError());
      else if (code === 0) resolve();
      else reject(new FfmpegError(`ffmpeg failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no error output'}`, stderr, code, signal));
    });
  });
}
