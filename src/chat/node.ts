/**
 * ChatNode is the server side of one onair chat process: the registry of
 * connected clients, the local channel hub that fans publications out to
 * subscribers (encoded once per batch, same bytes for every connection),
 * the ping wheel, and the glue to the Broker and PresenceManager.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import type { OnairConfig } from '../config/schema.js';
import type { PublishHook, RpcHandler } from './hooks.js';
import { Namespaces, HISTORY_META_TTL_SECONDS } from './namespaces.js';
import { Client, type SubEntry } from './client.js';
import type { Transport } from './transport/types.js';
import { SharedBatch } from './transport/types.js';
import {
  encodeClientInfo,
  encodePublication,
  encodePush,
  type ClientInfo,
  type Publication,
  type StreamPosition,
} from './protocol/codec.js';
import { ChatError, Disconnects, Errors, UnsubscribeCode, type Disconnect } from './protocol/codes.js';
import type { HistoryFilter } from './hooks.js';
import type { Broker, BrokerEventHandler, ControlMessage, HistoryResult, NodeInfo, PresenceManager } from './broker/types.js';
import type { ChatMetrics } from './metrics.js';
import type { ChatProxy } from './proxy/proxy.js';

/** VERSION is reported in connect replies and node info. */
export const VERSION = 'onair-0.1.0';
const PING_TICK_MS = 1000;
const SURVEY_TIMEOUT_MS = 1000;
const PRESENCE_REFRESH_BATCH = 500;
/**
 * FLUSH_SLICE_MS bounds one turn of client writes (a loopback socket write costs ~10 µs here, so
 * ~500 clients), after which the event loop reads again before the next slice.
 */
const FLUSH_SLICE_MS = 5;

/** ChatNodeOptions are tunables not in the config file (tests shorten them). */
export interface ChatNodeOptions {
  /** Grace after a token's expiry before the connection is closed with 3005. */
  expiredCloseDelayMs: number;
  /** Presence entries expire this long after their last refresh. */
  presenceTtlSeconds: number;
  /** How often presence entries are refreshed. */
  presenceRefreshMs: number;
  /** How often nodes announce themselves (info API). */
  nodeInfoIntervalMs: number;
  /** A connection that has not sent connect by then is closed with 3502 stale. */
  staleCloseDelayMs: number;
}

export const DEFAULT_NODE_OPTIONS: ChatNodeOptions = {
  expiredCloseDelayMs: 5000,
  presenceTtlSeconds: 60,
  presenceRefreshMs: 25_000,
  nodeInfoIntervalMs: 3000,
  staleCloseDelayMs: 10_000,
};

/** LocalChannel is one channel with subscribers on this node. */
export interface LocalChannel {
  name: string;
  entries: Set<SubEntry>;
  /** Pushes waiting for the end of the tick, with their offsets (0 if none). */
  pending: string[];
  pendingOffsets: number[];
  lastOffset: number;
  epoch: string;
  joinLeaveCount: number;
  /** Arrival time (performance.now) of the oldest pending push; for the fan-out delay metric. */
  pendingSince: number;
  /**
   * The channel's batch log: batches[i] has sequence number batchBase + i; the last has lastSeq.
   * A live subscription remembers the last sequence number it was handed (SubEntry.sent), so a
   * new batch costs nothing per subscriber: a round over the subscribers hands each what it lacks.
   */
  batches: SharedBatch[];
  batchBase: number;
  lastSeq: number;
  /** Subscriptions still subscribing (not live): they collect pushes in their buffer. */
  inactive: Set<SubEntry>;
  /** The running round over entries (a live Set iterator), or null. */
  round: Iterator<SubEntry> | null;
  /** lastSeq when the running round started: when it ends, every live entry has that batch. */
  roundSeq: number;
  /** Batches up to this sequence number have had their fan-out delay observed. */
  observedSeq: number;
}

