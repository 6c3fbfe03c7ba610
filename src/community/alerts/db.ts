/** The alert sound table: each channel's choice and upload. */
import type { Kysely, Migration } from 'kysely';
import type { Database } from '../../platform/db/schema.js';

export interface AlertSoundsTable {
  channel_id: string;
  sound: string;
  /** The upload's media type, or null. */
  custom_type: string | null;
  /** The upload, base64 (text keeps one column type on SQLite and PostgreSQL). */
  custom_data: string | null;
  updated_at: number;
}

export interface AlertSoundsDatabase extends Database {
  alert_sounds: AlertSoundsTable;
}

export const alertSoundsMigrations: Record<string, Migration> = {
  '0972_alert_sounds': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('alert_sounds')
        .addColumn('channel_id', 'text', (c) => c.primaryKey().references('channels.id').onDelete('cascade'))
        .addColumn('sound', 'text', (c) => c.notNull())
        .addColumn('custom_type', 'text')
        .addColumn('custom_data', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('alert_sounds').execute();
    },
  },
};

