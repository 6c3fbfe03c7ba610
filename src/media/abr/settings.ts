/**
 * Per-channel live ABR switch: a row in `channel_abr` overrides config media.abr.enabled
 * for that channel. Kept in its own table (keyed by channel id) so the platform's channels
 * table stays as it is; a deleted channel's row is simply never looked up again.
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';

export interface ChannelAbrTable {
  channel_id: string;
  /** 1: ABR on, 0: off. */
  enabled: number;
  updated_at: number;
}

interface AbrDatabase {
  channel_abr: ChannelAbrTable;
}

/** abrMigrations are this feature's tables, collected by the composition root (src/app/). */
export const abrMigrations: Record<string, Migration> = {
  '0830_channel_abr': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('channel_abr')
        .addColumn('channel_id', 'text', (c) => c.primaryKey())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('channel_abr').execute();
    },
  },
};

/** AbrSettings reads and writes the per-channel switch. */
export class AbrSettings {
  private readonly k: Kysely<AbrDatabase>;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.k = db.kysely as unknown as Kysely<AbrDatabase>;
  }

  /** get is the channel's own setting: true/false, or undefined when it follows the default. */
  async get(channelId: string): Promise<boolean | undefined> {
    const row = await this.k.selectFrom('channel_abr').select('enabled').where('channel_id', '=', channelId).executeTakeFirst();
    return row ? row.enabled === 1 : undefined;
  }

  /** set stores the channel's setting; null removes it (back to the default). */
  async set(channelId: string, enabled: boolean | null): Promise<void> {
    if (enabled === null) {
      await this.k.deleteFrom('channel_abr').where('channel_id', '=', channelId).execute();
      return;
    }
    const values = { channel_id: channelId, enabled: enabled ? 1 : 0, updated_at: this.now() };
    await this.k.insertInto('channel_abr').values(values).onConflict((oc) => oc.column('channel_id').doUpdateSet({ enabled: values.enabled, updated_at: values.updated_at })).execute();
  }
}