/** ChatNode owns clients and channels of one process. */
export class ChatNode implements BrokerEventHandler {
  readonly uid = randomUUID();
  readonly name: string;
  readonly version = VERSION;
  readonly config: OnairConfig['chat'];
  readonly logger: Logger;
  readonly namespaces: Namespaces;
  readonly broker: Broker;
  readonly presence: PresenceManager;
  readonly metrics: ChatMetrics;
  readonly tokenSecret: string;
  readonly options: ChatNodeOptions;
  readonly publishHooks: PublishHook[] = [];
  readonly rpcHandlers = new Map<string, RpcHandler>();
  /** Filters applied to history and recovery replies (moderation hides deleted messages). */
  readonly historyFilters: HistoryFilter[] = [];
  readonly historyMetaTtlSeconds = HISTORY_META_TTL_SECONDS;
  sendHandler: ((client: Client, data: unknown) => void) | null = null;
  /** Other protocol front-ends (Pusher) see control messages too (disconnect/unsubscribe a user). */
  readonly controlListeners: ((msg: ControlMessage) => void)[] = [];
  /** Connections other front-ends hold on this node's channels (the Pusher protocol), counted in num_clients. */
  readonly clientCounters: (() => number)[] = [];
  // ---- proxy hooks (docs/chat-proxy.md) ----
  /** proxy asks the application backend about client events; null when chat.proxy configures none. */
  proxy: ChatProxy | null = null;

  private readonly clients = new Map<string, Client>();
  private readonly users = new Map<string, Set<Client>>();
  private readonly channels = new Map<string, LocalChannel>();
  /**
   * Clients with queued output, a FIFO written a time slice per event-loop turn (each client
   * once per visit, one write). A client that gets more output after its visit joins the end, so
   * a publication reaches every subscriber within one round over the list, and the event loop
   * keeps reading (publications, pongs, API calls) between slices.
   */
  private flushList: Client[] = [];
  /** Index of the next client to visit in flushList. */
  private flushHead = 0;
  /** Channels with a running round, in the order they are served. */
  private rounds: LocalChannel[] = [];
  private readonly dirtyChannels = new Set<LocalChannel>();
  /** A setImmediate pass is scheduled (client queues; channels too when channelsDue). */
  private immediateScheduled = false;
  /** Channel fan-out is due in the next immediate pass. */
  private channelsDue = false;
  /** Timer of a channel fan-out held back by writeBatchMs. */
  private channelTimer: NodeJS.Timeout | null = null;
  /** When the last channel fan-out pass ran (performance.now ms). */
  private lastFanoutAt = 0;
  private readonly pingBuckets: Set<Client>[];
  private pingTick = 0;
  private pingSeq = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private presenceTimer: NodeJS.Timeout | null = null;
  private nodeInfoTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();
  private readonly nodes = new Map<string, { info: NodeInfo; seenAt: number }>();
  private readonly surveys = new Map<string, { replies: Map<string, unknown>; done: () => void }>();
  private stopped = false;
  /** Leave work (presence removal, leave messages) still running; stop() waits for it. */
  private readonly inflight = new Set<Promise<void>>();

  constructor(deps: {
    config: OnairConfig['chat'];
    logger: Logger;
    broker: Broker;
    presence: PresenceManager;
    metrics: ChatMetrics;
    tokenSecret: string;
    name?: string;
    options?: Partial<ChatNodeOptions>;
  }) {
    this.config = deps.config;
    this.logger = deps.logger;
    this.broker = deps.broker;
    this.presence = deps.presence;
    this.metrics = deps.metrics;
    this.tokenSecret = deps.tokenSecret;
    this.name = deps.name ?? this.uid.slice(0, 8);
    this.options = { ...DEFAULT_NODE_OPTIONS, ...deps.options };
    this.namespaces = new Namespaces(deps.config.namespaces);
    this.pingBuckets = Array.from({ length: deps.config.pingSeconds }, () => new Set<Client>());
  }

  get presenceTtlSeconds(): number {
    return this.options.presenceTtlSeconds;
  }

  async start(): Promise<void> {
    await this.broker.start(this);
    this.pingTimer = setInterval(() => this.onPingTick(), PING_TICK_MS);
    this.pingTimer.unref();
    this.presenceTimer = setInterval(() => void this.refreshPresence(), this.options.presenceRefreshMs);
    this.presenceTimer.unref();
    this.nodeInfoTimer = setInterval(() => void this.announce(), this.options.nodeInfoIntervalMs);
    this.nodeInfoTimer.unref();
    await this.announce();
  }

