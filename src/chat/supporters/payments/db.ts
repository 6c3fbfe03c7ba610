/**
 * Top-up tables: one row per checkout (its current state) and an append-only
 * trail of every state change. The money itself moves only in the wallet
 * ledger; a paid top-up names its credit entry.
 */
import { sql, SqliteAdapter, type Kysely, type Migration } from 'kysely';
import type { Db } from '../../../platform/db/connect.js';
import type { WalletDatabase } from '../../../platform/wallet/db.js';

/** TopupStatus: pending until the provider confirms (paid) or declines (failed); refunded after a refund. */
export type TopupStatus = 'pending' | 'paid' | 'failed' | 'refunded';

export interface WalletTopupsTable {
  id: string;
  user_id: string;
  /** KRW the server asked the provider to charge; a confirmation must carry exactly this. */
  amount: number;
  status: TopupStatus;
  provider: string;
  /** The provider's payment id: unique per provider, the credit's idempotency key. */
  payment_id: string;
  /** Where the payer's browser pays (the provider's page). */
  checkout_url: string;
  /** The wallet credit of a paid top-up. */
  entry_id: string | null;
  /** The wallet debit that took a refunded top-up back. */
  refund_entry_id: string | null;
  created_at: number;
  updated_at: number;
}

/** TopupEventKind names an audit record: each state change, and each refused confirmation. */
export type TopupEventKind = 'created' | 'paid' | 'failed' | 'refunded' | 'amount_mismatch';

export interface WalletTopupEventsTable {
  id: string;
  topup_id: string;
  kind: TopupEventKind;
  /** JSON with what the provider reported (amounts, reason). */
  detail: string;
  /** Who caused it: the user, "provider:test", an admin's name. */
  actor: string;
  created_at: number;
}

export interface PaymentsDatabase extends WalletDatabase {
  wallet_topups: WalletTopupsTable;
  wallet_topup_events: WalletTopupEventsTable;
}

export const paymentsDb = (db: Db): Kysely<PaymentsDatabase> => db.kysely as unknown as Kysely<PaymentsDatabase>;

const isSqlite = (db: Kysely<any>): boolean => db.getExecutor().adapter instanceof SqliteAdapter;

export const paymentsMigrations: Record<string, Migration> = {
  '0960_wallet_topups': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('wallet_topups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount > 0`))
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'paid', 'failed', 'refunded')`))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('payment_id', 'text', (c) => c.notNull())
        .addColumn('checkout_url', 'text', (c) => c.notNull())
        .addColumn('entry_id', 'text')
        .addColumn('refund_entry_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('wallet_topups_payment', ['provider', 'payment_id'])
        .execute();
      await db.schema.createIndex('wallet_topups_user_time').on('wallet_topups').columns(['user_id', 'created_at']).execute();
      await db.schema
        .createTable('wallet_topup_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('topup_id', 'text', (c) => c.notNull().references('wallet_topups.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('wallet_topup_events_topup').on('wallet_topup_events').columns(['topup_id', 'created_at']).execute();
      // The trail is immutable like the ledger: the database refuses UPDATE and DELETE.
      if (isSqlite(db)) {
        await sql`CREATE TRIGGER wallet_topup_events_no_update BEFORE UPDATE ON wallet_topup_events BEGIN SELECT RAISE(ABORT, 'top-up events are immutable'); END`.execute(db);
        await sql`CREATE TRIGGER wallet_topup_events_no_delete BEFORE DELETE ON wallet_topup_events BEGIN SELECT RAISE(ABORT, 'top-up events are immutable'); END`.execute(db);
      } else {
        await sql`CREATE TRIGGER wallet_topup_events_no_change BEFORE UPDATE OR DELETE ON wallet_topup_events FOR EACH ROW EXECUTE FUNCTION wallet_entries_immutable()`.execute(db);
      }
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('wallet_topup_events').execute();
      await db.schema.dropTable('wallet_topups').execute();
    },
  },
};
