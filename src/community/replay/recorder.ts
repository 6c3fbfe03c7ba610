/**
 * ReplayRecorder keeps a channel's chat for its recording: every chat message and super chat this
 * chat node publishes in `chat:{channel}` while the channel is being recorded is stored with its
 * offset from the recording's start; moderation's deletions, clears and refunds remove what they
 * name. Publications are queued and written in order a few times a second, off the publish path.
 */
import type { Kysely } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import type { Logger } from '../../observability/logger.js';
import { chatReplayDb, type ChatReplayDatabase } from './db.js';

const CHAT_PREFIX = 'chat:';
/** REPLAYED_TYPES are the publications a replay shows. */
export const REPLAYED_TYPES: ReadonlySet<string> = new Set(['message', 'superchat']);
/** FLUSH_MS: how often queued publications are written. */
const FLUSH_MS = 250;
/** RECORDING_CACHE_MS: how long "channel X is being recorded as Y (or not)" is believed. */
const RECORDING_CACHE_MS = 2000;
/** MAX_CACHED_CHANNELS bounds the recording lookups kept. */
const MAX_CACHED_CHANNELS = 10_000;
/** MAX_QUEUED bounds the publications waiting for a write (a database outage drops the excess). */
const MAX_QUEUED = 50_000;

type Op =
  | { kind: 'add'; channel: string; at: number; id: string; type: string; data: string }
  | { kind: 'delete'; channel: string; ids: string[] }
  | { kind: 'clear'; channel: string; at: number };

interface Active { recording: { id: string; startedAt: number } | null; checkedAt: number }

/** parseOp reads what a chat publication means for the replay, or null when nothing. */
export function parseOp(channel: string, data: string, at: number): Op | null {
  if (!channel.startsWith(CHAT_PREFIX)) return null;
  const name = channel.slice(CHAT_PREFIX.length);
  let d: unknown;
  try {
    d = JSON.parse(data);
  } catch {
    return null;
  }
  if (d === null || typeof d !== 'object' || Array.isArray(d)) return null;
  const o = d as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string') return null;
  if (REPLAYED_TYPES.has(type) && typeof o.id === 'string' && o.id !== '') return { kind: 'add', channel: name, at, id: o.id, type, data };
  if (type === 'delete' && Array.isArray(o.ids)) return { kind: 'delete', channel: name, ids: o.ids.filter((x): x is string => typeof x === 'string') };
  if (type === 'superchat.refunded' && typeof o.id === 'string') return { kind: 'delete', channel: name, ids: [o.id] };
  if (type === 'clear') return { kind: 'clear', channel: name, at };
  return null;
}

export class ReplayRecorder {
  private readonly k: Kysely<ChatReplayDatabase>;
  private queue: Op[] = [];
  private readonly active = new Map<string, Active>();
  /** Messages stored per recording (read from the database the first time a recording is seen). */
  private readonly counts = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(private readonly deps: { db: Db; maxPerRecording: number; logger: Logger; now?: () => number }) {
    this.k = chatReplayDb(deps.db);
  }

  /** listener is the chat publish listener. */
  readonly listener = (channel: string, data: string): void => {
    const op = parseOp(channel, data, this.deps.now?.() ?? Date.now());
    if (!op) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push(op);
  };

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), FLUSH_MS);
  }

  /** stop writes what is queued and stops the timer. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** flush writes the queued publications in order (one write at a time). */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.write()).catch((err: unknown) => this.deps.logger.warn({ err }, 'chat replay: write failed'));
    return this.writing;
  }

  private async write(): Promise<void> {
    const ops = this.queue;
    this.queue = [];
    if (this.dropped > 0) {
      this.deps.logger.warn({ dropped: this.dropped }, 'chat replay: queue full, publications not stored');
      this.dropped = 0;
    }
    let adds: ChatReplayDatabase['chat_replay'][] = [];
    const writeAdds = async () => {
      if (adds.length === 0) return;
      await this.k.insertInto('chat_replay').values(adds).onConflict((oc) => oc.columns(['recording_id', 'message_id']).doNothing()).execute();
      adds = [];
    };
    for (const op of ops) {
      if (op.kind === 'add') {
        const rec = await this.recordingOf(op.channel);
        if (!rec || !(await this.take(rec.id))) continue;
        adds.push({ recording_id: rec.id, channel_name: op.channel, message_id: op.id, type: op.type, offset_ms: Math.max(0, Math.round(op.at - rec.startedAt)), at: op.at, data: op.data });
        continue;
      }
      await writeAdds();
      if (op.kind === 'delete') {
        if (op.ids.length > 0) await this.k.deleteFrom('chat_replay').where('channel_name', '=', op.channel).where('message_id', 'in', op.ids).execute();
      } else {
        const rec = await this.recordingOf(op.channel);
        if (rec) await this.k.deleteFrom('chat_replay').where('recording_id', '=', rec.id).where('at', '<=', op.at).execute();
      }
    }
    await writeAdds();
  }

  /** take counts one more message for a recording; false once it holds maxPerRecording. */
  private async take(recordingId: string): Promise<boolean> {
    let n = this.counts.get(recordingId);
    if (n === undefined) {
      const r = await this.k.selectFrom('chat_replay').select((eb) => eb.fn.countAll<number>().as('n')).where('recording_id', '=', recordingId).executeTakeFirstOrThrow();
      n = Number(r.n);
    }
    if (n >= this.deps.maxPerRecording) {
      this.counts.set(recordingId, n);
      return false;
    }
    this.counts.set(recordingId, n + 1);
    return true;
  }

  /** recordingOf is the channel's recording being written now (the newest part), or null. */
  private async recordingOf(channel: string): Promise<{ id: string; startedAt: number } | null> {
    const now = Date.now();
    const hit = this.active.get(channel);
    if (hit && now - hit.checkedAt < RECORDING_CACHE_MS) return hit.recording;
    const row = await this.k.selectFrom('recordings').select(['id', 'started_at']).where('channel_name', '=', channel).where('state', '=', 'recording')
      .orderBy('started_at', 'desc').limit(1).executeTakeFirst();
    const recording = row ? { id: row.id, startedAt: Number(row.started_at) } : null;
    if (this.active.size >= MAX_CACHED_CHANNELS) this.active.clear();
    this.active.set(channel, { recording, checkedAt: now });
    if (recording === null || hit?.recording?.id !== recording.id) this.forgetCounts(recording?.id);
    return recording;
  }

  /** forgetCounts drops the counts of recordings no longer written (keeping `keep`), so the map stays small. */
  private forgetCounts(keep: string | undefined): void {
    if (this.counts.size < MAX_CACHED_CHANNELS) return;
    for (const id of this.counts.keys()) if (id !== keep) this.counts.delete(id);
  }
}