  /** stop closes every connection with 3001 shutdown and stops timers (the broker is closed by the owner). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.pingTimer, this.presenceTimer, this.nodeInfoTimer]) if (t) clearInterval(t);
    this.pingTimer = this.presenceTimer = this.nodeInfoTimer = null;
    for (const c of [...this.clients.values()]) c.disconnect(Disconnects.shutdown);
    for (const c of [...this.pending]) c.disconnect(Disconnects.shutdown);
    this.flushAll();
    for (const s of this.surveys.values()) s.done();
    await Promise.allSettled([...this.inflight]);
  }

  /** track keeps a background task until it settles, so stop() can wait for it. */
  track(p: Promise<void>): Promise<void> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  // ---- clients ----

  /** pending holds accepted connections that have not sent connect yet. */
  private readonly pending = new Set<Client>();

  /**
   * accept creates a Client for a new transport connection; `requestHeaders` are those of the
   * HTTP request that opened it (the proxies forward an allow-listed few to the backend).
   */
  accept(transport: Transport, requestHeaders?: IncomingHttpHeaders): Client {
    const c = new Client(this, transport, randomUUID());
    if (requestHeaders && this.proxy?.forwardsHeaders) c.proxyHeaders = this.proxy.pickHeaders(requestHeaders); // proxy hook
    this.pending.add(c);
    return c;
  }

  /** forget drops a client that never connected. */
  forget(c: Client): void {
    this.pending.delete(c);
  }

  register(c: Client): void {
    this.pending.delete(c);
    this.clients.set(c.id, c);
    if (c.user !== '') {
      let s = this.users.get(c.user);
      if (!s) {
        s = new Set();
        this.users.set(c.user, s);
      }
      s.add(c);
    }
  }

  unregister(c: Client): void {
    this.pending.delete(c);
    this.clients.delete(c.id);
    if (c.pingBucket >= 0) this.pingBuckets[c.pingBucket]?.delete(c);
    if (c.user !== '') {
      const s = this.users.get(c.user);
      if (s) {
        s.delete(c);
        if (s.size === 0) this.users.delete(c.user);
      }
    }
  }

  startPing(c: Client): void {
    const b = this.pingSeq++ % this.pingBuckets.length;
    c.pingBucket = b;
    this.pingBuckets[b]!.add(c);
  }

  private onPingTick(): void {
    const bucket = this.pingBuckets[this.pingTick++ % this.pingBuckets.length]!;
    for (const c of bucket) c.ping();
    if (this.pending.size > 0) {
      const limit = Date.now() - this.options.staleCloseDelayMs;
      for (const c of this.pending) {
        // Insertion order is acceptance order: stop at the first one still in time.
        if (c.acceptedAt > limit) break;
        c.disconnect(Disconnects.stale);
        this.pending.delete(c);
      }
    }
  }

  numClients(): number {
    return this.clients.size;
  }

  numUsers(): number {
    return this.users.size;
  }

  numChannels(): number {
    return this.channels.size;
  }

  numSubscriptions(): number {
    let n = 0;
    for (const ch of this.channels.values()) n += ch.entries.size;
    return n;
  }

  // ---- output scheduling ----

  /** markDirty puts a client with queued output on the flush list and makes sure a pass runs this turn. */
  markDirty(c: Client): void {
    if (c.flushListed) return;
    c.flushListed = true;
    this.flushList.push(c);
    this.scheduleImmediate();
  }

  private scheduleImmediate(): void {
    if (this.immediateScheduled) return;
    this.immediateScheduled = true;
    setImmediate(() => this.onImmediate());
  }

  private onImmediate(): void {
    this.immediateScheduled = false;
    if (this.channelsDue) this.fanout();
    this.work();
  }

  /**
   * scheduleFanout arranges the next channel fan-out pass. With
   * `chat.writeBatchMs` = 0 it runs at the end of this event-loop turn; with
   * W > 0 passes are at least W ms apart, so under load every subscriber gets
   * all publications of up to W ms in one frame and one write, while a quiet
   * channel's publication still goes out at once.
   */
  private scheduleFanout(): void {
    if (this.channelsDue || this.channelTimer !== null) return;
    const w = this.config.writeBatchMs;
    const wait = w > 0 ? this.lastFanoutAt + w - performance.now() : 0;
    if (wait <= 0) {
      this.channelsDue = true;
      this.scheduleImmediate();
      return;
    }
    this.channelTimer = setTimeout(() => {
      this.channelTimer = null;
      this.fanout();
      this.work();
    }, Math.ceil(wait));
  }

