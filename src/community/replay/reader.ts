/**
 * ReplayReader pages a recording's (or a clip's) stored chat by offset: messages in
 * [from, to) ordered by offset, with a cursor for the next page. A clip's offsets are relative
 * to the clip's start.
 */
import type { Kysely } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import { chatReplayDb, type ChatReplayDatabase } from './db.js';

/** MAX_REPLAY_PAGE bounds one page. */
export const MAX_REPLAY_PAGE = 1000;

/** ReplayMessage is a stored publication with its offset (ms from the start of the VOD or clip). */
export type ReplayMessage = Record<string, unknown> & { offsetMs: number; id: string; type: string };

export interface ReplayPage {
  messages: ReplayMessage[];
  /** Cursor of the following page within the same range, or null. */
  next: string | null;
}

export interface ReplayQuery {
  fromMs?: number;
  toMs?: number;
  limit: number;
  cursor?: string;
}

const encodeCursor = (offset: number, id: string): string => `${offset}_${id}`;

function decodeCursor(cursor: string): { offset: number; id: string } | null {
  const i = cursor.indexOf('_');
  if (i <= 0) return null;
  const offset = Number(cursor.slice(0, i));
  const id = cursor.slice(i + 1);
  return Number.isSafeInteger(offset) && id !== '' ? { offset, id } : null;
}

export class ReplayReader {
  private readonly k: Kysely<ChatReplayDatabase>;

  constructor(db: Db) {
    this.k = chatReplayDb(db);
  }

  /** forRecording pages a VOD's chat; null when there is no such VOD. Throws RangeError on a bad cursor. */
  async forRecording(recordingId: string, q: ReplayQuery): Promise<ReplayPage | null> {
    const vod = await this.k.selectFrom('recordings').select('id').where('id', '=', recordingId).executeTakeFirst();
    if (!vod) return null;
    return this.page(recordingId, 0, q);
  }

  /** forClip pages a clip's slice of its source VOD's chat, offsets relative to the clip; null when there is no such clip. */
  async forClip(clipId: string, q: ReplayQuery): Promise<ReplayPage | null> {
    const clip = await this.k.selectFrom('clips').select(['source_vod_id', 'start_ms', 'duration_ms']).where('id', '=', clipId).executeTakeFirst();
    if (!clip) return null;
    if (clip.source_vod_id === null) return { messages: [], next: null };
    const duration = Number(clip.duration_ms);
    const from = Math.max(0, q.fromMs ?? 0);
    const to = Math.min(duration, q.toMs ?? duration);
    return this.page(clip.source_vod_id, Number(clip.start_ms), { ...q, fromMs: from, toMs: to });
  }

  private async page(recordingId: string, base: number, q: ReplayQuery): Promise<ReplayPage> {
    const limit = Math.min(Math.max(1, Math.trunc(q.limit)), MAX_REPLAY_PAGE);
    let sel = this.k.selectFrom('chat_replay').select(['message_id', 'type', 'offset_ms', 'data']).where('recording_id', '=', recordingId);
    if (q.fromMs !== undefined) sel = sel.where('offset_ms', '>=', base + q.fromMs);
    if (q.toMs !== undefined) sel = sel.where('offset_ms', '<', base + q.toMs);
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      if (!c) throw new RangeError('cursor');
      sel = sel.where((eb) => eb.or([eb('offset_ms', '>', c.offset), eb.and([eb('offset_ms', '=', c.offset), eb('message_id', '>', c.id)])]));
    }
    const rows = await sel.orderBy('offset_ms').orderBy('message_id').limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      messages: page.map((r) => ({ ...(JSON.parse(r.data) as Record<string, unknown>), id: r.message_id, type: r.type, offsetMs: Number(r.offset_ms) - base })),
      next: rows.length > limit && last ? encodeCursor(Number(last.offset_ms), last.message_id) : null,
    };
  }
}
