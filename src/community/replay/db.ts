/** The chat replay table: a recording's chat and super chats, each at its offset in the recording. */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import type { Database } from '../../platform/db/schema.js';
import type { RecordingsTable } from '../../media/record/vods.js';
import type { ClipsTable } from '../../media/clips/db.js';

export interface ChatReplayTable {
  recording_id: string;
  channel_name: string;
  /** The publication's own id (chat message or super chat). */
  message_id: string;
  type: string;
  /** Milliseconds from the recording's start. */
  offset_ms: number;
  /** When it was published, epoch ms. */
  at: number;
  /** The publication as the chat carried it (JSON). */
  data: string;
}

export interface ChatReplayDatabase extends Database {
  chat_replay: ChatReplayTable;
  recordings: RecordingsTable;
  clips: ClipsTable;
}

export const chatReplayDb = (db: Db): Kysely<ChatReplayDatabase> => db.kysely as unknown as Kysely<ChatReplayDatabase>;

export const chatReplayMigrations: Record<string, Migration> = {
  '0971_chat_replay': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('chat_replay')
        .addColumn('recording_id', 'text', (c) => c.notNull())
        .addColumn('channel_name', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('offset_ms', 'bigint', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('chat_replay_pk', ['recording_id', 'message_id'])
        .execute();
      await db.schema.createIndex('chat_replay_offset').on('chat_replay').columns(['recording_id', 'offset_ms']).execute();
      await db.schema.createIndex('chat_replay_channel_at').on('chat_replay').columns(['channel_name', 'at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('chat_replay').execute();
    },
  },
};