  /** fanout turns every channel's pending pushes into a batch and starts its round. */
  private fanout(): void {
    this.channelsDue = false;
    if (this.channelTimer !== null) {
      clearTimeout(this.channelTimer);
      this.channelTimer = null;
    }
    this.lastFanoutAt = performance.now();
    for (const ch of this.dirtyChannels) {
      this.flushLocal(ch);
    }
    this.dirtyChannels.clear();
  }

  /**
   * work writes for up to FLUSH_SLICE_MS (clients with queued replies first, then channel
   * rounds) and schedules the rest for the next turn; `all` does everything now (stop).
   */
  private work(all = false): void {
    const deadline = all ? Infinity : performance.now() + FLUSH_SLICE_MS;
    if (this.flushClients(deadline) && this.serveRounds(deadline)) return;
    this.scheduleImmediate();
  }

  /** flushClients writes listed clients' queues, one write each, until the deadline; true when the list is empty. */
  private flushClients(deadline: number): boolean {
    const list = this.flushList;
    let i = this.flushHead;
    while (i < list.length) {
      const c = list[i]!;
      list[i++] = undefined as unknown as Client;
      c.flushListed = false;
      c.flush();
      // Reading the clock costs far less than a socket write, but not nothing: every 32 visits.
      if ((i & 31) === 0 && performance.now() >= deadline) break;
    }
    if (i >= list.length) {
      list.length = 0;
      this.flushHead = 0;
      return true;
    }
    this.flushHead = i;
    if (i > 4096 && i * 2 > list.length) {
      // Drop the visited front so the list does not grow without bound under steady load.
      this.flushList = list.slice(i);
      this.flushHead = 0;
    }
    return false;
  }

  /** serveRounds advances channel rounds until the deadline; true when none is left. */
  private serveRounds(deadline: number): boolean {
    let visits = 0;
    while (this.rounds.length > 0) {
      const ch = this.rounds[0]!;
      const it = ch.round!;
      for (;;) {
        const r = it.next();
        if (r.done) {
          this.rounds.shift();
          this.endRound(ch);
          break;
        }
        // Up-to-date entries cost a comparison; writes are what the deadline is for.
        if (this.handOver(ch, r.value) && (++visits & 31) === 0 && performance.now() >= deadline) return false;
      }
    }
    return true;
  }

  /** startRound begins a round over a channel's entries unless one is running (then it repeats when done). */
  private startRound(ch: LocalChannel): void {
    if (ch.round !== null) return;
    ch.round = ch.entries.values();
    ch.roundSeq = ch.lastSeq;
    this.rounds.push(ch);
  }

  /**
   * endRound observes the fan-out delay of the batches every live entry now has, drops them
   * from the log, and starts another round if batches came in meanwhile (the entries visited
   * before they came lack them).
   */
  private endRound(ch: LocalChannel): void {
    ch.round = null;
    const done = ch.roundSeq - ch.batchBase + 1;
    const now = performance.now();
    for (let i = 0; i < done; i++) {
      const b = ch.batches[i]!;
      if (b.seq > ch.observedSeq) this.metrics.fanoutDelay((now - b.since) / 1000);
    }
    ch.observedSeq = Math.max(ch.observedSeq, ch.roundSeq);
    if (done > 0) {
      ch.batches.splice(0, done);
      ch.batchBase += done;
    }
    if (ch.lastSeq > ch.roundSeq && this.channels.get(ch.name) === ch) this.startRound(ch);
  }

  /** handOver gives a live entry the batches it lacks (one write, or behind its client's queue); true if it wrote. */
  private handOver(ch: LocalChannel, e: SubEntry): boolean {
    if (!e.active || e.sent >= ch.lastSeq) return false;
    // Never below 0: a round ends (and trims the log) only after visiting every live entry.
    const from = Math.max(0, e.sent + 1 - ch.batchBase);
    const to = ch.lastSeq - ch.batchBase;
    e.sent = ch.lastSeq;
    e.client.takeRun(ch.batches, from, to, e);
    return true;
  }

  private flushAll(): void {
    this.fanout();
    this.work(true);
  }

  /**
   * flushChannel turns a channel's pending pushes into a batch now (before its subscriber set
   * changes): subscribing entries get them in their buffer, live ones in the round.
   */
  flushChannel(name: string): void {
    const ch = this.channels.get(name);
    if (ch && ch.pending.length > 0) {
      this.flushLocal(ch);
      this.dirtyChannels.delete(ch);
    }
  }

