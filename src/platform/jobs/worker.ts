/**
 * JobWorker runs jobs on one node: it claims due jobs up to the concurrency limit, renews
 * their leases (and stores progress) on a heartbeat, stops a job's work when it is
 * cancelled, and settles each job as done, failed (retry with backoff) or cancelled.
 * At start it re-queues the jobs a previous run of this node left running.
 */
import type { Logger } from '../../observability/logger.js';
import type { Job, JobQueue } from './queue.js';

/** JobContext is what a handler gets. */
export interface JobContext {
  job: Job;
  /** Aborted when the job is cancelled, lost or the node stops; handlers kill their work. */
  signal: AbortSignal;
  /** progress records a fraction 0..1 (stored on the next heartbeat, so throttled). */
  progress(fraction: number): void;
  logger: Logger;
}

export type JobHandler = (ctx: JobContext) => Promise<Record<string, unknown> | void>;

/** PermanentJobError fails a job at once, without retries (retrying cannot help). */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/** JobSkipped, thrown by a handler, ends its job as skipped (no retry, no output): the message is the reason. */
export class JobSkipped extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JobSkipped';
  }
}

export interface JobWorkerOptions {
  queue: JobQueue;
  nodeId: string;
  handlers: Record<string, JobHandler>;
  concurrency: number;
  pollIntervalMs: number;
  /** Heartbeat period; a third of the lease by default, at most 1 s (also the cancel latency). */
  heartbeatMs?: number;
  logger: Logger;
  onFinished?(job: Job, outcome: 'done' | 'failed' | 'retry' | 'cancelled' | 'lost' | 'skipped', seconds: number): void;
}

type StopReason = 'cancel' | 'lost' | 'shutdown';

interface Running {
  job: Job;
  ac: AbortController;
  progress: number | undefined;
  stopReason?: StopReason;
  done: Promise<void>;
}

export class JobWorker {
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private hbTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private polling = false;
  private lastExpirySweep = 0;
  private readonly heartbeatMs: number;

  constructor(private readonly o: JobWorkerOptions) {
    this.heartbeatMs = o.heartbeatMs ?? Math.min(1000, Math.floor(o.queue.opts.leaseMs / 3));
  }

  get types(): string[] {
    return Object.keys(this.o.handlers);
  }

  /** runningJobs lists the ids this node runs now. */
  runningJobs(): string[] {
    return [...this.running.keys()];
  }

  async start(): Promise<void> {
    this.stopped = false;
    const n = await this.o.queue.requeueNode(this.o.nodeId);
    if (n > 0) this.o.logger.warn({ jobs: n, node: this.o.nodeId }, 're-queued jobs interrupted by this node\'s previous run');
    this.timer = setInterval(() => void this.poll(), this.o.pollIntervalMs);
    this.hbTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    void this.poll();
  }

  /** stop aborts running work and puts those jobs back in the queue for another node (or the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.hbTimer) clearInterval(this.hbTimer);
    for (const r of this.running.values()) {
      r.stopReason = 'shutdown';
      r.ac.abort();
    }
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.o.queue.requeueNode(this.o.nodeId).catch(() => undefined);
  }

  /** poll claims jobs while below the concurrency limit. */
  async poll(): Promise<void> {
    if (this.stopped || this.polling) return;
    this.polling = true;
    try {
      const now = Date.now();
      if (now - this.lastExpirySweep >= this.heartbeatMs) {
        this.lastExpirySweep = now;
        const n = await this.o.queue.requeueExpired();
        if (n > 0) this.o.logger.warn({ jobs: n }, 're-queued jobs whose node stopped renewing its lease');
      }
      while (!this.stopped && this.running.size < this.o.concurrency) {
        const job = await this.o.queue.claim(this.o.nodeId, this.types);
        if (!job) break;
        this.launch(job);
      }
    } catch (err) {
      this.o.logger.warn({ err }, 'job poll failed');
    } finally {
      this.polling = false;
    }
  }

  private launch(job: Job): void {
    const ac = new AbortController();
    const r: Running = { job, ac, progress: undefined, done: Promise.resolve() };
    this.running.set(job.id, r);
    const logger = this.o.logger.child({ job: job.id, type: job.type });
    logger.info({ attempt: job.attempts }, 'job started');
    r.done = this.execute(r, logger).finally(() => {
      this.running.delete(job.id);
      if (!this.stopped) setImmediate(() => void this.poll());
    });
  }

  private async execute(r: Running, logger: Logger): Promise<void> {
    const { job } = r;
    const q = this.o.queue;
    const started = Date.now();
    const finish = (outcome: Parameters<NonNullable<JobWorkerOptions['onFinished']>>[1]) => this.o.onFinished?.(job, outcome, (Date.now() - started) / 1000);
    try {
      // Only types with a handler are claimed; a missing one fails the job permanently rather than retrying it.
      const handler = this.o.handlers[job.type];
      if (!handler) throw new PermanentJobError(`no handler for job type "${job.type}" on this node`);
      const result = await handler({ job, signal: r.ac.signal, logger, progress: (f) => { r.progress = Math.max(r.progress ?? 0, f); } });
      if (r.stopReason) throw new Error(`stopped (${r.stopReason})`);
      await q.complete(job.id, this.o.nodeId, result ?? {});
      logger.info({ seconds: (Date.now() - started) / 1000 }, 'job done');
      finish('done');
    } catch (err) {
      if (err instanceof JobSkipped && !r.stopReason) {
        await q.skip(job.id, this.o.nodeId, err.message);
        logger.info({ reason: err.message }, 'job skipped');
        finish('skipped');
      } else if (r.stopReason === 'cancel') {
        await q.markCancelled(job.id, this.o.nodeId);
        logger.info('job cancelled');
        finish('cancelled');
      } else if (r.stopReason === 'lost') {
        logger.warn('job lost its lease to another node; its work was stopped');
        finish('lost');
      } else if (r.stopReason === 'shutdown') {
        // requeued by stop()
      } else {
        const message = (err as Error)?.message ?? String(err);
        const state = await q.fail(job.id, this.o.nodeId, message, { permanent: err instanceof PermanentJobError });
        logger.warn({ err: message.slice(-500), next: state }, 'job failed');
        finish(state === 'queued' ? 'retry' : 'failed');
      }
    }
  }

  /** heartbeat renews leases, stores progress and notices cancellations. */
  private async heartbeat(): Promise<void> {
    for (const r of [...this.running.values()]) {
      if (r.stopReason) continue;
      try {
        const hb = await this.o.queue.heartbeat(r.job.id, this.o.nodeId, r.progress);
        if (!hb.owned || hb.cancelRequested) {
          r.stopReason = hb.owned ? 'cancel' : 'lost';
          r.ac.abort();
        }
      } catch (err) {
        this.o.logger.warn({ err, job: r.job.id }, 'job heartbeat failed');
      }
    }
  }
}
