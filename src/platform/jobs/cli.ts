/** `onair jobs list|watch|retry|cancel`: the job queue from the command line (straight on the database). */
import type { OnairConfig } from '../../config/index.js';
import type { Db } from '../db/connect.js';
import { JobQueue, type Job } from './queue.js';
import { JOB_STATES, type JobState } from './schema.js';

export const JOBS_USAGE = 'usage: onair jobs list [STATE] | watch [ID] | retry ID | cancel ID';
const BAR_WIDTH = 30;
const WATCH_INTERVAL_MS = 500;

/** progressBar draws `[#####.....]  50.0%` for a fraction 0..1. */
export function progressBar(fraction: number, width = BAR_WIDTH): string {
  const f = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(f * 100).toFixed(1).padStart(5)}%`;
}

/** jobLine is one job as a terminal line. */
export function jobLine(j: Job): string {
  const err = j.error && j.state !== 'done' ? `  ${j.error.split('\n').filter(Boolean).pop()?.slice(0, 100) ?? ''}` : '';
  return `${j.id.slice(0, 8)}  ${j.type.padEnd(16)} ${j.state.padEnd(9)} ${progressBar(j.progress)}  try ${j.attempts}/${j.maxAttempts}${err}`;
}

export class JobsUsageError extends Error {}

export interface JobsCliIo {
  out(line: string): void;
  /** Raw terminal writes for redrawing (watch). */
  write(s: string): void;
  isTTY: boolean;
  sleep?(ms: number): Promise<void>;
}

/** findJob accepts a full id or a unique prefix of at least 6 characters (as `list` prints 8). */
async function findJob(queue: JobQueue, idOrPrefix: string | undefined): Promise<Job> {
  if (!idOrPrefix) throw new JobsUsageError(JOBS_USAGE);
  const exact = await queue.get(idOrPrefix);
  if (exact) return exact;
  if (idOrPrefix.length >= 6) {
    const matches = (await queue.list({ limit: 10_000 })).filter((j) => j.id.startsWith(idOrPrefix));
    const [only, ...more] = matches;
    if (only && more.length === 0) return only;
    if (more.length > 0) throw new JobsUsageError(`job id prefix "${idOrPrefix}" is ambiguous`);
  }
  throw new JobsUsageError(`no job "${idOrPrefix}"`);
}

/** runJobsCommand runs one `onair jobs` subcommand. */
export async function runJobsCommand(cfg: OnairConfig, db: Db, sub: string | undefined, args: string[], io: JobsCliIo): Promise<void> {
  const queue = new JobQueue(db, { maxAttempts: cfg.jobs.maxAttempts, backoff: { baseMs: cfg.jobs.backoffBaseSeconds * 1000, maxMs: cfg.jobs.backoffMaxSeconds * 1000 }, leaseMs: cfg.jobs.leaseSeconds * 1000 });
  const sleep = io.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  switch (sub) {
    case 'list': {
      const state = args[0] as JobState | undefined;
      if (state && !JOB_STATES.includes(state)) throw new JobsUsageError(`state must be one of ${JOB_STATES.join(', ')}`);
      const jobs = await queue.list({ state, limit: 200 });
      if (jobs.length === 0) io.out('no jobs');
      for (const j of jobs) io.out(jobLine(j));
      return;
    }
    case 'watch': {
      const one = args[0] ? await findJob(queue, args[0]) : undefined;
      let drawn = 0;
      let lastText = '';
      for (;;) {
        const jobs = one ? [(await queue.get(one.id))!].filter(Boolean) : [...(await queue.list({ state: 'running', limit: 50 })), ...(await queue.list({ state: 'queued', limit: 50 }))];
        const lines = jobs.length ? jobs.map(jobLine) : ['no queued or running jobs'];
        const text = lines.join('\n');
        if (io.isTTY) {
          // Move up over the previous frame and redraw it in place.
          if (drawn > 0) io.write(`\x1b[${drawn}A`);
          io.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
          drawn = lines.length;
        } else if (text !== lastText) io.out(text);
        lastText = text;
        const active = jobs.some((j) => j.state === 'queued' || j.state === 'running');
        if (!active) return;
        await sleep(WATCH_INTERVAL_MS);
      }
    }
    case 'retry': {
      const j = await findJob(queue, args[0]);
      if (j.state !== 'failed' && j.state !== 'cancelled') throw new JobsUsageError(`job ${j.id} is ${j.state}; only failed or cancelled jobs can be retried`);
      io.out(jobLine((await queue.retry(j.id))!));
      return;
    }
    case 'cancel': {
      const j = await findJob(queue, args[0]);
      const after = (await queue.cancel(j.id))!;
      io.out(jobLine(after) + (after.state === 'running' ? '  (cancel requested; its node stops it within a second)' : ''));
      return;
    }
    default:
      throw new JobsUsageError(JOBS_USAGE);
  }
}
