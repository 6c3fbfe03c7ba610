/**
 * Clips: one row per clip (the last seconds of a live stream, or a range of a VOD), its MP4
 * and poster under `${dataDir}/clips/`. States: pending → ready | failed. A clip outlives its
 * source recording (sourceVodId may then point at nothing).
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';

export type ClipState = 'pending' | 'ready' | 'failed';
export type ClipKind = 'live' | 'vod';

export interface ClipsTable {
  id: string;
  channel_id: string | null;
  channel_name: string;
  kind: ClipKind;
  /** The recording it was cut from (for a live clip, the recording being written then). */
  source_vod_id: string | null;
  /** User id of the creator. */
  created_by: string;
  title: string;
  /** Start in the source's media time (the keyframe the clip begins at once cut), ms. */
  start_ms: number;
  duration_ms: number;
  state: ClipState;
  error: string | null;
  /** File names under `${dataDir}/clips/` once ready. */
  file: string | null;
  poster: string | null;
  size_bytes: number;
  /** Node whose disk holds the files (and which fails its own pending clips after a restart). */
  node_id: string;
  created_at: number;
  updated_at: number;
}

export interface ClipsDatabase {
  clips: ClipsTable;
}

/** clipsMigrations are this feature's tables, collected by the composition root (src/app/). */
export const clipsMigrations: Record<string, Migration> = {
  '0910_clips': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('clips')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel_id', 'text')
        .addColumn('channel_name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('source_vod_id', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('start_ms', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('duration_ms', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('file', 'text')
        .addColumn('poster', 'text')
        .addColumn('size_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('clips_channel').on('clips').columns(['channel_name', 'created_at']).execute();
      await db.schema.createIndex('clips_creator').on('clips').columns(['created_by', 'created_at']).execute();
      await db.schema.createIndex('clips_source').on('clips').column('source_vod_id').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('clips').execute();
    },
  },
};

/** Clip is the public view of a clip. */
export interface Clip {
  id: string;
  channel: string;
  kind: ClipKind;
  sourceVodId: string | null;
  createdBy: string;
  title: string;
  startSeconds: number;
  durationSeconds: number;
  state: ClipState;
  error: string | null;
  sizeBytes: number;
  /** MP4 URL once ready. */
  url: string | null;
  poster: string | null;
  createdAt: number;
}

/** clipFileUrl is where a clip's file is served. */
export const clipFileUrl = (id: string, file: string) => `/clip-files/${encodeURIComponent(id)}/${encodeURIComponent(file)}`;

/** toClip presents a row. */
export function toClip(r: ClipsTable): Clip {
  const ready = r.state === 'ready';
  return {
    id: r.id,
    channel: r.channel_name,
    kind: r.kind,
    sourceVodId: r.source_vod_id,
    createdBy: r.created_by,
    title: r.title,
    startSeconds: Number(r.start_ms) / 1000,
    durationSeconds: Number(r.duration_ms) / 1000,
    state: r.state,
    error: r.error,
    sizeBytes: Number(r.size_bytes),
    url: ready && r.file ? clipFileUrl(r.id, r.file) : null,
    poster: ready && r.poster ? clipFileUrl(r.id, r.poster) : null,
    createdAt: Number(r.created_at),
  };
}

export type NewClip = Pick<ClipsTable, 'id' | 'channel_id' | 'channel_name' | 'kind' | 'source_vod_id' | 'created_by' | 'title' | 'start_ms' | 'duration_ms' | 'node_id'>;

/** ClipStore reads and writes clip rows. */
export class ClipStore {
  private readonly k: Kysely<ClipsDatabase>;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.k = db.kysely as unknown as Kysely<ClipsDatabase>;
  }

  async create(c: NewClip): Promise<ClipsTable> {
    const now = this.now();
    const row: ClipsTable = { ...c, state: 'pending', error: null, file: null, poster: null, size_bytes: 0, created_at: now, updated_at: now };
    await this.k.insertInto('clips').values(row).execute();
    return row;
  }

  async get(id: string): Promise<ClipsTable | undefined> {
    return this.k.selectFrom('clips').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async update(id: string, patch: Partial<Omit<ClipsTable, 'id'>>): Promise<void> {
    await this.k.updateTable('clips').set({ ...patch, updated_at: this.now() }).where('id', '=', id).execute();
  }

  async remove(id: string): Promise<void> {
    await this.k.deleteFrom('clips').where('id', '=', id).execute();
  }

  /** list gives clips newest first, by channel and/or source VOD (ready ones only unless `states` says otherwise). */
  async list(f: { channel?: string; sourceVodId?: string; states?: ClipState[]; limit?: number; offset?: number } = {}): Promise<{ items: ClipsTable[]; total: number }> {
    let q = this.k.selectFrom('clips');
    if (f.channel) q = q.where('channel_name', '=', f.channel);
    if (f.sourceVodId) q = q.where('source_vod_id', '=', f.sourceVodId);
    if (f.states) q = q.where('state', 'in', f.states);
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const items = await q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit ?? 20).offset(f.offset ?? 0).execute();
    return { items, total: Number(total?.n ?? 0) };
  }

  /** recentBy counts a user's clips since `since` and gives the oldest and newest creation times among them (rate limits). */
  async recentBy(userId: string, since: number): Promise<{ count: number; oldest: number | null; newest: number | null }> {
    const r = await this.k
      .selectFrom('clips')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('created_at').as('oldest'), eb.fn.max('created_at').as('newest')])
      .where('created_by', '=', userId)
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return { count: Number(r?.n ?? 0), oldest: r?.oldest == null ? null : Number(r.oldest), newest: r?.newest == null ? null : Number(r.newest) };
  }

  /** failPending marks a node's pending clips failed (their cut died with the previous run). */
  async failPending(nodeId: string, error: string): Promise<number> {
    const r = await this.k.updateTable('clips').set({ state: 'failed', error, updated_at: this.now() }).where('node_id', '=', nodeId).where('state', '=', 'pending').executeTakeFirst();
    return Number(r.numUpdatedRows);
  }
}
