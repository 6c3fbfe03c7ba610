import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Db } from '../src/platform/index.js';
import { migrateAll } from '../src/features.js';

/** POSTGRES_URL is the server used by tests; .ci/run starts it and sets this variable. */
export const POSTGRES_URL = process.env.ONAIR_TEST_POSTGRES_URL ?? '';
/** TEST_STREAM_KEY_SECRET seals stream keys for platforms that tests build directly (createPlatform). */
export const TEST_STREAM_KEY_SECRET = 'onair-test-stream-key-secret';

export interface EngineCase {
  engine: 'sqlite' | 'postgres';
  /** Why the engine is skipped (only locally, never in CI). */
  skip: string | false;
  open(): Promise<{ db: Db; url: string; dispose(): Promise<void> }>;
}

async function openSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'onair-db-'));
  const url = `sqlite:${join(dir, 'onair.db')}`;
  const db = await openDatabase(url);
  await migrateAll(db);
  return { db, url, dispose: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** openPostgres makes a throwaway database on the test server so suites never share state. */
async function openPostgres() {
  const name = `onair_t_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(POSTGRES_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = await openDatabase(url);
  await migrateAll(db);
  return {
    db, url,
    dispose: async () => {
      await db.close();
      const a = new pg.Client({ connectionString: POSTGRES_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

function postgresSkip(): string | false {
  if (POSTGRES_URL) return false;
  if (process.env.CI) throw new Error('CI is set but ONAIR_TEST_POSTGRES_URL is not: .ci/run must start PostgreSQL');
  return 'PostgreSQL not configured (set ONAIR_TEST_POSTGRES_URL to run these against a real server)';
}

/** engines lists the database engines every data-layer suite runs on. */
export function engines(): EngineCase[] {
  const pgSkip = postgresSkip();
  if (pgSkip) console.log(`# skipping PostgreSQL suites: ${pgSkip}`);
  return [
    { engine: 'sqlite', skip: false, open: openSqlite },
    { engine: 'postgres', skip: pgSkip, open: openPostgres },
  ];
}
