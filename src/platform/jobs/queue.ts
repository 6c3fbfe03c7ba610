/**
 * JobQueue is the persisted job queue shared by every worker node (SQLite or PostgreSQL).
 * Contract: a queued job is claimed by at most one node (an atomic conditional UPDATE,
 * FOR UPDATE SKIP LOCKED on PostgreSQL); a running job holds a lease its node renews;
 * a job whose lease lapsed, or whose node restarted, goes back to the queue.
 */
import { sql, type Kysely } from 'kysely';
import type { Db } from '../db/connect.js';
import { newId } from '../ids.js';
import { backoffDelayMs, type BackoffOptions } from './backoff.js';
import { JOB_STATES, type JobsDatabase, type JobsTable, type JobState } from './schema.js';

/** PROGRESS_SCALE: progress is stored as an integer out of this. */
export const PROGRESS_SCALE = 1000;
/** Longest error text kept per job (the tail of ffmpeg's stderr is what matters). */
export const MAX_ERROR_CHARS = 4000;

/** Job is the public view of a job row. */
export interface Job {
  id: string;
  type: string;
  state: JobState;
  recordingId: string | null;
  payload: Record<string, unknown>;
  priority: number;
  attempts: number;
  maxAttempts: number;
  runAt: number;
  nodeId: string | null;
  leaseUntil: number | null;
  /** 0..1. */
  progress: number;
  error: string | null;
  result: Record<string, unknown> | null;
  cancelRequested: boolean;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

function parseJson(s: string | null): Record<string, unknown> | null {
  if (s === null) return null;
  try {
    return JSON.parse(s) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** toJob presents a row. */
export function toJob(r: JobsTable): Job {
  return {
    id: r.id,
    type: r.type,
    state: r.state,
    recordingId: r.recording_id,
    payload: parseJson(r.payload) ?? {},
    priority: Number(r.priority),
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    runAt: Number(r.run_at),
    nodeId: r.node_id,
    leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
    progress: Number(r.progress) / PROGRESS_SCALE,
    error: r.error,
    result: parseJson(r.result),
    cancelRequested: Number(r.cancel_requested) === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  };
}

export interface JobQueueOptions {
  maxAttempts: number;
  backoff: BackoffOptions;
  leaseMs: number;
  now?: () => number;
}

export interface EnqueueInput {
  type: string;
  payload?: Record<string, unknown>;
  recordingId?: string | null;
  priority?: number;
  maxAttempts?: number;
  runAt?: number;
  /** The user who asked for the job (counted against jobs.maxPerUser). */
  requestedBy?: string | null;
}

/** JobLimitError: a recording or a user already has the most queued or running jobs allowed. */
export class JobLimitError extends Error {
  constructor(readonly scope: 'recording' | 'user', readonly max: number) {
    super(scope === 'recording' ? `this VOD already has ${max} queued or running jobs (jobs.maxPerVod)` : `you already have ${max} queued or running jobs (jobs.maxPerUser)`);
    this.name = 'JobLimitError';
  }
}

export class JobQueue {
  private readonly k: Kysely<JobsDatabase>;
  private readonly now: () => number;

  constructor(private readonly db: Db, readonly opts: JobQueueOptions) {
    this.k = db.kysely as unknown as Kysely<JobsDatabase>;
    this.now = opts.now ?? Date.now;
  }

  async enqueue(input: EnqueueInput): Promise<Job> {
    const now = this.now();
    const row: JobsTable = {
      id: newId(),
      type: input.type,
      state: 'queued',
      recording_id: input.recordingId ?? null,
      payload: JSON.stringify(input.payload ?? {}),
      priority: input.priority ?? 0,
      attempts: 0,
      max_attempts: input.maxAttempts ?? this.opts.maxAttempts,
      run_at: input.runAt ?? now,
      node_id: null,
      lease_until: null,
      progress: 0,
      error: null,
      result: null,
      cancel_requested: 0,
      created_at: now,
      updated_at: now,
      started_at: null,
      finished_at: null,
      requested_by: input.requestedBy ?? null,
    };
    await this.k.insertInto('jobs').values(row).execute();
    return toJob(row);
  }

  /**
   * enqueueLimited is enqueue for jobs users ask for: an identical job (type and payload) already
   * queued on the same recording is returned instead of a new one (existing: true); otherwise the
   * recording may have at most maxPerRecording, and the user maxPerUser, queued or running jobs
   * (0 = no limit), else JobLimitError. Counted and inserted in one transaction.
   */
  async enqueueLimited(input: EnqueueInput & { recordingId: string; maxPerRecording: number; maxPerUser: number }): Promise<{ job: Job; existing: boolean }> {
    const payload = JSON.stringify(input.payload ?? {});
    const active: JobState[] = ['queued', 'running'];
    return this.k.transaction().execute(async (trx) => {
      // PostgreSQL: requests for one recording (and one user) take turns, so concurrent identical ones see each
      // other's insert (SQLite transactions already run one at a time, BEGIN IMMEDIATE).
      if (this.db.engine === 'postgres') {
        // Always recording first, then user: one order, no deadlock.
        await sql`select pg_advisory_xact_lock(hashtext(${`onair-jobs:${input.recordingId}`}))`.execute(trx);
        if (input.requestedBy) await sql`select pg_advisory_xact_lock(hashtext(${`onair-jobs-user:${input.requestedBy}`}))`.execute(trx);
      }
      const same = await trx.selectFrom('jobs').selectAll().where('recording_id', '=', input.recordingId).where('type', '=', input.type)
        .where('payload', '=', payload).where('state', '=', 'queued').orderBy('created_at').executeTakeFirst();
      if (same) return { job: toJob(same), existing: true };
      const count = async (column: 'recording_id' | 'requested_by', value: string) => Number((await trx.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n'))
        .where(column, '=', value).where('state', 'in', active).executeTakeFirst())?.n ?? 0);
      if (input.maxPerRecording > 0 && (await count('recording_id', input.recordingId)) >= input.maxPerRecording) throw new JobLimitError('recording', input.maxPerRecording);
      if (input.maxPerUser > 0 && input.requestedBy && (await count('requested_by', input.requestedBy)) >= input.maxPerUser) throw new JobLimitError('user', input.maxPerUser);
      const job = await new JobQueue({ ...this.db, kysely: trx as unknown as Db['kysely'] }, this.opts).enqueue(input);
      return { job, existing: false };
    });
  }

  async get(id: string): Promise<Job | undefined> {
    const r = await this.k.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toJob(r) : undefined;
  }

  async list(f: { state?: JobState; type?: string; recordingId?: string; limit?: number; offset?: number } = {}): Promise<Job[]> {
    let q = this.k.selectFrom('jobs').selectAll();
    if (f.state) q = q.where('state', '=', f.state);
    if (f.type) q = q.where('type', '=', f.type);
    if (f.recordingId) q = q.where('recording_id', '=', f.recordingId);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id').limit(f.limit ?? 100).offset(f.offset ?? 0).execute();
    return rows.map(toJob);
  }

  /** counts gives the number of jobs per state (every state present). */
  async counts(): Promise<Record<JobState, number>> {
    const rows = await this.k.selectFrom('jobs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  /**
   * claim takes the next due queued job for `nodeId` (optionally only of `types`), or
   * undefined. At most one caller, across processes and nodes, gets any given job.
   */
  async claim(nodeId: string, types?: string[]): Promise<Job | undefined> {
    if (types && types.length === 0) return undefined;
    const now = this.now();
    const leaseUntil = now + this.opts.leaseMs;
    if (this.db.engine === 'postgres') {
      const typeFilter = types ? sql`AND type IN (${sql.join(types)})` : sql``;
      const res = await sql<JobsTable>`
        UPDATE jobs SET state = 'running', node_id = ${nodeId}, lease_until = ${leaseUntil}, attempts = attempts + 1,
          started_at = ${now}, updated_at = ${now}, progress = 0
        WHERE id = (
          SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ${now} ${typeFilter}
          ORDER BY priority DESC, run_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING *`.execute(this.k);
      const r = res.rows[0];
      return r ? toJob(r) : undefined;
    }
    // SQLite: pick candidates, then take one with a conditional UPDATE; zero rows means another node won it.
    let q = this.k.selectFrom('jobs').select('id').where('state', '=', 'queued').where('run_at', '<=', now);
    if (types) q = q.where('type', 'in', types);
    const candidates = await q.orderBy('priority', 'desc').orderBy('run_at').orderBy('created_at').limit(8).execute();
    for (const { id } of candidates) {
      const r = await this.k
        .updateTable('jobs')
        .set((eb) => ({ state: 'running', node_id: nodeId, lease_until: leaseUntil, attempts: eb('attempts', '+', 1), started_at: now, updated_at: now, progress: 0 }))
        .where('id', '=', id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return this.get(id);
    }
    return undefined;
  }

  /**
   * heartbeat renews the lease of a running job (and stores progress, 0..1, when given).
   * `owned` is false when the node lost the job (lease lapsed and re-queued, or cancelled).
   */
  async heartbeat(id: string, nodeId: string, progress?: number): Promise<{ owned: boolean; cancelRequested: boolean }> {
    const now = this.now();
    const set: Partial<JobsTable> = { lease_until: now + this.opts.leaseMs, updated_at: now };
    if (progress !== undefined) set.progress = Math.round(Math.min(1, Math.max(0, progress)) * PROGRESS_SCALE);
    const r = await this.k.updateTable('jobs').set(set).where('id', '=', id).where('node_id', '=', nodeId).where('state', '=', 'running').executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return { owned: false, cancelRequested: true };
    const row = await this.k.selectFrom('jobs').select('cancel_requested').where('id', '=', id).executeTakeFirst();
    return { owned: true, cancelRequested: Number(row?.cancel_requested) === 1 };
  }

  /** complete marks a running job done with its result. */
  async complete(id: string, nodeId: string, result: Record<string, unknown> = {}): Promise<boolean> {
    const now = this.now();
    const r = await this.k
      .updateTable('jobs')
      .set({ state: 'done', progress: PROGRESS_SCALE, result: JSON.stringify(result), error: null, lease_until: null, updated_at: now, finished_at: now })
      .where('id', '=', id).where('node_id', '=', nodeId).where('state', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** skip ends a running job that would not improve anything: no output, result.skipped gives the reason. */
  async skip(id: string, nodeId: string, reason: string): Promise<boolean> {
    const now = this.now();
    const r = await this.k
      .updateTable('jobs')
      .set({ state: 'skipped', progress: PROGRESS_SCALE, result: JSON.stringify({ skipped: reason }), error: null, lease_until: null, updated_at: now, finished_at: now })
      .where('id', '=', id).where('node_id', '=', nodeId).where('state', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * fail records a failed attempt: the job is queued again after a backoff while attempts
   * remain (and the error is not permanent), else it ends 'failed'. The error text is kept.
   */
  async fail(id: string, nodeId: string, error: string, opts: { permanent?: boolean } = {}): Promise<JobState | undefined> {
    const row = await this.k.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.state !== 'running' || row.node_id !== nodeId) return undefined;
    const now = this.now();
    const text = error.length > MAX_ERROR_CHARS ? '…' + error.slice(-MAX_ERROR_CHARS) : error;
    const again = !opts.permanent && Number(row.attempts) < Number(row.max_attempts) && Number(row.cancel_requested) !== 1;
    const next: Partial<JobsTable> = again
      ? { state: 'queued', run_at: now + backoffDelayMs(Number(row.attempts), this.opts.backoff), node_id: null, lease_until: null, error: text, updated_at: now }
      : { state: 'failed', error: text, lease_until: null, updated_at: now, finished_at: now };
    const r = await this.k.updateTable('jobs').set(next).where('id', '=', id).where('node_id', '=', nodeId).where('state', '=', 'running').executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? next.state : undefined;
  }

  /** markCancelled ends a running job its node stopped after a cancel request. */
  async markCancelled(id: string, nodeId: string): Promise<boolean> {
    const now = this.now();
    const r = await this.k
      .updateTable('jobs')
      .set({ state: 'cancelled', lease_until: null, updated_at: now, finished_at: now })
      .where('id', '=', id).where('node_id', '=', nodeId).where('state', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * cancel stops a job: a queued one ends at once; a running one is flagged and its node
   * kills the work at its next heartbeat. Finished jobs are returned unchanged.
   */
  async cancel(id: string): Promise<Job | undefined> {
    const now = this.now();
    await this.k.updateTable('jobs').set({ state: 'cancelled', updated_at: now, finished_at: now, cancel_requested: 1 }).where('id', '=', id).where('state', '=', 'queued').execute();
    await this.k.updateTable('jobs').set({ cancel_requested: 1, updated_at: now }).where('id', '=', id).where('state', '=', 'running').execute();
    return this.get(id);
  }

  /** retry queues a failed or cancelled job again with a fresh attempt budget. */
  async retry(id: string): Promise<Job | undefined> {
    const now = this.now();
    await this.k
      .updateTable('jobs')
      .set({ state: 'queued', attempts: 0, run_at: now, node_id: null, lease_until: null, progress: 0, cancel_requested: 0, updated_at: now, finished_at: null })
      .where('id', '=', id)
      .where('state', 'in', ['failed', 'cancelled'])
      .execute();
    return this.get(id);
  }

  /** requeueNode puts back the running jobs of a node that restarted (their work died with it). */
  async requeueNode(nodeId: string): Promise<number> {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- Kysely builder passed through a generic filter whose where() is loosely typed
    return this.requeueWhere((q) => q.where('node_id', '=', nodeId));
  }

  /** requeueExpired puts back running jobs whose node stopped renewing its lease. */
  async requeueExpired(): Promise<number> {
    const now = this.now();
    // eslint-disable-next-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- Kysely builder passed through a generic filter whose where() is loosely typed
    return this.requeueWhere((q) => q.where('lease_until', '<', now));
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the filter must accept every Kysely update/select builder; their where() signatures share no narrower type
  private async requeueWhere(filter: <Q extends { where: any }>(q: Q) => Q): Promise<number> {
    const now = this.now();
    // Jobs someone asked to cancel end cancelled rather than running again.
    await filter(this.k.updateTable('jobs').set({ state: 'cancelled', node_id: null, lease_until: null, updated_at: now, finished_at: now }))
      .where('state', '=', 'running').where('cancel_requested', '=', 1).execute();
    const r = await filter(this.k.updateTable('jobs').set({ state: 'queued', node_id: null, lease_until: null, run_at: now, updated_at: now }))
      .where('state', '=', 'running').executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** removeForRecording deletes the jobs of a deleted recording (running ones are cancelled instead). */
  async removeForRecording(recordingId: string): Promise<void> {
    await this.k.updateTable('jobs').set({ cancel_requested: 1, updated_at: this.now() }).where('recording_id', '=', recordingId).where('state', '=', 'running').execute();
    await this.k.deleteFrom('jobs').where('recording_id', '=', recordingId).where('state', '!=', 'running').execute();
  }
}
