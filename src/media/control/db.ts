/**
 * Stream control tables: restream targets per channel and publish blocks (a channel refuses
 * new publishes until a time, after its stream was ended). Own tables keyed by channel id so
 * the platform's channels table stays as it is; rows of a deleted channel are never read again
 * (and removed with it where the engine enforces the foreign key).
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import { newId } from '../../platform/ids.js';

export interface RestreamTargetsTable {
  id: string;
  channel_id: string;
  name: string;
  /** rtmp://host[:port]/app without the stream key. */
  url: string;
  /** Kept in clear: the relay has to send it. Never returned by the API in full. */
  stream_key: string;
  /** 1: push while live, 0: kept but idle. */
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface PublishBlocksTable {
  channel_id: string;
  /** Epoch ms until which publishes to the channel are refused. */
  until_ms: number;
  reason: string | null;
  /** User id of whoever ended the stream ('' for the admin token). */
  created_by: string;
  created_at: number;
}

interface ControlDatabase {
  restream_targets: RestreamTargetsTable;
  publish_blocks: PublishBlocksTable;
}

/** controlMigrations are this feature's tables, collected by the composition root (src/app/). */
export const controlMigrations: Record<string, Migration> = {
  '0900_stream_control': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('restream_targets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('stream_key', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('restream_targets_channel').on('restream_targets').column('channel_id').execute();
      await db.schema
        .createTable('publish_blocks')
        .addColumn('channel_id', 'text', (c) => c.primaryKey().references('channels.id').onDelete('cascade'))
        .addColumn('until_ms', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('publish_blocks').execute();
      await db.schema.dropTable('restream_targets').execute();
    },
  },
};

export interface TargetInput {
  name: string;
  url: string;
  streamKey: string;
  enabled: boolean;
}

/** ControlStore reads and writes restream targets and publish blocks. */
export class ControlStore {
  private readonly k: Kysely<ControlDatabase>;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.k = db.kysely as unknown as Kysely<ControlDatabase>;
  }

  // ------------------------------------------------------------ restream targets

  async listTargets(channelId: string): Promise<RestreamTargetsTable[]> {
    return this.k.selectFrom('restream_targets').selectAll().where('channel_id', '=', channelId).orderBy('created_at').orderBy('id').execute();
  }

  async countTargets(channelId: string): Promise<number> {
    const r = await this.k.selectFrom('restream_targets').select((eb) => eb.fn.countAll<number | string>().as('n')).where('channel_id', '=', channelId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async getTarget(channelId: string, id: string): Promise<RestreamTargetsTable | undefined> {
    return this.k.selectFrom('restream_targets').selectAll().where('channel_id', '=', channelId).where('id', '=', id).executeTakeFirst();
  }

  async createTarget(channelId: string, input: TargetInput): Promise<RestreamTargetsTable> {
    const now = this.now();
    const row: RestreamTargetsTable = {
      id: newId(), channel_id: channelId, name: input.name, url: input.url, stream_key: input.streamKey, enabled: input.enabled ? 1 : 0, created_at: now, updated_at: now,
    };
    await this.k.insertInto('restream_targets').values(row).execute();
    return row;
  }

  async updateTarget(channelId: string, id: string, patch: Partial<TargetInput>): Promise<RestreamTargetsTable | undefined> {
    const set: Partial<RestreamTargetsTable> = { updated_at: this.now() };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.url !== undefined) set.url = patch.url;
    if (patch.streamKey !== undefined) set.stream_key = patch.streamKey;
    if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
    const r = await this.k.updateTable('restream_targets').set(set).where('channel_id', '=', channelId).where('id', '=', id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return undefined;
    return this.getTarget(channelId, id);
  }

  async deleteTarget(channelId: string, id: string): Promise<boolean> {
    const r = await this.k.deleteFrom('restream_targets').where('channel_id', '=', channelId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // ------------------------------------------------------------ publish blocks

  /** block refuses publishes to the channel until untilMs (replaces an earlier block). */
  async block(channelId: string, untilMs: number, reason: string | null, createdBy: string): Promise<void> {
    const values: PublishBlocksTable = { channel_id: channelId, until_ms: untilMs, reason, created_by: createdBy, created_at: this.now() };
    await this.k
      .insertInto('publish_blocks')
      .values(values)
      .onConflict((oc) => oc.column('channel_id').doUpdateSet({ until_ms: values.until_ms, reason: values.reason, created_by: values.created_by, created_at: values.created_at }))
      .execute();
  }

  /** activeBlock is the channel's block while it lasts (an expired one reads as none). */
  async activeBlock(channelId: string): Promise<PublishBlocksTable | undefined> {
    const row = await this.k.selectFrom('publish_blocks').selectAll().where('channel_id', '=', channelId).executeTakeFirst();
    return row && row.until_ms > this.now() ? row : undefined;
  }

  /** unblock lifts the channel's block; true when one was active. */
  async unblock(channelId: string): Promise<boolean> {
    const active = await this.activeBlock(channelId);
    await this.k.deleteFrom('publish_blocks').where('channel_id', '=', channelId).execute();
    return !!active;
  }
}
