/**
 * Recordings (VODs): one row per recorded session part, its files on disk under
 * `${dataDir}/recordings/<dir>`, and the renditions, poster, seek thumbnails and captions
 * the jobs add. States: recording → finalizing → ready | failed.
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import { distinctRenditions } from './distinct-renditions.js';

export type RecordingState = 'recording' | 'finalizing' | 'ready' | 'failed';

export interface RecordingsTable {
  id: string;
  channel_id: string | null;
  channel_name: string;
  /** Media node that writes the files (recovery after a crash is done by that node). */
  node_id: string;
  state: RecordingState;
  /** Directory relative to `${dataDir}/recordings`. */
  dir: string;
  /** Index of this part when a session was split by the size/duration limits (0-based). */
  part: number;
  started_at: number;
  ended_at: number | null;
  duration_ms: number;
  size_bytes: number;
  width: number;
  height: number;
  video_codec: string | null;
  audio_codec: string | null;
  /** The broadcast title when the session started (editable); null for recordings made before titles were kept. */
  title: string | null;
  /** JSON Rendition[]. */
  renditions: string;
  poster: string | null;
  /** WebVTT thumbnails track (seek previews) file name. */
  thumbnails: string | null;
  /** JSON CaptionTrack[]. */
  captions: string;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface RecordingsDatabase {
  recordings: RecordingsTable;
}

