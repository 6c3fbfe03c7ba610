/**
 * Notification tables: each follower's in-app notifications, and the claim that makes a
 * channel's go-live notice happen once per live session whichever node saw the publish.
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import type { Database } from '../../platform/db/schema.js';

export interface NotificationsTable {
  id: string;
  user_id: string;
  /** What happened: 'live' (a followed channel went live). */
  type: string;
  channel_id: string;
  channel_name: string;
  /** The broadcast title when it was sent. */
  title: string;
  /** The live session it announces (its start in epoch ms, as text). */
  session: string;
  created_at: number;
  read_at: number | null;
}

export interface LiveNoticesTable {
  channel_id: string;
  /** The session the last notice announced. */
  session: string;
  notified_at: number;
}

export interface NotificationsDatabase extends Database {
  notifications: NotificationsTable;
  live_notices: LiveNoticesTable;
}

export const notificationsDb = (db: Db): Kysely<NotificationsDatabase> => db.kysely as unknown as Kysely<NotificationsDatabase>;

export const notificationsMigrations: Record<string, Migration> = {
  '0970_notifications': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('channel_name', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('session', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('read_at', 'bigint')
        .execute();
      await db.schema.createIndex('notifications_user_created').on('notifications').columns(['user_id', 'created_at']).execute();
      await db.schema
        .createTable('live_notices')
        .addColumn('channel_id', 'text', (c) => c.primaryKey().references('channels.id').onDelete('cascade'))
        .addColumn('session', 'text', (c) => c.notNull())
        .addColumn('notified_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('live_notices').execute();
      await db.schema.dropTable('notifications').execute();
    },
  },
};
