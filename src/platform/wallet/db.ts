/**
 * Wallet tables: one balance row per user and an append-only ledger. The
 * balance row is a cache of SUM(entries.amount) kept in the same transaction
 * as every insert; `WalletLedger.verify()` checks the two agree.
 */
import { sql, SqliteAdapter, type Kysely, type Migration } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Database } from '../db/schema.js';

/** EntryKind names a ledger entry: money in, money out, money back. */
export type EntryKind = 'credit' | 'debit' | 'refund';

export interface WalletBalancesTable {
  user_id: string;
  /** KRW, whole won; never negative. */
  balance: number;
  updated_at: number;
}

export interface WalletEntriesTable {
  id: string;
  user_id: string;
  kind: EntryKind;
  /** Signed KRW: credits and refunds positive, debits negative. */
  amount: number;
  /** The user's balance right after this entry. */
  balance_after: number;
  /** Unique per user: a retried request with the same key finds this entry instead of adding one. */
  idempotency_key: string;
  /** Payment provider of a credit ("manual", ...), or the feature of a debit ("superchat"). */
  provider: string | null;
  /** Provider's payment id, the debited thing's id, or the refunded entry's id. */
  reference: string | null;
  note: string | null;
  created_at: number;
}

export interface WalletDatabase extends Database {
  wallet_balances: WalletBalancesTable;
  wallet_entries: WalletEntriesTable;
}

/** walletDb gives the typed view of the wallet tables on the shared connection. */
export const walletDb = (db: Db): Kysely<WalletDatabase> => db.kysely as unknown as Kysely<WalletDatabase>;

const isSqlite = (db: Kysely<any>): boolean => db.getExecutor().adapter instanceof SqliteAdapter;

export const walletMigrations: Record<string, Migration> = {
  '0200_wallet': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('wallet_balances')
        .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id'))
        .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`balance >= 0`))
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('wallet_entries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('credit', 'debit', 'refund')`))
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('balance_after', 'bigint', (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.notNull())
        .addColumn('provider', 'text')
        .addColumn('reference', 'text')
        .addColumn('note', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('wallet_entries_user_key', ['user_id', 'idempotency_key'])
        .execute();
      await db.schema.createIndex('wallet_entries_user_time').on('wallet_entries').columns(['user_id', 'created_at']).execute();
      await db.schema.createIndex('wallet_entries_reference').on('wallet_entries').column('reference').execute();
      // Entries are immutable: the database itself refuses UPDATE and DELETE.
      if (isSqlite(db)) {
        await sql`CREATE TRIGGER wallet_entries_no_update BEFORE UPDATE ON wallet_entries BEGIN SELECT RAISE(ABORT, 'wallet entries are immutable'); END`.execute(db);
        await sql`CREATE TRIGGER wallet_entries_no_delete BEFORE DELETE ON wallet_entries BEGIN SELECT RAISE(ABORT, 'wallet entries are immutable'); END`.execute(db);
      } else {
        await sql`CREATE FUNCTION wallet_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'wallet entries are immutable'; END $$`.execute(db);
        await sql`CREATE TRIGGER wallet_entries_no_change BEFORE UPDATE OR DELETE ON wallet_entries FOR EACH ROW EXECUTE FUNCTION wallet_entries_immutable()`.execute(db);
      }
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('wallet_entries').execute();
      await db.schema.dropTable('wallet_balances').execute();
      if (!isSqlite(db)) await sql`DROP FUNCTION IF EXISTS wallet_entries_immutable()`.execute(db);
    },
  },
};