/** recordingsMigrations are this feature's tables, collected by the composition root (src/app/). */
export const recordingsMigrations: Record<string, Migration> = {
  '0810_recordings': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('recordings')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel_id', 'text')
        .addColumn('channel_name', 'text', (c) => c.notNull())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('dir', 'text', (c) => c.notNull())
        .addColumn('part', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addColumn('duration_ms', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('size_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('width', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('height', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('video_codec', 'text')
        .addColumn('audio_codec', 'text')
        .addColumn('renditions', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('poster', 'text')
        .addColumn('thumbnails', 'text')
        .addColumn('captions', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('recordings_channel').on('recordings').columns(['channel_name', 'started_at']).execute();
      await db.schema.createIndex('recordings_state').on('recordings').columns(['state', 'node_id']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('recordings').execute();
    },
  },
  '0961_recordings_title': {
    // A VOD's title: the broadcast title when its session started (issue 23), editable; null before this.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('recordings').addColumn('title', 'text').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('recordings').dropColumn('title').execute();
    },
  },
};

/** Rendition is one playable file of a VOD. */
export interface Rendition {
  name: string;
  file: string;
  width: number;
  height: number;
  videoCodec: string | null;
  audioCodec: string | null;
  bytes: number;
}

export interface CaptionTrack {
  language: string;
  file: string;
}

/** Vod is the public view of a recording. */
export interface Vod {
  id: string;
  channel: string;
  /** The broadcast title at the session's start (or as edited); the channel name for older recordings. */
  title: string;
  state: RecordingState;
  part: number;
  startedAt: number;
  endedAt: number | null;
  durationMs: number;
  sizeBytes: number;
  width: number;
  height: number;
  videoCodec: string | null;
  audioCodec: string | null;
  renditions: (Rendition & { url: string })[];
  poster: string | null;
  thumbnails: string | null;
  captions: (CaptionTrack & { url: string })[];
  error: string | null;
}

function parseList<T>(s: string): T[] {
  try {
    const v = JSON.parse(s) as unknown;
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

/** vodFileUrl is where GET /vod-files serves a recording's file. */
export const vodFileUrl = (id: string, file: string) => `/vod-files/${encodeURIComponent(id)}/${encodeURIComponent(file)}`;

export function toVod(r: RecordingsTable): Vod {
  return {
    id: r.id,
    channel: r.channel_name,
    title: r.title ?? r.channel_name,
    state: r.state,
    part: Number(r.part),
    startedAt: Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    durationMs: Number(r.duration_ms),
    sizeBytes: Number(r.size_bytes),
    width: Number(r.width),
    height: Number(r.height),
    videoCodec: r.video_codec,
    audioCodec: r.audio_codec,
    renditions: distinctRenditions(parseList<Rendition>(r.renditions)).map((x) => ({ ...x, url: vodFileUrl(r.id, x.file) })),
    poster: r.poster ? vodFileUrl(r.id, r.poster) : null,
    thumbnails: r.thumbnails ? vodFileUrl(r.id, r.thumbnails) : null,
    captions: parseList<CaptionTrack>(r.captions).map((x) => ({ ...x, url: vodFileUrl(r.id, x.file) })),
    error: r.error,
  };
}

export type NewRecording = Pick<RecordingsTable, 'id' | 'channel_id' | 'channel_name' | 'node_id' | 'dir' | 'part' | 'started_at' | 'width' | 'height' | 'video_codec' | 'audio_codec'> & { title?: string | null };

/** RecordingStore reads and writes recording rows. */
export class RecordingStore {
  private readonly k: Kysely<RecordingsDatabase>;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.k = db.kysely as unknown as Kysely<RecordingsDatabase>;
  }

  async create(r: NewRecording): Promise<RecordingsTable> {
    const now = this.now();
    const row: RecordingsTable = {
      ...r, title: r.title ?? null, state: 'recording', ended_at: null, duration_ms: 0, size_bytes: 0, renditions: '[]', poster: null, thumbnails: null, captions: '[]', error: null, created_at: now, updated_at: now,
    };
    await this.k.insertInto('recordings').values(row).execute();
    return row;
  }

  async get(id: string): Promise<RecordingsTable | undefined> {
    return this.k.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async update(id: string, patch: Partial<Omit<RecordingsTable, 'id'>>): Promise<void> {
    await this.k.updateTable('recordings').set({ ...patch, updated_at: this.now() }).where('id', '=', id).execute();
  }

  /** unfinished lists a node's recordings that a crash left in 'recording' or 'finalizing'. */
  async unfinished(nodeId: string): Promise<RecordingsTable[]> {
    return this.k.selectFrom('recordings').selectAll().where('node_id', '=', nodeId).where('state', 'in', ['recording', 'finalizing']).orderBy('started_at').execute();
  }

  /** list pages recordings; `channelId` keeps a channel's own (a re-created name has another id). */
  async list(f: { channel?: string; channelId?: string; states?: RecordingState[]; limit?: number; offset?: number } = {}): Promise<{ items: RecordingsTable[]; total: number }> {
    let q = this.k.selectFrom('recordings');
    if (f.channel) q = q.where('channel_name', '=', f.channel);
    if (f.channelId) q = q.where('channel_id', '=', f.channelId);
    if (f.states) q = q.where('state', 'in', f.states);
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const items = await q.selectAll().orderBy('started_at', 'desc').orderBy('id').limit(f.limit ?? 20).offset(f.offset ?? 0).execute();
    return { items, total: Number(total?.n ?? 0) };
  }

  /** expired lists finished recordings that ended before `before`. */
  async endedBefore(before: number): Promise<RecordingsTable[]> {
    return this.k.selectFrom('recordings').selectAll().where('state', 'in', ['ready', 'failed']).where('ended_at', '<', before).execute();
  }

  /** bytesOfChannel sums the size of a channel's recordings (for record.channelQuotaBytes). */
  async bytesOfChannel(channelId: string): Promise<number> {
    const r = await this.k.selectFrom('recordings').select((eb) => eb.fn.sum<number>('size_bytes').as('n')).where('channel_id', '=', channelId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** oldestFirst lists finished recordings, oldest first (for the disk quota). */
  async finishedOldestFirst(nodeId?: string): Promise<RecordingsTable[]> {
    let q = this.k.selectFrom('recordings').selectAll().where('state', 'in', ['ready', 'failed']);
    if (nodeId) q = q.where('node_id', '=', nodeId);
    return q.orderBy('started_at').execute();
  }

  async remove(id: string): Promise<void> {
    await this.k.deleteFrom('recordings').where('id', '=', id).execute();
  }

  /** addRendition replaces the rendition of the same name. */
  async addRendition(id: string, r: Rendition): Promise<void> {
    const row = await this.get(id);
    if (!row) return;
    const list = parseList<Rendition>(row.renditions).filter((x) => x.name !== r.name);
    list.push(r);
    await this.update(id, { renditions: JSON.stringify(list), size_bytes: list.reduce((a, x) => a + x.bytes, 0) });
  }

  async addCaptions(id: string, c: CaptionTrack): Promise<void> {
    const row = await this.get(id);
    if (!row) return;
    const list = parseList<CaptionTrack>(row.captions).filter((x) => x.language !== c.language);
    list.push(c);
    await this.update(id, { captions: JSON.stringify(list) });
  }
}
