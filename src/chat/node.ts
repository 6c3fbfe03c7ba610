/**
 * ChatNode is the cluster side of one onair chat process: the registry of connected clients,
 * the glue to the Broker (publications, join/leave and control messages from other nodes) and
 * the PresenceManager, node info and surveys, the ping wheel, and the policy extension points
 * (publish hooks, RPC handlers, history filters). Local channels and their fan-out are the
 * ChannelHub's; client publications take the PublishPipeline.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import type { OnairConfig } from '../config/schema.js';
import type { HistoryFilter, PublishHook, PublishListener, RpcHandler } from './hooks.js';
import { Namespaces, HISTORY_META_TTL_SECONDS, requiresChannel, type ChannelInfo } from './namespaces.js';
import { onairChannelOf, type ChannelDirectory } from './channel-directory.js';
import { PublishRateLimiter, publisherKey } from './publish-rate.js';
import { TokenRevocations } from './revocations.js';
import { ChannelHub } from './channel-hub.js';
import { PublishPipeline } from './publish-pipeline.js';
import type { ClientInfo, Publication, StreamPosition } from './protocol/codec.js';
import { ChatError, Disconnects, Errors, UnsubscribeCode, type Disconnect } from './protocol/codes.js';
import type { Broker, BrokerEventHandler, ControlMessage, HistoryResult, NodeInfo, PresenceManager } from './broker/types.js';
import type { ChatMetrics } from './metrics.js';
import type { ChatProxy } from './proxy/proxy.js';

/** VERSION is reported in connect replies and node info. */
export const VERSION = 'onair-0.1.0';
const PING_TICK_MS = 1000;
const SURVEY_TIMEOUT_MS = 1000;
const PRESENCE_REFRESH_BATCH = 500;

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

/**
 * NodeClient is what the node does with a client connection (declared here, by the consumer):
 * registry, pings, and the control messages other nodes send.
 */
export interface NodeClient {
  readonly id: string;
  /** User id; empty for anonymous. */
  readonly user: string;
  /** Accept time (ms), for the stale check of connections that never send connect. */
  readonly acceptedAt: number;
  /** The ping wheel bucket the node put it in (-1: none). */
  pingBucket: number;
  ping(): void;
  disconnect(d: Disconnect): void;
  unsubscribeChannel(ch: string, push: { code: number; reason: string } | null): Promise<void>;
  /** Unix seconds its connection token was issued (0: none, or a connection without a token). */
  readonly tokenIssuedAt: number;
  serverSubscribe(ch: string, chanInfo?: string): Promise<void>;
  /** serverRefresh applies a refresh made by the server API: expired closes the connection, else expireAt (0 = never) is the new expiry. */
  serverRefresh(expired: boolean, expireAt: number): void;
}

/** SendHandler receives `send` commands (async client messages). */
export type SendHandler = (ctx: { clientId: string; user: string; data: unknown }) => void;

/** ControlListener sees every control message (other protocol front-ends apply disconnects and unsubscribes to their connections). */
export type ControlListener = (msg: ControlMessage) => void;

