/**
 * Supporters tables: super chats (what was bought with each wallet debit)
 * and per-channel overlay secrets. Importing this module registers the
 * migrations (after the wallet's).
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import type { WalletDatabase } from '../../platform/wallet/db.js';
import '../../platform/wallet/db.js';

export interface SuperChatsTable {
  id: string;
  channel_id: string;
  user_id: string;
  /** KRW, whole won. */
  amount: number;
  message: string;
  tts: number;
  /** Index into the tier ladder in force when it was sent. */
  tier: number;
  /** Tier snapshot as JSON (colour, pin time, ...), so later config changes do not rewrite history. */
  tier_json: string;
  /** Stream session (the live stream's start time in ms, as text) or null when sent offline. */
  session_id: string | null;
  /** The wallet debit that paid for it. */
  entry_id: string;
  idempotency_key: string;
  /** SHA-256 of the request (channel, amount, message, tts): a reused key with another request is a conflict. */
  request_hash: string;
  created_at: number;
  /** Pinned in the ticker until this time (== created_at for tiers without a pin). */
  pinned_until: number;
  refunded_at: number | null;
}

export interface OverlayTokensTable {
  id: string;
  channel_id: string;
  /** SHA-256 of the secret; the secret is shown once at creation. */
  token_hash: string;
  label: string;
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface SupportersDatabase extends WalletDatabase {
  superchats: SuperChatsTable;
  overlay_tokens: OverlayTokensTable;
}

export const supportersDb = (db: Db): Kysely<SupportersDatabase> => db.kysely as unknown as Kysely<SupportersDatabase>;

export const supportersMigrations: Record<string, Migration> = {
  '0210_supporters': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('superchats')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('tts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('tier', 'integer', (c) => c.notNull())
        .addColumn('tier_json', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text')
        .addColumn('entry_id', 'text', (c) => c.notNull().unique())
        .addColumn('idempotency_key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('pinned_until', 'bigint', (c) => c.notNull())
        .addColumn('refunded_at', 'bigint')
        .addUniqueConstraint('superchats_user_key', ['user_id', 'idempotency_key'])
        .execute();
      await db.schema.createIndex('superchats_channel_pin').on('superchats').columns(['channel_id', 'pinned_until']).execute();
      await db.schema.createIndex('superchats_channel_session').on('superchats').columns(['channel_id', 'session_id']).execute();
      await db.schema.createIndex('superchats_channel_user').on('superchats').columns(['channel_id', 'user_id']).execute();
      await db.schema
        .createTable('overlay_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('overlay_tokens_channel').on('overlay_tokens').column('channel_id').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('overlay_tokens').execute();
      await db.schema.dropTable('superchats').execute();
    },
  },
};

