/**
 * WalletLedger keeps each user's KRW balance as an append-only list of
 * entries plus a balance row updated in the same transaction.
 *
 * Contract:
 * - Atomic: an entry and its balance change commit together or not at all.
 * - No overspending: a debit is a conditional `UPDATE ... SET balance = balance - n
 *   WHERE balance >= n`; on PostgreSQL the row lock makes concurrent debits queue
 *   and re-check, on SQLite writes are serialised (one connection per process,
 *   `BEGIN IMMEDIATE` against other processes).
 * - Idempotent: (user, idempotency key) is unique; posting again with the same
 *   key returns the first entry (`replayed: true`) and changes nothing.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Db } from '../db/connect.js';
import { AppError } from '../../http/errors.js';
import { newId } from '../ids.js';
import { isUniqueViolation } from '../users.js';
import { walletDb, type EntryKind, type WalletDatabase, type WalletEntriesTable } from './db.js';

/** MAX_AMOUNT bounds one entry (₩1 trillion): far inside JS's exact integer range even when summed. */
export const MAX_AMOUNT = 1_000_000_000_000;
/** MAX_KEY_LENGTH bounds client-supplied idempotency keys. */
export const MAX_KEY_LENGTH = 200;

export type WalletTx = Kysely<WalletDatabase>;

export interface LedgerEntry {
  id: string;
  userId: string;
  kind: EntryKind;
  /** Signed KRW: positive for credit and refund, negative for debit. */
  amount: number;
  balanceAfter: number;
  idempotencyKey: string;
  provider: string | null;
  reference: string | null;
  note: string | null;
  createdAt: number;
}

export interface PostResult {
  entry: LedgerEntry;
  /** Balance after this call (the current balance when replayed). */
  balance: number;
  /** True when an entry with this idempotency key already existed and nothing was changed. */
  replayed: boolean;
}

export interface PostInput {
  userId: string;
  /** Positive KRW. */
  amount: number;
  idempotencyKey: string;
  provider?: string | null;
  reference?: string | null;
  note?: string | null;
}

const toEntry = (r: WalletEntriesTable): LedgerEntry => ({
  id: r.id,
  userId: r.user_id,
  kind: r.kind,
  amount: Number(r.amount),
  balanceAfter: Number(r.balance_after),
  idempotencyKey: r.idempotency_key,
  provider: r.provider,
  reference: r.reference,
  note: r.note,
  createdAt: Number(r.created_at),
});

/** sqliteWriters chains SQLite write transactions of this process, across every open handle. */
let sqliteWriters: Promise<unknown> = Promise.resolve();

/**
 * writeTransaction runs fn in a transaction that may write wallet rows.
 * SQLite: a process-wide queue runs one write transaction at a time, even
 * across several handles on one file (better-sqlite3 waits for a lock
 * synchronously, so two handles of one process interleaving at an await would
 * block the event loop until busy_timeout). BEGIN IMMEDIATE takes the write
 * lock up front so another process (the CLI) waits on busy_timeout instead
 * of failing when a read lock upgrades.
 */
export async function writeTransaction<T>(db: Db, fn: (trx: WalletTx) => Promise<T>): Promise<T> {
  const k = walletDb(db);
  if (db.engine === 'postgres') return k.transaction().execute((trx: Transaction<WalletDatabase>) => fn(trx));
  const run = sqliteWriters.then(() => sqliteTransaction(k, fn));
  sqliteWriters = run.catch(() => undefined);
  return run;
}

async function sqliteTransaction<T>(k: WalletTx, fn: (trx: WalletTx) => Promise<T>): Promise<T> {
  return k.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      const r = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return r;
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}

function checkInput(i: PostInput): void {
  if (!Number.isSafeInteger(i.amount) || i.amount <= 0 || i.amount > MAX_AMOUNT) throw new AppError('validation_failed', `amount: a whole number of won between 1 and ${MAX_AMOUNT}`);
  if (typeof i.idempotencyKey !== 'string' || i.idempotencyKey.length === 0 || i.idempotencyKey.length > MAX_KEY_LENGTH) {
    throw new AppError('validation_failed', `idempotency key: 1-${MAX_KEY_LENGTH} characters`);
  }
}

/** WalletLedger is the only writer of wallet_balances and wallet_entries. */
export class WalletLedger {
  constructor(private readonly db: Db) {}

  private get k(): WalletTx {
    return walletDb(this.db);
  }

  async balance(userId: string, q: WalletTx = this.k): Promise<number> {
    const r = await q.selectFrom('wallet_balances').select('balance').where('user_id', '=', userId).executeTakeFirst();
    return r ? Number(r.balance) : 0;
  }

  /** entries lists a user's entries, newest first. */
  async entries(userId: string, opts: { limit?: number; before?: number } = {}): Promise<LedgerEntry[]> {
    let q = this.k.selectFrom('wallet_entries').selectAll().where('user_id', '=', userId);
    if (opts.before !== undefined) q = q.where('created_at', '<', opts.before);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(Math.min(opts.limit ?? 50, 500)).execute();
    return rows.map(toEntry);
  }

  async entry(id: string): Promise<LedgerEntry | undefined> {
    const r = await this.k.selectFrom('wallet_entries').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toEntry(r) : undefined;
  }

  /** findByKey finds the entry a user posted with an idempotency key. */
  async findByKey(userId: string, key: string, q: WalletTx = this.k): Promise<LedgerEntry | undefined> {
    const r = await q.selectFrom('wallet_entries').selectAll().where('user_id', '=', userId).where('idempotency_key', '=', key).executeTakeFirst();
    return r ? toEntry(r) : undefined;
  }