  /** activateEntry makes a subscription live: from now on it gets every batch after the current one. */
  activateEntry(e: SubEntry): void {
    const ch = this.channels.get(e.channel);
    e.active = true;
    if (!ch) return;
    ch.inactive.delete(e);
    e.sent = ch.lastSeq;
  }

  private flushLocal(ch: LocalChannel): void {
    const n = ch.pending.length;
    if (n === 0) return;
    const pushes = ch.pending;
    const offsets = ch.pendingOffsets;
    ch.pending = [];
    ch.pendingOffsets = [];
    for (const e of ch.inactive) {
      if (e.buffer) for (let i = 0; i < n; i++) e.buffer.push({ push: pushes[i]!, offset: offsets[i]! });
    }
    if (ch.entries.size === ch.inactive.size) return;
    const batch = new SharedBatch(pushes);
    batch.since = ch.pendingSince;
    batch.seq = ++ch.lastSeq;
    ch.batches.push(batch);
    this.startRound(ch);
  }

  // ---- hub ----

  /** addSubscriber adds an (inactive) subscription; the first on a channel subscribes the node at the broker. */
  async addSubscriber(e: SubEntry): Promise<void> {
    let ch = this.channels.get(e.channel);
    if (!ch) {
      ch = {
        name: e.channel,
        entries: new Set(),
        pending: [],
        pendingOffsets: [],
        lastOffset: 0,
        epoch: '',
        joinLeaveCount: 0,
        pendingSince: 0,
        batches: [],
        batchBase: 1,
        lastSeq: 0,
        inactive: new Set(),
        round: null,
        roundSeq: 0,
        observedSeq: 0,
      };
      this.channels.set(e.channel, ch);
      ch.entries.add(e);
      if (!e.active) ch.inactive.add(e);
      if (e.joinLeave) ch.joinLeaveCount++;
      try {
        await this.broker.subscribe(e.channel);
      } catch (err) {
        this.removeSubscriber(e);
        throw new ChatError(Errors.internal);
      }
      return;
    }
    ch.entries.add(e);
    if (!e.active) ch.inactive.add(e);
    else e.sent = ch.lastSeq;
    if (e.joinLeave) ch.joinLeaveCount++;
  }

  removeSubscriber(e: SubEntry): void {
    const ch = this.channels.get(e.channel);
    if (!ch || !ch.entries.has(e)) return;
    this.flushChannel(e.channel);
    // Batches the round has not handed to this entry yet go to its client's queue, in order,
    // ahead of whatever follows the removal (an unsubscribe push or reply).
    if (e.active && e.sent < ch.lastSeq) {
      e.client.queueRun(ch.batches, e.sent + 1 - ch.batchBase, ch.lastSeq - ch.batchBase, e);
      e.sent = ch.lastSeq;
    }
    ch.entries.delete(e);
    ch.inactive.delete(e);
    if (e.joinLeave) ch.joinLeaveCount--;
    if (ch.entries.size === 0) {
      this.channels.delete(e.channel);
      // A running round ends by itself (its iterator is done); the batch log goes with the channel.
      this.dirtyChannels.delete(ch);
      if (!this.stopped) void this.broker.unsubscribe(e.channel).catch((err) => this.logger.warn({ err }, 'chat: broker unsubscribe failed'));
    }
  }

  onPublication(channel: string, pub: Publication, epoch: string): void {
    const ch = this.channels.get(channel);
    if (!ch) return;
    const offset = pub.offset ?? 0;
    if (offset > 0) {
      if (ch.lastOffset > 0 && (epoch !== ch.epoch || offset > ch.lastOffset + 1)) {
        this.insufficientState(ch);
      } else if (ch.lastOffset > 0 && offset <= ch.lastOffset && epoch === ch.epoch) {
        return; // duplicate
      }
      ch.lastOffset = offset;
      ch.epoch = epoch;
    }
    if (ch.pending.length === 0) ch.pendingSince = performance.now();
    ch.pending.push(encodePush(channel, 'pub', encodePublication(pub)));
    ch.pendingOffsets.push(offset);
    this.dirtyChannels.add(ch);
    this.scheduleFanout();
  }

