import { CompiledQuery, IdentifierNode, RawNode, SqliteDialect, createQueryId, type DatabaseConnection, type Driver, type QueryResult, type TransactionSettings } from 'kysely';

/**
 * SQLITE_LOCK_WAIT_MS is SQLite's own busy_timeout: better-sqlite3 waits for it synchronously,
 * so it stays short enough that another process holding the write lock (the CLI) stalls the
 * event loop by at most this long per attempt (issue 19 #18).
 */
export const SQLITE_LOCK_WAIT_MS = 20;
/** SQLITE_RETRY_MIN_MS and SQLITE_RETRY_MAX_MS bound the asynchronous backoff between attempts. */
const SQLITE_RETRY_MIN_MS = 5;
const SQLITE_RETRY_MAX_MS = 250;
/** SQLITE_GIVE_UP_MS is how long a statement keeps retrying a held lock before its error is thrown. */
export const SQLITE_GIVE_UP_MS = 30_000;

/** isBusy says whether better-sqlite3 failed because another connection holds the lock. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

type QueryCompile = Parameters<NonNullable<Driver['savepoint']>>[2];

/** parseSavepoint builds `COMMAND name` with the name quoted as an identifier. */
function parseSavepoint(command: string, name: string): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)]);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Lock is a first-come mutex: SQLite has one connection per process, shared by turns. */
class Lock {
  private held = false;
  private readonly waiters: Array<() => void> = [];
  async acquire(): Promise<void> {
    if (!this.held) { this.held = true; return; }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next(); else this.held = false;
  }
}

/** SqliteHandle is the part of better-sqlite3's Database this driver uses. */
export interface SqliteHandle {
  prepare(sql: string): { reader: boolean; all(params: readonly unknown[]): unknown[]; run(params: readonly unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint }; iterate(params: readonly unknown[]): IterableIterator<unknown> };
  readonly inTransaction: boolean;
  close(): void;
}

/**
 * RetryingConnection runs statements on the process's one SQLite handle. A statement refused with
 * SQLITE_BUSY outside a transaction (including the BEGIN that opens one) gives the handle back,
 * sleeps (doubling, capped), takes it again and retries: reads and other requests go on meanwhile.
 * Inside a transaction the write lock is already held (transactions begin IMMEDIATE), so a busy
 * error there is thrown as is.
 */
class RetryingConnection implements DatabaseConnection {
  constructor(private readonly db: SqliteHandle, private readonly lock: Lock, private readonly giveUpMs: number) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + this.giveUpMs;
    let wait = SQLITE_RETRY_MIN_MS;
    for (;;) {
      try {
        return this.runOnce<R>(query);
      } catch (err) {
        if (!isBusy(err) || this.db.inTransaction || Date.now() >= deadline) throw err;
      }
      this.lock.release();
      try {
        await sleep(wait);
      } finally {
        await this.lock.acquire();
      }
      wait = Math.min(wait * 2, SQLITE_RETRY_MAX_MS);
    }
  }

  private runOnce<R>(query: CompiledQuery): QueryResult<R> {
    const stmt = this.db.prepare(query.sql);
    if (stmt.reader) return { rows: stmt.all(query.parameters) as R[] };
    const { changes, lastInsertRowid } = stmt.run(query.parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    for (const row of this.db.prepare(query.sql).iterate(query.parameters)) yield { rows: [row as R] };
  }
}

/**
 * RetryingSqliteDriver is Kysely's SQLite driver with two changes: busy statements wait
 * asynchronously (RetryingConnection), and transactions begin IMMEDIATE so the write lock is taken
 * (and waited for) at BEGIN, where a retry is safe, never half-way through a transaction.
 */
class RetryingSqliteDriver implements Driver {
  private readonly lock = new Lock();
  private readonly connection: RetryingConnection;
  constructor(private readonly db: SqliteHandle, giveUpMs: number) {
    this.connection = new RetryingConnection(db, this.lock, giveUpMs);
  }
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.acquire();
    return this.connection;
  }
  async releaseConnection(): Promise<void> { this.lock.release(); }
  async beginTransaction(conn: DatabaseConnection, _settings: TransactionSettings): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  async commitTransaction(conn: DatabaseConnection): Promise<void> { await conn.executeQuery(CompiledQuery.raw('commit')); }
  async rollbackTransaction(conn: DatabaseConnection): Promise<void> { await conn.executeQuery(CompiledQuery.raw('rollback')); }
  async savepoint(conn: DatabaseConnection, name: string, compile: QueryCompile): Promise<void> {
    await conn.executeQuery(compile(parseSavepoint('savepoint', name), createQueryId()));
  }
  async rollbackToSavepoint(conn: DatabaseConnection, name: string, compile: QueryCompile): Promise<void> {
    await conn.executeQuery(compile(parseSavepoint('rollback to', name), createQueryId()));
  }
  async releaseSavepoint(conn: DatabaseConnection, name: string, compile: QueryCompile): Promise<void> {
    await conn.executeQuery(compile(parseSavepoint('release', name), createQueryId()));
  }
  async destroy(): Promise<void> { this.db.close(); }
}

/** RetryingSqliteDialect is Kysely's SqliteDialect whose statements wait for a lock held by another process without blocking the event loop. */
export class RetryingSqliteDialect extends SqliteDialect {
  constructor(private readonly db: SqliteHandle, private readonly giveUpMs = SQLITE_GIVE_UP_MS) {
    super({ database: db });
  }
  override createDriver(): Driver {
    return new RetryingSqliteDriver(this.db, this.giveUpMs);
  }
}
