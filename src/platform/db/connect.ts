import { dirname } from 'node:path';
import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './schema.js';
import { RetryingSqliteDialect, SQLITE_LOCK_WAIT_MS } from './sqlite-retry.js';
import { makePrivateDir, ensurePrivateFile, tightenIfPresent, type ModeLog } from '../file-modes.js';

export type DbEngine = 'sqlite' | 'postgres';

/** Db bundles the query builder with the engine it speaks, for the few places that differ. */
export interface Db {
  kysely: Kysely<Database>;
  engine: DbEngine;
  close(): Promise<void>;
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly migrations: Readonly<Record<string, Migration>>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...this.migrations };
  }
}

/** SQLITE_SIDE_FILES are the journal files SQLite keeps beside the database in WAL mode. */
const SQLITE_SIDE_FILES = ['-wal', '-shm'];

/**
 * openDatabase connects to `sqlite:PATH` (default engine) or `postgres://...`. A SQLite file and
 * its -wal/-shm are kept 0600 in a 0700 folder (docs/security.md); looser modes are
 * tightened and reported through `log`.
 */
export async function openDatabase(url: string, opts: { log?: ModeLog } = {}): Promise<Db> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pg = (await import('pg')).default;
    // BIGINT (oid 20) carries epoch-ms timestamps and sums of KRW: both fit a JS number exactly.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- 20 is int8 (pg-types TypeId.INT8); the enum is not exported as a value by @types/pg
    pg.types.setTypeParser(20, (v: string) => Number(v));
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection the server ends (restart, failover, pg_terminate_backend, DROP DATABASE … FORCE)
    // is emitted as an 'error' on the pool, which would otherwise be an uncaught exception that stops the
    // process; the pool has already dropped that client and opens a new one for the next query.
    pool.on('error', () => undefined);
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { kysely, engine: 'postgres', close: () => kysely.destroy() };
  }
  if (!url.startsWith('sqlite:')) throw new Error(`unsupported database URL "${url}": use sqlite:PATH or postgres://...`);
  const path = url.slice('sqlite:'.length);
  const { default: SQLite } = await import('better-sqlite3');
  const onDisk = path !== ':memory:' && path !== '';
  if (onDisk) {
    // A folder we create is private; an existing one (the data dir is tightened by loadSecrets, a custom path is the operator's) is left alone.
    makePrivateDir(dirname(path));
    // SQLite gives -wal and -shm the main file's mode, so creating it 0600 covers all three.
    ensurePrivateFile(path, opts.log);
  }
  const database = new SQLite(path);
  database.pragma('journal_mode = WAL');
  if (onDisk) for (const side of SQLITE_SIDE_FILES) tightenIfPresent(path + side, opts.log);
  database.pragma('foreign_keys = ON');
  // better-sqlite3 waits for a lock synchronously: keep that wait short and retry asynchronously (sqlite-retry.ts).
  database.pragma(`busy_timeout = ${SQLITE_LOCK_WAIT_MS}`);
  const kysely = new Kysely<Database>({ dialect: new RetryingSqliteDialect(database) });
  return { kysely, engine: 'sqlite', close: () => kysely.destroy() };
}

/**
 * migrate applies every pending migration of the list (Kysely runs them in name order); it throws
 * with the failing migration's name. The list must be the whole one (src/app/migrations.ts):
 * a migration already applied but missing from it makes Kysely refuse the database.
 */
export async function migrate(db: Db, migrations: Readonly<Record<string, Migration>>): Promise<string[]> {
  const migrator = new Migrator({ db: db.kysely, provider: new StaticProvider(migrations) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? error}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