  /** insufficientState makes positioned subscribers of a channel resubscribe (and recover) after a gap. */
  private insufficientState(ch: LocalChannel): void {
    this.logger.warn({ channel: ch.name }, 'chat: publication stream gap, resubscribing positioned clients');
    for (const e of [...ch.entries]) {
      if (!e.positioned) continue;
      void e.client.unsubscribeChannel(ch.name, { code: UnsubscribeCode.insufficientState, reason: 'insufficient state' });
    }
  }

  onResync(): void {
    for (const ch of [...this.channels.values()]) {
      ch.lastOffset = 0;
      this.insufficientState(ch);
    }
  }

  onJoin(channel: string, info: ClientInfo): void {
    this.joinLeave(channel, 'join', info);
  }

  onLeave(channel: string, info: ClientInfo): void {
    this.joinLeave(channel, 'leave', info);
  }

  private joinLeave(channel: string, type: 'join' | 'leave', info: ClientInfo): void {
    const ch = this.channels.get(channel);
    if (!ch || ch.joinLeaveCount === 0) return;
    const push = encodePush(channel, type, '{"info":' + encodeClientInfo(info) + '}');
    for (const e of ch.entries) {
      if (!e.joinLeave) continue;
      if (e.active) e.client.sendPush(push);
      else e.buffer?.push({ push, offset: 0 });
    }
  }

  onControl(msg: ControlMessage): void {
    for (const l of this.controlListeners) l(msg);
    switch (msg.type) {
      case 'disconnect': {
        for (const c of this.matchClients(msg.user, msg.client)) {
          if (msg.whitelist?.includes(c.id)) continue;
          c.disconnect({ code: msg.code, reason: msg.reason });
        }
        return;
      }
      case 'unsubscribe':
        for (const c of this.matchClients(msg.user, msg.client)) {
          void c.unsubscribeChannel(msg.channel, { code: UnsubscribeCode.server, reason: 'server unsubscribe' });
        }
        return;
      case 'subscribe':
        for (const c of this.matchClients(msg.user, msg.client)) {
          void c.serverSubscribe(msg.channel, msg.chanInfo).catch((err) => this.logger.warn({ err }, 'chat: server subscribe failed'));
        }
        return;
      case 'refresh':
        for (const c of this.matchClients(msg.user, msg.client)) {
          if (msg.expired) c.disconnect(Disconnects.expired);
          else {
            c.applyRefresh(msg.expireAt ?? 0);
            if (c.transport.unidirectional) {
              const nowSec = Math.floor(Date.now() / 1000);
              const body = c.expireAt > 0 ? '{"expires":true,"ttl":' + Math.max(0, c.expireAt - nowSec) + '}' : '{}';
              c.sendPush(encodePush('', 'refresh', body));
            }
          }
        }
        return;
      case 'node':
        this.nodes.set(msg.node.uid, { info: msg.node, seenAt: Date.now() });
        return;
      case 'survey':
        if (msg.op === 'channels') {
          const data: Record<string, number> = {};
          for (const ch of this.channels.values()) data[ch.name] = ch.entries.size;
          void this.broker.publishControl({ type: 'survey_reply', id: msg.id, to: msg.from, from: this.uid, data }).catch(() => undefined);
        }
        return;
      case 'survey_reply': {
        if (msg.to !== this.uid) return;
        const s = this.surveys.get(msg.id);
        if (s) {
          s.replies.set(msg.from, msg.data);
          if (s.replies.size >= this.liveNodes().length) s.done();
        }
        return;
      }
    }
  }

  private matchClients(user: string, client?: string): Client[] {
    if (client) {
      const c = this.clients.get(client);
      return c && (user === '' || c.user === user) ? [c] : [];
    }
    const s = this.users.get(user);
    return s ? [...s] : [];
  }

  onSend(c: Client, data: unknown): void {
    this.sendHandler?.(c, data);
  }

  // ---- operations used by clients and the server API ----

  /** publish sends a publication to a channel through the broker. */
  async publish(channel: string, pub: Publication, opts: { skipHistory?: boolean } = {}): Promise<StreamPosition> {
    const info = this.namespaces.resolve(channel);
    if (!info) throw new ChatError(Errors.unknownChannel);
    const ns = info.options;
    const size = opts.skipHistory ? 0 : ns.historySize;
    const end = this.metrics.brokerPublishTimer();
    try {
      return await this.broker.publish(channel, pub, { size, ttlSeconds: ns.historyTtlSeconds, metaTtlSeconds: this.historyMetaTtlSeconds });
    } finally {
      end();
    }
  }

