import type { Kysely, Migration } from 'kysely';

/** JobState is a job's place in its lifecycle. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'skipped';
/** skipped: the handler found nothing worth doing (e.g. 720p from a source no taller); result.skipped says why. */
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'done', 'failed', 'cancelled', 'skipped'];

/** JobsTable is one persisted job; times are epoch ms, flags 0/1, progress in per-mille. */
export interface JobsTable {
  id: string;
  type: string;
  state: JobState;
  recording_id: string | null;
  /** JSON object handed to the job's handler. */
  payload: string;
  priority: number;
  attempts: number;
  max_attempts: number;
  /** Not claimed before this time (backoff). */
  run_at: number;
  node_id: string | null;
  lease_until: number | null;
  /** 0..1000. */
  progress: number;
  error: string | null;
  /** JSON result of a finished job. */
  result: string | null;
  cancel_requested: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** The user who asked for it through the API (jobs.maxPerUser); null for rule-made and CLI jobs. */
  requested_by: string | null;
}

export interface JobsDatabase {
  jobs: JobsTable;
}

/** jobsMigrations are this feature's tables, collected by the composition root (src/app/). */
export const jobsMigrations: Record<string, Migration> = {
  '0820_jobs': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('recording_id', 'text')
        .addColumn('payload', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_attempts', 'integer', (c) => c.notNull().defaultTo(3))
        .addColumn('run_at', 'bigint', (c) => c.notNull())
        .addColumn('node_id', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('result', 'text')
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema.createIndex('jobs_claim').on('jobs').columns(['state', 'run_at']).execute();
      await db.schema.createIndex('jobs_recording').on('jobs').column('recording_id').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('jobs').execute();
    },
  },
  '0951_jobs_requested_by': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('jobs').addColumn('requested_by', 'text').execute();
      await db.schema.createIndex('jobs_requested_by').on('jobs').column('requested_by').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('jobs_requested_by').execute();
      await db.schema.alterTable('jobs').dropColumn('requested_by').execute();
    },
  },
};