  /**
   * credit adds money (use PaymentProvider-backed WalletService.credit from routes); `within`
   * runs in the same transaction after the entry is written, and not at all on a replay.
   */
  async credit<T = undefined>(input: PostInput, within?: (trx: WalletTx, entry: LedgerEntry) => Promise<T>): Promise<PostResult & { extra?: T }> {
    return this.post('credit', input, within);
  }

  /**
   * debit takes money or throws payment_required; `within` runs in the same
   * transaction after the entry is written (e.g. to record what was bought),
   * so a failure there undoes the debit too.
   */
  async debit<T = undefined>(input: PostInput, within?: (trx: WalletTx, entry: LedgerEntry) => Promise<T>): Promise<PostResult & { extra?: T }> {
    return this.post('debit', input, within);
  }

  /** refund returns a debit's amount to its user, at most once per debit. */
  async refund(debitEntryId: string, note?: string): Promise<PostResult> {
    const e = await this.entry(debitEntryId);
    if (!e) throw new AppError('not_found', `no wallet entry "${debitEntryId}"`);
    if (e.kind !== 'debit') throw new AppError('conflict', 'only debits can be refunded');
    return this.post('refund', { userId: e.userId, amount: -e.amount, idempotencyKey: `refund:${e.id}`, provider: e.provider, reference: e.id, note: note ?? null });
  }

  private async post<T>(kind: EntryKind, input: PostInput, within?: (trx: WalletTx, entry: LedgerEntry) => Promise<T>): Promise<PostResult & { extra?: T }> {
    checkInput(input);
    try {
      return await writeTransaction(this.db, async (trx) => {
        const prior = await this.findByKey(input.userId, input.idempotencyKey, trx);
        if (prior) return this.replay(kind, input, prior, trx);
        const now = Date.now();
        let balance: number;
        if (kind === 'debit') {
          const r = await trx
            .updateTable('wallet_balances')
            .set((eb) => ({ balance: eb('balance', '-', input.amount), updated_at: now }))
            .where('user_id', '=', input.userId)
            .where('balance', '>=', input.amount)
            .returning('balance')
            .executeTakeFirst();
          if (!r) {
            const have = await this.balance(input.userId, trx);
            throw new AppError('payment_required', `the wallet holds ₩${have.toLocaleString('en-US')}, ₩${input.amount.toLocaleString('en-US')} needed`, { balance: have, amount: input.amount });
          }
          balance = Number(r.balance);
        } else {
          const r = await trx
            .insertInto('wallet_balances')
            .values({ user_id: input.userId, balance: input.amount, updated_at: now })
            .onConflict((oc) => oc.column('user_id').doUpdateSet((eb) => ({ balance: eb('wallet_balances.balance', '+', input.amount), updated_at: now })))
            .returning('balance')
            .executeTakeFirstOrThrow();
          balance = Number(r.balance);
        }
        const row: WalletEntriesTable = {
          id: newId(),
          user_id: input.userId,
          kind,
          amount: kind === 'debit' ? -input.amount : input.amount,
          balance_after: balance,
          idempotency_key: input.idempotencyKey,
          provider: input.provider ?? null,
          reference: input.reference ?? null,
          note: input.note ?? null,
          created_at: now,
        };
        await trx.insertInto('wallet_entries').values(row).execute();
        const entry = toEntry(row);
        const extra = within ? await within(trx, entry) : undefined;
        return { entry, balance, replayed: false, extra };
      });
    } catch (err) {
      // PostgreSQL: a concurrent request with the same key committed first; answer with its entry.
      if (isUniqueViolation(err)) {
        const prior = await this.findByKey(input.userId, input.idempotencyKey);
        if (prior) return this.replay(kind, input, prior, this.k);
      }
      if (isForeignKeyViolation(err)) throw new AppError('not_found', 'no such user');
      throw err;
    }
  }

  private async replay(kind: EntryKind, input: PostInput, prior: LedgerEntry, q: WalletTx): Promise<PostResult> {
    if (prior.kind !== kind || Math.abs(prior.amount) !== input.amount) {
      throw new AppError('conflict', 'this idempotency key was already used for a different request', { entryId: prior.id });
    }
    return { entry: prior, balance: await this.balance(prior.userId, q), replayed: true };
  }

  /** verify checks every balance row against the sum of its user's entries and the last balance_after. */
  async verify(): Promise<{ ok: boolean; users: number; mismatches: { userId: string; balance: number; sum: number }[] }> {
    const sums = await this.k
      .selectFrom('wallet_entries')
      .select(['user_id', sql<string>`sum(amount)`.as('total')])
      .groupBy('user_id')
      .execute();
    const balances = await this.k.selectFrom('wallet_balances').select(['user_id', 'balance']).execute();
    const byUser = new Map<string, { balance: number; sum: number }>();
    for (const b of balances) byUser.set(b.user_id, { balance: Number(b.balance), sum: 0 });
    for (const s of sums) {
      const cur = byUser.get(s.user_id) ?? { balance: 0, sum: 0 };
      cur.sum = Number(s.total);
      byUser.set(s.user_id, cur);
    }
    const mismatches = [...byUser].filter(([, v]) => v.balance !== v.sum).map(([userId, v]) => ({ userId, ...v }));
    return { ok: mismatches.length === 0, users: byUser.size, mismatches };
  }
}

function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