  async history(channel: string, limit: number, since: StreamPosition | undefined, reverse: boolean): Promise<HistoryResult> {
    const info = this.namespaces.resolve(channel);
    if (!info) throw new ChatError(Errors.unknownChannel);
    const max = info.options.historySize;
    let l = limit;
    if (l < 0 || l > max) l = max;
    if (this.historyFilters.length === 0 || l === 0) {
      return this.broker.history(channel, { since, limit: l, reverse, metaTtlSeconds: this.historyMetaTtlSeconds });
    }
    // Filters see the whole stream (a tombstone comes after what it hides), then the window is cut.
    const full = await this.broker.history(channel, { since, limit: max, reverse: false, metaTtlSeconds: this.historyMetaTtlSeconds });
    let pubs = this.filterHistory(channel, full.publications);
    if (reverse) pubs = pubs.reverse();
    return { ...full, publications: pubs.slice(0, l) };
  }

  /** filterHistory applies every history filter to publications ordered oldest first. */
  filterHistory(channel: string, publications: Publication[]): Publication[] {
    let out = publications;
    for (const f of this.historyFilters) out = f(channel, out) as Publication[];
    return out;
  }

  private async refreshPresence(): Promise<void> {
    const batch: Promise<void>[] = [];
    for (const ch of this.channels.values()) {
      for (const e of ch.entries) {
        if (!e.presence || !e.active) continue;
        batch.push(this.presence.addPresence(ch.name, e.client.id, e.client.clientInfo(e.chanInfo), this.presenceTtlSeconds));
        // Bounded concurrency: Redis pipelines these; memory resolves at once.
        if (batch.length >= PRESENCE_REFRESH_BATCH) {
          if (!(await this.settleRefresh(batch.splice(0)))) return;
        }
      }
    }
    await this.settleRefresh(batch);
  }

  private async settleRefresh(batch: Promise<void>[]): Promise<boolean> {
    const results = await Promise.allSettled(batch);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      this.logger.warn({ err: (failed as PromiseRejectedResult).reason }, 'chat: presence refresh failed');
      return false;
    }
    return true;
  }

  // ---- node info and surveys ----

  localInfo(): NodeInfo {
    return {
      uid: this.uid,
      name: this.name,
      version: this.version,
      num_clients: this.clients.size + this.clientCounters.reduce((n, count) => n + count(), 0),
      num_users: this.users.size,
      num_subs: this.numSubscriptions(),
      num_channels: this.channels.size,
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
    };
  }

  private async announce(): Promise<void> {
    const info = this.localInfo();
    this.nodes.set(this.uid, { info, seenAt: Date.now() });
    try {
      await this.broker.publishControl({ type: 'node', node: info });
    } catch (err) {
      this.logger.warn({ err }, 'chat: node announce failed');
    }
  }

  liveNodes(): NodeInfo[] {
    const now = Date.now();
    const out: NodeInfo[] = [];
    for (const [uid, n] of this.nodes) {
      if (uid === this.uid) out.push(this.localInfo());
      else if (now - n.seenAt <= this.options.nodeInfoIntervalMs * 3) out.push(n.info);
      else this.nodes.delete(uid);
    }
    return out;
  }

  /** channels asks every node for its channels and sums subscriber counts. */
  async surveyChannels(): Promise<Record<string, number>> {
    const id = randomUUID();
    const replies = new Map<string, unknown>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, SURVEY_TIMEOUT_MS);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.surveys.set(id, { replies, done });
      this.broker.publishControl({ type: 'survey', id, from: this.uid, op: 'channels' }).catch(done);
    });
    this.surveys.delete(id);
    const out: Record<string, number> = {};
    for (const data of replies.values()) {
      for (const [ch, n] of Object.entries(data as Record<string, number>)) out[ch] = (out[ch] ?? 0) + n;
    }
    if (replies.size === 0) for (const ch of this.channels.values()) out[ch.name] = ch.entries.size;
    return out;
  }

  /** disconnectLocal closes matching local connections (used after a control message). */
  disconnectAll(d: Disconnect): void {
    for (const c of [...this.clients.values()]) c.disconnect(d);
  }
}
