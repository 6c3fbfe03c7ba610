/**
 * In-memory Broker and PresenceManager for a single node (the default).
 * History streams live in process memory, bounded by size, TTL and meta TTL.
 */
import { randomBytes } from 'node:crypto';
import { LruMap } from '../lru.js';
import type { ClientInfo, Publication, StreamPosition } from '../protocol/codec.js';
import {
  countPresence,
  type Broker,
  type BrokerEventHandler,
  type ControlMessage,
  type HistoryOptions,
  type HistoryQuery,
  type HistoryResult,
  type PresenceManager,
  type PresenceStats,
} from './types.js';

const EPOCH_BYTES = 4;
const SWEEP_INTERVAL_MS = 10_000;
/** MAX_STREAMS bounds the history streams one process keeps (the Redis broker keeps them in Redis, with TTLs). */
export const MAX_STREAMS = 100_000;

/** newEpoch makes a short random stream epoch. */
export function newEpoch(): string {
  return randomBytes(EPOCH_BYTES).toString('hex');
}

interface Stream {
  epoch: string;
  top: number;
  /** Publications with offsets, oldest first. */
  pubs: Publication[];
  /** Time after which the publications are dropped (0 = never). */
  pubsExpireAt: number;
  /** Time after which the whole stream (epoch included) is forgotten. */
  metaExpireAt: number;
}

/** MemoryBroker implements Broker inside one process. */
export class MemoryBroker implements Broker {
  readonly name = 'memory';
  private handler: BrokerEventHandler | null = null;
  private readonly subscribed = new Set<string>();
  /** History streams, least recently used forgotten first beyond maxStreams (channel names come from clients). */
  private readonly streams: LruMap<string, Stream>;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(opts: { now?: () => number; maxStreams?: number } = {}) {
    this.now = opts.now ?? Date.now;
    this.streams = new LruMap(opts.maxStreams ?? MAX_STREAMS);
  }

  async start(handler: BrokerEventHandler): Promise<void> {
    this.handler = handler;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.handler = null;
    this.subscribed.clear();
    this.streams.clear();
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }

  private liveStream(channel: string, now: number): Stream | undefined {
    const st = this.streams.get(channel);
    if (st && st.metaExpireAt <= now) {
      this.streams.delete(channel);
      return undefined;
    }
    if (st) this.trimByTime(st, now);
    return st;
  }

  /** trimByTime drops the publications ttl after the last publish (the whole stream, as Redis EXPIRE does). */
  private trimByTime(st: Stream, now: number): void {
    if (st.pubsExpireAt > 0 && st.pubsExpireAt <= now && st.pubs.length > 0) st.pubs = [];
  }

  async publish(channel: string, pub: Publication, history: HistoryOptions): Promise<StreamPosition> {
    let position: StreamPosition = { offset: 0, epoch: '' };
    let out = pub;
    if (history.size > 0) {
      const now = this.now();
      let st = this.liveStream(channel, now);
      if (!st) {
        st = { epoch: newEpoch(), top: 0, pubs: [], pubsExpireAt: 0, metaExpireAt: 0 };
        this.streams.set(channel, st);
      }
      st.top++;
      st.pubsExpireAt = history.ttlSeconds > 0 ? now + history.ttlSeconds * 1000 : 0;
      st.metaExpireAt = now + Math.max(history.metaTtlSeconds, history.ttlSeconds) * 1000;
      out = { ...pub, offset: st.top };
      st.pubs.push(out);
      if (st.pubs.length > history.size) st.pubs.splice(0, st.pubs.length - history.size);
      position = { offset: st.top, epoch: st.epoch };
    }
    if (this.handler && this.subscribed.has(channel)) this.handler.onPublication(channel, out, position.epoch);
    return position;
  }

  async publishJoin(channel: string, info: ClientInfo): Promise<void> {
    if (this.handler && this.subscribed.has(channel)) this.handler.onJoin(channel, info);
  }

  async publishLeave(channel: string, info: ClientInfo): Promise<void> {
    if (this.handler && this.subscribed.has(channel)) this.handler.onLeave(channel, info);
  }

  async publishControl(msg: ControlMessage): Promise<void> {
    this.handler?.onControl(msg);
  }

  async history(channel: string, q: HistoryQuery): Promise<HistoryResult> {
    const now = this.now();
    let st = this.liveStream(channel, now);
    if (!st) {
      // Reading creates the stream's epoch, so a later publish continues it (as Redis does).
      st = { epoch: newEpoch(), top: 0, pubs: [], pubsExpireAt: 0, metaExpireAt: now + q.metaTtlSeconds * 1000 };
      this.streams.set(channel, st);
    } else if (q.metaTtlSeconds > 0) {
      st.metaExpireAt = Math.max(st.metaExpireAt, now + q.metaTtlSeconds * 1000);
    }
    const position = { offset: st.top, epoch: st.epoch };
    if (q.limit === 0) return { publications: [], position };
    let pubs: Publication[];
    if (q.since && q.since.epoch !== '' && q.since.epoch !== st.epoch) return { publications: [], position };
    if (!q.reverse) {
      const after = q.since ? q.since.offset : 0;
      pubs = st.pubs.filter((p) => p.offset! > after);
    } else {
      // Reverse with since pages backwards: publications older than since, newest first.
      const before = q.since ? q.since.offset : Infinity;
      pubs = st.pubs.filter((p) => p.offset! < before).reverse();
    }
    if (q.limit > 0 && pubs.length > q.limit) pubs = pubs.slice(0, q.limit);
    return { publications: pubs, position };
  }

  async removeHistory(channel: string): Promise<void> {
    const st = this.streams.get(channel);
    if (st) st.pubs = [];
  }

  private sweep(): void {
    const now = this.now();
    for (const [ch, st] of [...this.streams.entries()]) {
      if (st.metaExpireAt <= now) this.streams.delete(ch);
      else this.trimByTime(st, now);
    }
  }
}

interface PresenceEntry {
  info: ClientInfo;
  expireAt: number;
}

/** MemoryPresenceManager implements PresenceManager inside one process. */
export class MemoryPresenceManager implements PresenceManager {
  private readonly channels = new Map<string, Map<string, PresenceEntry>>();
  private readonly now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  async addPresence(channel: string, clientId: string, info: ClientInfo, ttlSeconds: number): Promise<void> {
    let m = this.channels.get(channel);
    if (!m) {
      m = new Map();
      this.channels.set(channel, m);
    }
    m.set(clientId, { info, expireAt: this.now() + ttlSeconds * 1000 });
  }

  async removePresence(channel: string, clientId: string): Promise<void> {
    const m = this.channels.get(channel);
    if (!m) return;
    m.delete(clientId);
    if (m.size === 0) this.channels.delete(channel);
  }

  async presence(channel: string): Promise<Record<string, ClientInfo>> {
    const m = this.channels.get(channel);
    const out: Record<string, ClientInfo> = {};
    if (!m) return out;
    const now = this.now();
    for (const [id, e] of m) {
      if (e.expireAt <= now) m.delete(id);
      else out[id] = e.info;
    }
    if (m.size === 0) this.channels.delete(channel);
    return out;
  }

  async presenceStats(channel: string): Promise<PresenceStats> {
    return countPresence(await this.presence(channel));
  }

  async close(): Promise<void> {
    this.channels.clear();
  }
}