/** ChatNode owns clients, cluster glue and policy of one process. */
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
  readonly historyMetaTtlSeconds = HISTORY_META_TTL_SECONDS;
  /** The local channels and their fan-out. */
  readonly hub: ChannelHub;
  /** The road of every client publication: hooks → proxy → broker. */
  readonly pipeline: PublishPipeline;
  // ---- proxy hooks (docs/chat-proxy.md) ----
  /** proxy asks the application backend about client events; null when chat.proxy configures none. */
  readonly proxy: ChatProxy | null;

  /** Which onair channels exist (namespaces with requireChannel); null on a chat service without the platform. */
  readonly channels: ChannelDirectory | null;
  private readonly publishRate: PublishRateLimiter;
  /** Users whose tokens issued before some time are revoked (filled by 'revoke' control messages). */
  readonly revocations: TokenRevocations;
  private readonly rpcHandlers = new Map<string, RpcHandler>();
  /** Filters applied to history and recovery replies (moderation hides deleted messages). */
  private readonly historyFilters: HistoryFilter[] = [];
  private readonly publishListeners: PublishListener[] = [];
  private sendHandler: SendHandler | null = null;
  /** Other protocol front-ends (Pusher) see control messages too (disconnect/unsubscribe a user). */
  private readonly controlListeners: ControlListener[] = [];
  /** Connections other front-ends hold on this node's channels (the Pusher protocol), counted in num_clients. */
  private readonly clientCounters: (() => number)[] = [];
  private readonly clients = new Map<string, NodeClient>();
  private readonly users = new Map<string, Set<NodeClient>>();
  private readonly pingBuckets: Set<NodeClient>[];
  private pingTick = 0;
  private pingSeq = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private presenceTimer: NodeJS.Timeout | null = null;
  private nodeInfoTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();
  private readonly nodes = new Map<string, { info: NodeInfo; seenAt: number }>();
  private readonly surveys = new Map<string, { replies: Map<string, unknown>; done: () => void }>();
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
    /** The backend proxy (chat.proxy), if any. */
    proxy?: ChatProxy | null;
    /** Which onair channels exist; without it requireChannel is not checked (a chat service without the platform). */
    channels?: ChannelDirectory | null;
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
    this.pingBuckets = Array.from({ length: deps.config.pingSeconds }, () => new Set<NodeClient>());
    this.proxy = deps.proxy ?? null;
    this.channels = deps.channels ?? null;
    this.publishRate = new PublishRateLimiter(deps.config.publishRate);
    this.revocations = new TokenRevocations(deps.config.revocation.keepSeconds, deps.config.revocation.maxUsers);
    this.hub = new ChannelHub({
      writeBatchMs: deps.config.writeBatchMs,
      broker: deps.broker,
      fanoutDelay: (seconds) => deps.metrics.fanoutDelay(seconds),
      logger: deps.logger,
    });
    this.pipeline = new PublishPipeline({ broker: this, proxy: this.proxy });
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
    this.hub.stop();
    for (const t of [this.pingTimer, this.presenceTimer, this.nodeInfoTimer]) if (t) clearInterval(t);
    this.pingTimer = this.presenceTimer = this.nodeInfoTimer = null;
    for (const c of [...this.clients.values()]) c.disconnect(Disconnects.shutdown);
    for (const c of [...this.pending]) c.disconnect(Disconnects.shutdown);
    this.hub.flushNow();
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
  private readonly pending = new Set<NodeClient>();

  /** addPending keeps a new connection until it connects (register) or goes (forget); one that never connects is closed as stale. */
  addPending(c: NodeClient): void {
    this.pending.add(c);
  }

  /** forget drops a client that never connected. */
  forget(c: NodeClient): void {
    this.pending.delete(c);
  }

  register(c: NodeClient): void {
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

  unregister(c: NodeClient): void {
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

  startPing(c: NodeClient): void {
    const b = this.pingSeq++ % this.pingBuckets.length;
    c.pingBucket = b;
    this.pingBuckets[b]?.add(c);
  }

  private onPingTick(): void {
    const bucket = this.pingBuckets[this.pingTick++ % this.pingBuckets.length] ?? [];
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
    return this.hub.numChannels();
  }

  numSubscriptions(): number {
    return this.hub.numSubscriptions();
  }

  // ---- extension points: each returns the function that undoes it ----

  /** addPublishHook runs a hook on every client publication, after those added before it. */
  addPublishHook(hook: PublishHook): () => void {
    return this.pipeline.addHook(hook);
  }

  /** registerRpc serves `rpc` commands of one method (replacing an earlier handler of it). */
  registerRpc(method: string, handler: RpcHandler): () => void {
    this.rpcHandlers.set(method, handler);
    return () => {
      if (this.rpcHandlers.get(method) === handler) this.rpcHandlers.delete(method);
    };
  }

  /** rpcHandler is the handler registered for a method, if any. */
  rpcHandler(method: string): RpcHandler | undefined {
    return this.rpcHandlers.get(method);
  }

  /** addPublishListener shows every publication this node published (client and server ones alike), after the broker took it. */
  addPublishListener(listener: PublishListener): () => void {
    return addTo(this.publishListeners, listener);
  }

  /** addHistoryFilter applies a filter to every history and recovery reply, after those added before it. */
  addHistoryFilter(filter: HistoryFilter): () => void {
    return addTo(this.historyFilters, filter);
  }

  /** addControlListener shows every control message to another front-end (before this node applies it). */
  addControlListener(listener: ControlListener): () => void {
    return addTo(this.controlListeners, listener);
  }

  /** addClientCounter counts another front-end's connections in this node's num_clients. */
  addClientCounter(count: () => number): () => void {
    return addTo(this.clientCounters, count);
  }

  /** setSendHandler receives `send` commands from now on (one handler). */
  setSendHandler(handler: SendHandler | null): void {
    this.sendHandler = handler;
  }

  // ---- broker events ----

  onPublication(channel: string, pub: Publication, epoch: string): void {
    this.hub.publish(channel, pub, epoch);
  }

  onResync(): void {
    this.hub.resync();
  }

  onJoin(channel: string, info: ClientInfo): void {
    this.hub.joinLeave(channel, 'join', info);
  }

  onLeave(channel: string, info: ClientInfo): void {
    this.hub.joinLeave(channel, 'leave', info);
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
      case 'revoke':
        this.revocations.revoke(msg.user, msg.issuedBefore);
        for (const c of this.matchClients(msg.user)) {
          if (this.revocations.isRevoked(c.user, c.tokenIssuedAt)) c.disconnect(Disconnects.tokenRevoked);
        }
        return;
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
        for (const c of this.matchClients(msg.user, msg.client)) c.serverRefresh(msg.expired === true, msg.expireAt ?? 0);
        return;
      case 'pusher_authorised':
        // For the Pusher front-end (a control listener); the centrifuge side has nothing to do.
        return;
      case 'node':
        this.nodes.set(msg.node.uid, { info: msg.node, seenAt: Date.now() });
        return;
      case 'survey':
        if (msg.op === 'channels') {
          const data = this.hub.channelCounts();
          void this.broker.publishControl({ type: 'survey_reply', id: msg.id, to: msg.from, from: this.uid, data }).catch(() => undefined);
        }
        return;
      case 'emulation':
        // Taken by the emulation front-end's control listener (src/chat/transport/emulation.ts).
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

  private matchClients(user: string, client?: string): NodeClient[] {
    if (client) {
      const c = this.clients.get(client);
      return c && (user === '' || c.user === user) ? [c] : [];
    }
    const s = this.users.get(user);
    return s ? [...s] : [];
  }

  /** handleSend passes a client's `send` command to the send handler. */
  handleSend(c: NodeClient, data: unknown): void {
    this.sendHandler?.({ clientId: c.id, user: c.user, data });
  }

  // ---- operations used by clients and the server API ----

  /**
   * requireChannel refuses (102 unknown channel) a channel of a requireChannel namespace whose
   * onair channel does not exist; the answer comes from a cache, not a query per message.
   */
  async requireChannel(channel: string, info: ChannelInfo): Promise<void> {
    if (!this.channels || !requiresChannel(info.namespace, info.options)) return;
    const name = onairChannelOf(channel, info.namespace);
    if (!(await this.channels.exists(name))) {
      throw new ChatError({ code: Errors.unknownChannel.code, message: `unknown channel: there is no onair channel "${name.slice(0, 64)}"` });
    }
  }

  /**
   * revokeUserTokens revokes, on every node, the user's connection tokens issued before
   * issuedBefore (unix seconds): connected clients holding one are closed with 3500 token
   * revoked and connecting with one is refused (Centrifugo's user token invalidation).
   */
  async revokeUserTokens(user: string, issuedBefore: number): Promise<void> {
    if (user === '') return;
    // Recorded here first so this node refuses at once, whatever the broker's delivery delay.
    this.revocations.revoke(user, issuedBefore);
    await this.broker.publishControl({ type: 'revoke', user, issuedBefore });
  }

  /** takePublishToken spends one of the publisher's tokens (chat.publishRate, across channels); false when none is left. */
  takePublishToken(user: string, clientId: string): boolean {
    return this.publishRate.take(publisherKey(user, clientId));
  }

  /** publish sends a publication to a channel through the broker. */
  async publish(channel: string, pub: Publication, opts: { skipHistory?: boolean } = {}): Promise<StreamPosition> {
    const info = this.namespaces.resolve(channel);
    if (!info) throw new ChatError(Errors.unknownChannel);
    await this.requireChannel(channel, info);
    const ns = info.options;
    const size = opts.skipHistory ? 0 : ns.historySize;
    const out = ns.deltaPublish === true && pub.deltaWanted !== true ? { ...pub, deltaWanted: true } : pub;
    const end = this.metrics.brokerPublishTimer();
    let position: StreamPosition;
    try {
      position = await this.broker.publish(channel, out, { size, ttlSeconds: ns.historyTtlSeconds, metaTtlSeconds: this.historyMetaTtlSeconds });
    } finally {
      end();
    }
    for (const l of this.publishListeners) {
      try {
        l(channel, pub.data);
      } catch (err) {
        this.logger.warn({ err, channel }, 'chat: publish listener failed');
      }
    }
    return position;
  }

  async history(channel: string, limit: number, since: StreamPosition | undefined, reverse: boolean): Promise<HistoryResult> {
    const info = this.namespaces.resolve(channel);
    if (!info) throw new ChatError(Errors.unknownChannel);
    await this.requireChannel(channel, info);
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
    for (const f of this.historyFilters) out = f(channel, out);
    return out;
  }

  private async refreshPresence(): Promise<void> {
    const batch: Promise<void>[] = [];
    for (const e of this.hub.subscriptions()) {
      if (!e.presence || !e.active) continue;
      batch.push(this.presence.addPresence(e.channel, e.client.id, e.client.clientInfo(e.chanInfo), this.presenceTtlSeconds));
      // Bounded concurrency: Redis pipelines these; memory resolves at once.
      if (batch.length >= PRESENCE_REFRESH_BATCH) {
        if (!(await this.settleRefresh(batch.splice(0)))) return;
      }
    }
    await this.settleRefresh(batch);
  }

  private async settleRefresh(batch: Promise<void>[]): Promise<boolean> {
    const results = await Promise.allSettled(batch);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      this.logger.warn({ err: (failed).reason }, 'chat: presence refresh failed');
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
      num_subs: this.hub.numSubscriptions(),
      num_channels: this.hub.numChannels(),
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
    if (replies.size === 0) Object.assign(out, this.hub.channelCounts());
    return out;
  }

  /** disconnectLocal closes matching local connections (used after a control message). */
  disconnectAll(d: Disconnect): void {
    for (const c of [...this.clients.values()]) c.disconnect(d);
  }
}

/** addTo appends to a list and returns the function that removes that entry again. */
function addTo<T>(list: T[], item: T): () => void {
  list.push(item);
  return () => {
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
  };
}
