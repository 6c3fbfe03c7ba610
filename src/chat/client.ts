/**
 * Client is one connection's protocol state machine: it handles commands,
 * keeps subscriptions and writes replies and pushes through its Transport.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ChatNode, NodeClient } from './node.js';
import type { ChannelHub, ChannelSink, Flushable, SubEntry } from './channel-hub.js';
import type { OutItem, Transport, SharedBatch } from './transport/types.js';
import {
  decodeCommands,
  encodeHistoryResult,
  encodePresenceMap,
  encodeErrorReply,
  encodePublication,
  encodePush,
  encodeReply,
  parseChannel,
  parseConnect,
  parseHistory,
  parsePublish,
  parseRpc,
  parseSubRefresh,
  parseSubscribe,
  parseToken,
  rawJson,
  wrapPush,
  CodecError,
  SubscribeFlag,
  PING_TEXT,
  type ClientInfo,
  type Command,
  type ConnectRequest,
  type Publication,
  type StreamPosition,
} from './protocol/codec.js';
import {
  ChatError,
  DisconnectError,
  Disconnects,
  Errors,
  UnsubscribeCode,
  disconnectReconnects,
  type Disconnect,
  type ProtocolError,
} from './protocol/codes.js';
import { decodeProtoCommands, decodeProtoConnectRequest } from './protocol/protobuf.js';
import { wrapPublicationData, type DeltaFormat } from './delta.js';
import { filterKey, matchTags, parseTagsFilter, type TagsFilter } from './tags-filter.js';
import { verifyConnectionToken, verifySubscriptionToken } from './tokens.js';
import type { ChannelInfo } from './namespaces.js';
import type { ChatUserInfo } from './hooks.js';
import type { ChannelOverride, ConnectResult, SubscribeResult } from './proxy/protocol.js';
import type { ProxyEndpoint } from './proxy/http.js';

/** MAX_INBOX bounds commands waiting to be processed on one connection. */
const MAX_INBOX = 1024;
/** MAX_RECOVERED caps publications returned by one recovery. */
const MAX_RECOVERED = 10_000;

const enum State {
  Connecting,
  Connected,
  Closed,
}

/** SubscribeResultFields is the subscribe (or connect subs) result before encoding. */
interface SubscribeOutcome {
  body: string;
  entry: SubEntry;
  pending: { push: string; offset: number }[];
  topOffset: number;
}

/**
 * acceptClient creates a Client for a new transport connection and hands it to the node until
 * it connects; `requestHeaders` are those of the HTTP request that opened it (the proxies
 * forward an allow-listed few to the backend).
 */
export function acceptClient(node: ChatNode, transport: Transport, requestHeaders?: IncomingHttpHeaders): Client {
  const c = new Client(node, transport, randomUUID());
  if (requestHeaders && node.proxy?.forwardsHeaders) c.proxyHeaders = node.proxy.pickHeaders(requestHeaders); // proxy hook
  node.addPending(c);
  return c;
}

/** Client is a connection of one user through one transport. */
export class Client implements ChannelSink, Flushable, NodeClient {
  readonly id: string;
  readonly node: ChatNode;
  readonly transport: Transport;
  /** The node's channel hub (subscriptions, output scheduling). */
  private readonly hub: ChannelHub;
  user = '';
  info: string | undefined;
  infoValue: unknown;
  /** Unix seconds; 0 = never expires. */
  expireAt = 0;
  /** Unix seconds the connection token was issued (0: no iat, or no token). */
  tokenIssuedAt = 0;
  subs: Map<string, SubEntry> | null = null;
  awaitingPong = false;
  pingBucket = -1;
  /** Accept time (ms), for the stale check of connections that never send connect. */
  readonly acceptedAt = Date.now();
  private state: State = State.Connecting;
  /**
   * The write queue: replies, pushes and shared batches waiting for this
   * connection's next flush, written in order as one write. Slots past
   * `queued` are cleared after each flush; the array is kept and reused.
   */
  private queue: OutItem[] | null = null;
  private queued = 0;
  /** Protocol messages (not shared batches) in the queue, for the messages-out metric. */
  private queuedMessages = 0;
  /** flushListed is true while the hub holds this client on its flush list. */
  flushListed = false;
  private inbox: Command[] | null = null;
  private processing = false;
  private expireTimer: NodeJS.Timeout | null = null;
  private uniStarted = false;
  // ---- proxy hooks (docs/chat-proxy.md) ----
  /** Allow-listed headers of the connection's HTTP request, forwarded on proxy calls. */
  proxyHeaders?: Record<string, string>;
  /** Raw JSON meta from the connect proxy result or the token (never sent to clients). */
  proxyMeta?: string;
  /** The connection came through the connect proxy and the refresh proxy renews it (not the client). */
  private proxyRefresh = false;

  constructor(node: ChatNode, transport: Transport, id: string) {
    this.node = node;
    this.hub = node.hub;
    this.transport = transport;
    this.id = id;
  }

  get connected(): boolean {
    return this.state === State.Connected;
  }

  get closed(): boolean {
    return this.state === State.Closed;
  }

  clientInfo(chanInfo?: string): ClientInfo {
    const ci: ClientInfo = { user: this.user, client: this.id };
    if (this.info !== undefined) ci.connInfo = this.info;
    if (chanInfo !== undefined) ci.chanInfo = chanInfo;
    return ci;
  }

  // ---- output ----

  /** send queues one protocol message (reply or wrapped push) for the next flush (this event-loop turn). */
  send(msg: string): void {
    if (this.state === State.Closed) return;
    this.enqueue(msg);
    this.queuedMessages++;
    this.hub.markDirty(this);
  }

  /** sendPush queues a push (unwrapped JSON), wrapping it for bidirectional transports. */
  sendPush(push: string): void {
    this.send(this.transport.unidirectional ? push : wrapPush(push));
  }

  /** deltaFormat is the format this connection's delta subscriptions get publications in. */
  private get deltaFormat(): DeltaFormat {
    const k = this.transport.kind;
    return k === 'websocket_protobuf' || k === 'http_stream_protobuf' || k === 'uni_websocket_protobuf' || k === 'uni_http_stream_protobuf' ? 'protobuf' : 'json';
  }

  /** queueDeltaRun queues a delta subscription's variants of log[from..to] (the first in full if it has no base yet). */
  private queueDeltaRun(log: readonly SharedBatch[], from: number, to: number, entry: SubEntry): void {
    const format = this.deltaFormat;
    for (let i = from; i <= to; i++) {
      const b = log[i];
      if (b === undefined) break;
      const v = b.variant(format, i === from && entry.deltaBase !== true);
      this.enqueue(v);
      this.queuedMessages += v.pushes.length;
    }
    entry.deltaBase = true;
  }

  /** queueFilteredRun queues a tags-filtered subscription's variants of log[from..to] (those with a matching publication). */
  private queueFilteredRun(log: readonly SharedBatch[], from: number, to: number, filter: { tf: TagsFilter; key: string }): void {
    for (let i = from; i <= to; i++) {
      const v = log[i]?.filtered(filter.key, filter.tf);
      if (v === undefined || v === null) continue;
      this.enqueue(v);
      this.queuedMessages += v.pushes.length;
    }
  }

  /**
   * takeRun writes log[from..to] (a channel's batches this subscription lacks) now: as one
   * shared buffer when nothing else is queued, else behind the queue in the same write.
   */
  takeRun(log: readonly SharedBatch[], from: number, to: number, entry?: SubEntry): void {
    if (this.state === State.Closed) return;
    if (entry?.delta) {
      this.queueDeltaRun(log, from, to, entry);
      this.flush();
      return;
    }
    if (entry?.filter) {
      this.queueFilteredRun(log, from, to, entry.filter);
      this.flush();
      return;
    }
    if (this.queued > 0) {
      this.queueRun(log, from, to);
      this.flush();
      return;
    }
    const head = log[from];
    if (head === undefined) throw new RangeError(`no shared batch at log index ${from}`);
    let pushes = 0;
    for (let i = from; i <= to; i++) pushes += log[i]?.pushes.length ?? 0;
    this.transport.writeShared(head.chainBytes(this.transport.kind, log, from, to));
    this.node.metrics.messagesOut(pushes);
    this.checkSlow();
  }

  /** queueRun queues log[from..to] behind whatever is queued, for the next flush. */
  queueRun(log: readonly SharedBatch[], from: number, to: number, entry?: SubEntry): void {
    if (this.state === State.Closed) return;
    if (entry?.delta) {
      this.queueDeltaRun(log, from, to, entry);
      this.hub.markDirty(this);
      return;
    }
    if (entry?.filter) {
      this.queueFilteredRun(log, from, to, entry.filter);
      this.hub.markDirty(this);
      return;
    }
    for (let i = from; i <= to; i++) {
      const batch = log[i];
      if (batch === undefined) continue;
      this.enqueue(batch);
      this.queuedMessages += batch.pushes.length;
    }
    this.hub.markDirty(this);
  }

  private enqueue(item: OutItem): void {
    const q = this.queue;
    if (q === null) this.queue = [item];
    else q[this.queued] = item;
    this.queued++;
  }

  /** flush writes the queue now, as one write. */
  flush(): void {
    const n = this.queued;
    if (n === 0) return;
    const q = this.queue!;
    const msgs = this.queuedMessages;
    this.queued = 0;
    this.queuedMessages = 0;
    if (this.state !== State.Closed) {
      this.transport.writeItems(q, n);
      if (msgs > 0) this.node.metrics.messagesOut(msgs);
    }
    // Drop references (batches are shared by every subscriber) but keep the array.
    for (let i = 0; i < n; i++) q[i] = undefined as unknown as OutItem;
    if (this.state !== State.Closed) this.checkSlow();
  }

  /** queuedItems is the number of items waiting for the next flush. */
  get queuedItems(): number {
    return this.queued;
  }

  private checkSlow(): void {
    if (this.state !== State.Closed && this.transport.bufferedBytes() > this.node.config.writeQueueMaxBytes) {
      this.disconnect(Disconnects.slow);
    }
  }

  ping(): void {
    if (this.state !== State.Connected) return;
    if (this.transport.unidirectional || this.transport.emulation) {
      this.send(PING_TEXT);
      return;
    }
    if (this.awaitingPong) {
      this.disconnect(Disconnects.noPong);
      return;
    }
    this.awaitingPong = true;
    this.send(PING_TEXT);
  }

  // ---- input ----

  /** onFrame handles one incoming frame of newline-separated JSON commands. */
  onFrame(text: string): void {
    this.receive(() => decodeCommands(text));
  }

  /** onProtobufFrame handles one incoming frame of length-delimited protobuf commands. */
  onProtobufFrame(frame: Uint8Array): void {
    this.receive(() => decodeProtoCommands(frame));
  }

  private receive(decode: () => Command[]): void {
    if (this.state === State.Closed) return;
    this.awaitingPong = false;
    let cmds: Command[];
    try {
      cmds = decode();
    } catch (e) {
      this.node.logger.debug({ client: this.id, err: (e as Error).message }, 'chat: bad frame');
      this.disconnect(Disconnects.badRequest);
      return;
    }
    if (this.inbox === null) this.inbox = cmds;
    else {
      if (this.inbox.length + cmds.length > MAX_INBOX) {
        this.disconnect(Disconnects.badRequest);
        return;
      }
      for (const c of cmds) this.inbox.push(c);
    }
    if (!this.processing) void this.process();
  }

  private async process(): Promise<void> {
    this.processing = true;
    try {
      while (this.inbox !== null && this.inbox.length > 0 && this.state !== State.Closed) {
        const cmd = this.inbox.shift()!;
        if (this.inbox.length === 0) this.inbox = null;
        const r = this.handle(cmd);
        if (r !== undefined) await r;
      }
    } finally {
      this.processing = false;
    }
  }

  private handle(cmd: Command): Promise<void> | void {
    if (cmd.method === 'pong') return;
    this.node.metrics.messageIn(cmd.method);
    if (this.state === State.Connecting) {
      if (cmd.method !== 'connect') {
        this.disconnect(Disconnects.badRequest);
        return;
      }
      return this.guard(cmd, this.handleConnect(cmd.id, parseConnectSafe(cmd.params), cmd.params.headers));
    }
    if (cmd.method === 'unknown') {
      this.replyError(cmd.id, Errors.methodNotFound);
      return;
    }
    switch (cmd.method) {
      case 'connect':
        this.disconnect(Disconnects.badRequest);
        return;
      case 'subscribe':
        return this.guard(cmd, () => this.handleSubscribe(cmd.id, cmd.params));
      case 'unsubscribe':
        return this.guard(cmd, () => this.handleUnsubscribe(cmd.id, cmd.params));
      case 'publish':
        return this.guard(cmd, () => this.handlePublish(cmd.id, cmd.params));
      case 'presence':
        return this.guard(cmd, () => this.handlePresence(cmd.id, cmd.params, false));
      case 'presence_stats':
        return this.guard(cmd, () => this.handlePresence(cmd.id, cmd.params, true));
      case 'history':
        return this.guard(cmd, () => this.handleHistory(cmd.id, cmd.params));
      case 'ping':
        this.send(encodeReply(cmd.id, 'ping', '{}'));
        return;
      case 'send':
        return this.guard(cmd, () => this.node.handleSend(this, cmd.params.data));
      case 'rpc':
        return this.guard(cmd, () => this.handleRpc(cmd.id, cmd.params));
      case 'refresh':
        return this.guard(cmd, () => this.handleRefresh(cmd.id, cmd.params));
      case 'sub_refresh':
        return this.guard(cmd, () => this.handleSubRefresh(cmd.id, cmd.params));
    }
  }

  /** guard runs a handler and turns its errors into error replies or disconnects. */
  private guard(cmd: Command, run: (() => Promise<void> | void) | Promise<void>): Promise<void> | void {
    const onError = (e: unknown): void => {
      if (e instanceof ChatError) {
        if (cmd.id > 0) this.replyError(cmd.id, e.toProtocol());
      } else if (e instanceof DisconnectError) this.disconnect(e.disconnect);
      else if (e instanceof CodecError) this.disconnect(Disconnects.badRequest);
      else {
        this.node.logger.error({ err: e, client: this.id, method: cmd.method }, 'chat: command failed');
        if (cmd.id > 0) this.replyError(cmd.id, Errors.internal);
      }
    };
    try {
      const r = typeof run === 'function' ? run() : run;
      if (r !== undefined) return r.catch(onError);
    } catch (e) {
      onError(e);
    }
  }

  private replyError(id: number, err: ProtocolError): void {
    if (this.transport.unidirectional) {
      // Unidirectional clients cannot get replies: a failed connect ends the connection.
      this.disconnect(uniDisconnectFor(err));
      return;
    }
    this.send(encodeErrorReply(id, err));
  }

  /** onUniConnect starts a unidirectional connection from its connect request JSON. */
  onUniConnect(text: string): void {
    let params: unknown;
    try {
      params = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      params = null;
    }
    this.startUni(params);
  }

  /** onUniProtobufConnect starts a unidirectional protobuf connection from its ConnectRequest message. */
  onUniProtobufConnect(bytes: Uint8Array): void {
    let params: unknown;
    try {
      params = decodeProtoConnectRequest(bytes);
    } catch (e) {
      this.node.logger.debug({ client: this.id, err: (e as Error).message }, 'chat: bad uni connect request');
      params = null;
    }
    this.startUni(params);
  }

  private startUni(params: unknown): void {
    if (this.uniStarted || this.state !== State.Connecting) return;
    this.uniStarted = true;
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      this.disconnect(Disconnects.badRequest);
      return;
    }
    void this.handle({ id: 1, method: 'connect', params: params as Record<string, unknown> });
  }

  // ---- connect / refresh ----

  private async handleConnect(id: number, req: ConnectRequest | Error, emulatedHeaders?: unknown): Promise<void> {
    if (req instanceof Error) throw req;
    const cfg = this.node.config;
    const proxy = this.node.proxy;
    // Proxy hook: headers the SDK sends in the connect command (headers emulation), if allow-listed.
    if (proxy && emulatedHeaders !== undefined) this.proxyHeaders = proxy.withEmulated(this.proxyHeaders, emulatedHeaders);
    let channels: string[] = [];
    /** Proxy hook: what the connect proxy said about the reply and its server-side subscriptions. */
    let proxied: ConnectResult | undefined;
    if (req.token !== '') {
      const v = await verifyConnectionToken(this.node.tokenSecret, req.token);
      if (this.node.revocations.isRevoked(v.user, v.issuedAt)) throw new DisconnectError(Disconnects.tokenRevoked);
      this.tokenIssuedAt = v.issuedAt;
      this.user = v.user;
      this.info = v.info;
      this.infoValue = v.infoValue;
      this.expireAt = v.expireAt;
      if (v.meta !== undefined) this.proxyMeta = JSON.stringify(v.meta);
      channels = v.channels;
    } else if (proxy?.connectEndpoint) {
      // Proxy hook: as Centrifugo, a tokenless connect goes to the backend (anonymous or not is its call).
      proxied = await proxy.connect(this, req);
      this.user = proxied.user;
      this.info = proxied.info;
      this.infoValue = proxied.info !== undefined ? JSON.parse(proxied.info) : undefined;
      this.expireAt = proxied.expireAt;
      this.proxyMeta = proxied.meta;
      this.proxyRefresh = proxied.expireAt > 0 && proxy.refreshEndpoint !== null;
      channels = proxied.channels;
    } else if (!cfg.anonymous) {
      throw new ChatError(Errors.unauthorized);
    }
    if (this.state !== State.Connecting) return;
    this.state = State.Connected;
    this.node.register(this);
    const nowSec = Math.floor(Date.now() / 1000);
    let body = '{"client":"' + this.id + '","version":' + JSON.stringify(this.node.version);
    if (this.expireAt > 0) {
      // A proxy-refreshed connection is renewed by the server: the client is not told it expires.
      if (!this.proxyRefresh) body += ',"expires":true,"ttl":' + Math.max(0, this.expireAt - nowSec);
      this.scheduleExpire();
    }
    if (proxied?.data !== undefined) body += ',"data":' + proxied.data;
    const outcomes: { channel: string; o: SubscribeOutcome }[] = [];
    for (const ch of channels) {
      const info = this.node.namespaces.resolve(ch);
      if (!info) continue;
      if (this.subs && this.subs.has(ch)) continue;
      const r = req.subs[ch];
      const so = proxied?.subs[ch];
      try {
        const o = await this.subscribeChannel(ch, info, {
          recover: r?.recover ?? false,
          epoch: r?.epoch ?? '',
          offset: r?.offset ?? 0,
          recoverable: true,
          positioned: false,
          joinLeave: true,
          flag: 0,
          serverSide: true,
          chanInfo: so?.info,
          data: so?.data,
          override: so?.override,
        });
        outcomes.push({ channel: ch, o });
      } catch (e) {
        this.node.logger.warn({ err: e, channel: ch }, 'chat: server-side subscribe failed');
      }
    }
    if (this.closed) return;
    if (outcomes.length > 0) {
      body += ',"subs":{' + outcomes.map((x) => JSON.stringify(x.channel) + ':' + x.o.body).join(',') + '}';
    }
    const emu = this.transport.emulation;
    // Emulation: the session and node the client sends its commands with (POST /emulation).
    if (emu) body += ',"session":' + JSON.stringify(emu.session) + ',"node":' + JSON.stringify(emu.node);
    // Pongs are asked of WebSocket clients only: over emulation each would be an HTTP request.
    const askPong = !this.transport.unidirectional && !emu;
    body += ',"ping":' + cfg.pingSeconds + (askPong ? ',"pong":true' : '') + '}';
    if (this.transport.unidirectional) this.sendPush(encodePush('', 'connect', body));
    else this.send(encodeReply(id, 'connect', body));
    for (const x of outcomes) this.activate(x.o);
    this.node.startPing(this);
  }

  private scheduleExpire(): void {
    if (this.expireTimer) clearTimeout(this.expireTimer);
    this.expireTimer = null;
    if (this.expireAt <= 0) return;
    // A proxy-refreshed connection asks the backend at expiry; a client-refreshed one gets a grace.
    const delay = this.expireAt * 1000 - Date.now() + (this.proxyRefresh ? 0 : this.node.options.expiredCloseDelayMs);
    this.expireTimer = setTimeout(() => {
      this.expireTimer = null;
      if (this.proxyRefresh && this.expireAt > 0 && this.expireAt * 1000 <= Date.now()) void this.refreshByProxy();
      else if (this.expireAt > 0 && this.expireAt * 1000 <= Date.now()) this.disconnect(Disconnects.expired);
      else this.scheduleExpire();
    }, Math.max(0, Math.min(delay, 2 ** 31 - 1)));
    this.expireTimer.unref();
  }

  /**
   * refreshByProxy asks the refresh proxy whether the connection lives on (proxy hook): expired
   * closes it with 3005, a new expire_at (0 = never) extends it; if the backend cannot answer,
   * the connection stays and the call is repeated after chat.proxy.refreshRetrySeconds.
   */
  private async refreshByProxy(): Promise<void> {
    const proxy = this.node.proxy!;
    let r;
    try {
      r = await proxy.refresh(this);
    } catch {
      if (this.closed || this.expireTimer) return;
      this.expireTimer = setTimeout(() => {
        this.expireTimer = null;
        void this.refreshByProxy();
      }, proxy.refreshRetryMs);
      this.expireTimer.unref();
      return;
    }
    if (this.closed) return;
    if (r.expired) this.disconnect(Disconnects.expired);
    else this.applyRefresh(r.expireAt, r.info);
  }

  private async handleRefresh(id: number, params: Record<string, unknown>): Promise<void> {
    const token = parseToken(params);
    let v;
    try {
      v = await verifyConnectionToken(this.node.tokenSecret, token);
    } catch (e) {
      if (e instanceof ChatError && e.code === Errors.tokenExpired.code) throw new DisconnectError(Disconnects.expired);
      throw e;
    }
    if (v.user !== this.user) throw new DisconnectError(Disconnects.invalidToken);
    if (this.node.revocations.isRevoked(v.user, v.issuedAt)) throw new DisconnectError(Disconnects.tokenRevoked);
    this.tokenIssuedAt = v.issuedAt;
    this.applyRefresh(v.expireAt, v.info);
    let body = '{"client":"' + this.id + '","version":' + JSON.stringify(this.node.version);
    if (this.expireAt > 0) body += ',"expires":true,"ttl":' + Math.max(0, this.expireAt - Math.floor(Date.now() / 1000));
    this.send(encodeReply(id, 'refresh', body + '}'));
  }

  /** serverRefresh applies a refresh made through the server API; a unidirectional client is told its new ttl. */
  serverRefresh(expired: boolean, expireAt: number): void {
    if (expired) {
      this.disconnect(Disconnects.expired);
      return;
    }
    this.applyRefresh(expireAt);
    if (this.transport.unidirectional) {
      const nowSec = Math.floor(Date.now() / 1000);
      const body = this.expireAt > 0 ? '{"expires":true,"ttl":' + Math.max(0, this.expireAt - nowSec) + '}' : '{}';
      this.sendPush(encodePush('', 'refresh', body));
    }
  }

  /** applyRefresh sets a new expiry (0 = never) and optionally new info. */
  applyRefresh(expireAt: number, info?: string): void {
    this.expireAt = expireAt;
    if (info !== undefined) {
      this.info = info;
      this.infoValue = JSON.parse(info);
    }
    this.scheduleExpire();
  }

  private async handleSubRefresh(id: number, params: Record<string, unknown>): Promise<void> {
    const { channel, token } = parseSubRefresh(params);
    const entry = this.subs?.get(channel);
    if (!entry) throw new ChatError(Errors.permissionDenied);
    const v = await verifySubscriptionToken(this.node.tokenSecret, token, this.user, channel);
    entry.expireAt = v.expireAt;
    this.scheduleSubExpire(entry);
    let body = '{';
    if (v.expireAt > 0) body += '"expires":true,"ttl":' + Math.max(0, v.expireAt - Math.floor(Date.now() / 1000));
    this.send(encodeReply(id, 'sub_refresh', body + '}'));
  }

  private scheduleSubExpire(entry: SubEntry): void {
    if (entry.expireTimer) clearTimeout(entry.expireTimer);
    entry.expireTimer = null;
    if (entry.expireAt <= 0) return;
    const byProxy = this.subRefreshEndpoint(entry) !== null;
    const delay = entry.expireAt * 1000 - Date.now() + (byProxy ? 0 : this.node.options.expiredCloseDelayMs);
    entry.expireTimer = setTimeout(() => {
      entry.expireTimer = null;
      if (this.subs?.get(entry.channel) !== entry) return;
      if (entry.expireAt > 0 && entry.expireAt * 1000 <= Date.now()) {
        if (byProxy) void this.subRefreshByProxy(entry);
        else void this.unsubscribeChannel(entry.channel, { code: UnsubscribeCode.expired, reason: 'subscription expired' });
      } else this.scheduleSubExpire(entry);
    }, Math.max(0, Math.min(delay, 2 ** 31 - 1)));
    entry.expireTimer.unref();
  }

  /** subRefreshEndpoint is where a proxied subscription is renewed, or null (client-side refresh). */
  private subRefreshEndpoint(entry: SubEntry): ProxyEndpoint | null {
    if (!entry.proxied || !this.node.proxy) return null;
    const info = this.node.namespaces.resolve(entry.channel);
    return info ? this.node.proxy.subRefreshEndpoint(info.options) : null;
  }

  /**
   * subRefreshByProxy asks the sub_refresh proxy whether a subscription lives on (proxy hook):
   * expired unsubscribes it (2501), a new expire_at extends it and new info replaces its channel
   * info; if the backend cannot answer, it stays and the call is repeated later.
   */
  private async subRefreshByProxy(entry: SubEntry): Promise<void> {
    const proxy = this.node.proxy!;
    const ep = this.subRefreshEndpoint(entry);
    if (!ep) return;
    let r;
    try {
      r = await proxy.subRefresh(this, ep, entry.channel);
    } catch {
      if (this.subs?.get(entry.channel) !== entry || entry.expireTimer) return;
      entry.expireTimer = setTimeout(() => {
        entry.expireTimer = null;
        if (this.subs?.get(entry.channel) === entry) void this.subRefreshByProxy(entry);
      }, proxy.refreshRetryMs);
      entry.expireTimer.unref();
      return;
    }
    if (this.subs?.get(entry.channel) !== entry) return;
    if (r.expired) {
      await this.unsubscribeChannel(entry.channel, { code: UnsubscribeCode.expired, reason: 'subscription expired' });
      return;
    }
    if (r.info !== undefined) entry.chanInfo = r.info;
    entry.expireAt = r.expireAt;
    this.scheduleSubExpire(entry);
  }

  // ---- subscriptions ----

  private async handleSubscribe(id: number, params: Record<string, unknown>): Promise<void> {
    const req = parseSubscribe(params);
    const ch = req.channel;
    const info = this.node.namespaces.resolve(ch);
    if (!info) throw new ChatError(Errors.unknownChannel);
    if (this.subs?.has(ch)) throw new ChatError(Errors.alreadySubscribed);
    if ((this.subs?.size ?? 0) >= this.node.config.maxChannelsPerConnection) throw new ChatError(Errors.limitExceeded);
    let chanInfo: string | undefined;
    let expireAt = 0;
    const proxyEp = req.token === '' && !info.private && info.users === null ? (this.node.proxy?.subscribeEndpoint(info.options) ?? null) : null;
    let proxied: SubscribeResult | undefined;
    if (req.token !== '') {
      const v = await verifySubscriptionToken(this.node.tokenSecret, req.token, this.user, ch);
      chanInfo = v.info;
      expireAt = v.expireAt;
    } else if (proxyEp) {
      // Proxy hook: the backend decides (anonymous included), as Centrifugo; private ($) and
      // user-limited (#) channels keep their own checks and are never proxied.
      proxied = await this.node.proxy!.subscribe(this, proxyEp, ch, req.data);
      chanInfo = proxied.info;
      expireAt = proxied.expireAt;
    } else {
      if (info.private) throw new ChatError(Errors.permissionDenied);
      if (this.user === '' && !info.options.allowSubscribeForAnonymous) throw new ChatError(Errors.permissionDenied);
      if (info.users !== null && !info.users.includes(this.user)) throw new ChatError(Errors.permissionDenied);
    }
    if (this.closed) return;
    if (this.subs?.has(ch)) throw new ChatError(Errors.alreadySubscribed);
    if (req.delta !== '' && req.delta !== 'fossil') throw new ChatError(Errors.badRequest);
    let filter: { tf: TagsFilter; key: string } | undefined;
    if (req.tf !== null) {
      // As Centrifugo: a filter where the namespace does not allow one, or a malformed one, is 107.
      if (info.options.allowTagsFilter !== true) throw new ChatError({ ...Errors.badRequest, message: 'bad request: tags filter not allowed in this namespace' });
      const tf = parseTagsFilter(req.tf);
      filter = { tf, key: filterKey(tf) };
    }
    const o = await this.subscribeChannel(ch, info, {
      recover: req.recover,
      epoch: req.epoch,
      offset: req.offset,
      recoverable: req.recoverable,
      positioned: req.positioned,
      joinLeave: req.joinLeave,
      flag: req.flag,
      delta: req.delta,
      filter,
      serverSide: false,
      chanInfo,
      expireAt,
      data: proxied?.data,
      override: proxied?.override,
      proxied: proxied !== undefined,
    });
    if (this.closed) return;
    this.send(encodeReply(id, 'subscribe', o.body));
    this.activate(o);
  }

  /**
   * subscribeChannel adds a subscription (inactive: live pushes are buffered),
   * reads the stream position or recovers, and returns the result body; the
   * caller writes it and then calls activate().
   */
  private async subscribeChannel(
    ch: string,
    info: ChannelInfo,
    o: {
      recover: boolean;
      epoch: string;
      offset: number;
      recoverable: boolean;
      positioned: boolean;
      joinLeave: boolean;
      flag: number;
      /** Delta encoding asked for ('' none). */
      delta?: string;
      /** Publication tags filter: only matching publications, live and recovered; a filtered subscription gets no deltas. */
      filter?: { tf: TagsFilter; key: string };
      serverSide: boolean;
      chanInfo?: string;
      expireAt?: number;
      /** Proxy hook: data for the subscribe result, overrides of namespace options, authorized by the subscribe proxy. */
      data?: string;
      override?: ChannelOverride;
      proxied?: boolean;
    },
  ): Promise<SubscribeOutcome> {
    const node = this.node;
    await node.requireChannel(ch, info);
    const ns = info.options;
    const ov = o.override;
    const history = ns.historySize > 0;
    const recoverable = history && (o.recoverable || o.recover || (ov?.forceRecovery ?? ns.forceRecovery));
    const positioned = recoverable || (history && (o.positioned || ov?.forcePositioning === true));
    // Deltas need a positioned stream (a gap makes the subscriber resubscribe) and the namespace's leave.
    // A filtered subscription is not delta-encoded (Centrifugo: the two are alternatives; full payloads).
    const delta = positioned && o.filter === undefined && o.delta === 'fossil' && ns.allowedDeltaTypes?.includes('fossil') === true;
    const entry: SubEntry = {
      client: this,
      channel: ch,
      active: false,
      buffer: [],
      sent: 0,
      recoverable,
      positioned,
      joinLeave: ns.joinLeave && (o.joinLeave || ov?.forcePushJoinLeave === true),
      presence: ov?.presence ?? ns.presence,
      serverSide: o.serverSide,
      chanInfo: o.chanInfo,
      expireAt: o.expireAt ?? 0,
      expireTimer: null,
    };
    if (o.proxied) entry.proxied = true;
    if (delta) entry.delta = true;
    if (o.filter) entry.filter = o.filter;
    if (this.subs === null) this.subs = new Map();
    this.subs.set(ch, entry);
    try {
      await this.hub.addSubscriber(entry);
      let body = '{';
      const parts: string[] = [];
      // A subscription the sub_refresh proxy renews is not refreshed by the client: no expires/ttl.
      if (entry.expireAt > 0 && !this.subRefreshEndpoint(entry)) {
        parts.push('"expires":true', '"ttl":' + Math.max(0, entry.expireAt - Math.floor(Date.now() / 1000)));
      }
      if (o.data !== undefined) parts.push('"data":' + o.data);
      let topOffset = 0;
      if (positioned) {
        const wasRecovering = recoverable && o.recover;
        let position: StreamPosition;
        let pubs: Publication[] = [];
        let recovered = false;
        if (wasRecovering) {
          const res = await node.broker.history(ch, {
            since: { offset: o.offset, epoch: o.epoch },
            limit: Math.min(ns.historySize, MAX_RECOVERED),
            metaTtlSeconds: node.historyMetaTtlSeconds,
          });
          position = res.position;
          pubs = res.publications;
          recovered = isRecovered(pubs, position, o.offset, o.epoch);
          if (!recovered && (o.flag & SubscribeFlag.rejectUnrecovered) !== 0) throw new ChatError(Errors.unrecoverablePosition);
          pubs = node.filterHistory(ch, pubs);
          const tf = o.filter?.tf;
          if (tf) pubs = pubs.filter((p) => matchTags(tf, p.tags));
        } else {
          position = (await node.broker.history(ch, { limit: 0, metaTtlSeconds: node.historyMetaTtlSeconds })).position;
        }
        topOffset = position.offset;
        if (recoverable) parts.push('"recoverable":true');
        parts.push('"epoch":' + JSON.stringify(position.epoch));
        // A JSON delta subscription gets every publication's data as a JSON string, recovered ones too.
        const recoveredForm = delta && this.deltaFormat === 'json' ? (p: Publication) => encodePublication(wrapPublicationData(p)) : encodePublication;
        if (pubs.length > 0) parts.push('"publications":[' + pubs.map(recoveredForm).join(',') + ']');
        if (recovered) parts.push('"recovered":true');
        if (position.offset > 0) parts.push('"offset":' + position.offset);
        parts.push('"positioned":true');
        if (wasRecovering) parts.push('"was_recovering":true');
        if (delta) parts.push('"delta":true');
      }
      body += parts.join(',') + '}';
      if (this.closed || this.subs?.get(ch) !== entry) throw new ChatError(Errors.internal);
      if (entry.presence) await node.presence.addPresence(ch, this.id, this.clientInfo(entry.chanInfo), node.presenceTtlSeconds);
      if (ns.joinLeave) void node.broker.publishJoin(ch, this.clientInfo(entry.chanInfo)).catch(() => undefined);
      this.scheduleSubExpire(entry);
      return { body, entry, pending: [], topOffset };
    } catch (e) {
      if (this.subs?.get(ch) === entry) {
        this.subs.delete(ch);
        this.hub.removeSubscriber(entry);
      }
      throw e;
    }
  }

  /** activate delivers what arrived during the subscribe (after its reply) and makes the subscription live. */
  private activate(o: SubscribeOutcome): void {
    const entry = o.entry;
    if (this.subs?.get(entry.channel) !== entry) return;
    this.hub.flushChannel(entry.channel);
    const buf = entry.buffer;
    entry.buffer = null;
    this.hub.activateEntry(entry);
    if (buf) {
      const wrap = entry.delta === true && this.deltaFormat === 'json';
      for (const b of buf) {
        if (entry.positioned && b.offset > 0 && b.offset <= o.topOffset) continue;
        this.sendPush(wrap && b.wrapped !== undefined ? b.wrapped : b.push);
      }
    }
  }

  private async handleUnsubscribe(id: number, params: Record<string, unknown>): Promise<void> {
    const ch = parseChannel(params);
    await this.unsubscribeChannel(ch, null);
    this.send(encodeReply(id, 'unsubscribe', '{}'));
  }

  /** unsubscribeChannel removes a subscription; with a push, the client is told (server-side unsubscribe). */
  async unsubscribeChannel(ch: string, push: { code: number; reason: string } | null): Promise<void> {
    const entry = this.subs?.get(ch);
    if (!entry) return;
    this.subs!.delete(ch);
    if (entry.expireTimer) clearTimeout(entry.expireTimer);
    this.hub.removeSubscriber(entry);
    if (push) this.sendPush(encodePush(ch, 'unsubscribe', '{"code":' + push.code + ',"reason":' + JSON.stringify(push.reason) + '}'));
    await this.node.track(this.leaveChannel(entry));
  }

  private async leaveChannel(entry: SubEntry): Promise<void> {
    const node = this.node;
    const ns = node.namespaces.resolve(entry.channel)?.options;
    try {
      if (entry.presence) await node.presence.removePresence(entry.channel, this.id);
      if (ns?.joinLeave) await node.broker.publishLeave(entry.channel, this.clientInfo(entry.chanInfo));
    } catch (e) {
      node.logger.warn({ err: e, channel: entry.channel }, 'chat: leave failed');
    }
  }

  /** serverSubscribe subscribes this client by the server (API subscribe) and pushes `subscribe`. */
  async serverSubscribe(ch: string, chanInfo?: string): Promise<void> {
    if (this.state !== State.Connected || this.subs?.has(ch)) return;
    const info = this.node.namespaces.resolve(ch);
    if (!info) return;
    const o = await this.subscribeChannel(ch, info, {
      recover: false,
      epoch: '',
      offset: 0,
      recoverable: true,
      positioned: false,
      joinLeave: true,
      flag: 0,
      serverSide: true,
      chanInfo,
    });
    if (this.closed) return;
    this.sendPush(encodePush(ch, 'subscribe', o.body));
    this.activate(o);
  }

  // ---- publish / presence / history / rpc ----

  private async handlePublish(id: number, params: Record<string, unknown>): Promise<void> {
    const req = parsePublish(params);
    const info = this.node.namespaces.resolve(req.channel);
    if (!info) throw new ChatError(Errors.unknownChannel);
    if (!info.options.allowPublishForClient) throw new ChatError(Errors.permissionDenied);
    if (info.private && !this.subs?.has(req.channel)) throw new ChatError(Errors.permissionDenied);
    if (info.users !== null && !info.users.includes(this.user)) throw new ChatError(Errors.permissionDenied);
    // Counted across every channel before anything else is asked, so made-up names cost one token each.
    if (!this.node.takePublishToken(this.user, this.id)) throw new ChatError(Errors.tooManyRequests);
    await this.node.requireChannel(req.channel, info);
    const r = await this.node.pipeline.run({
      channel: req.channel,
      namespace: info.options,
      clientId: this.id,
      user: this.user,
      info: this.infoValue as ChatUserInfo | undefined,
      data: req.data,
      proxyConnection: this, // proxy hook
      clientInfo: this.clientInfo(this.subs?.get(req.channel)?.chanInfo),
      live: () => !this.closed,
    });
    switch (r.status) {
      case 'published':
        this.send(encodeReply(id, 'publish', '{}'));
        return;
      case 'handled':
        this.send(encodeReply(id, 'publish', r.reply === undefined ? '{}' : JSON.stringify(r.reply)));
        return;
      case 'rejected':
        throw new ChatError({ code: r.code, message: r.message, temporary: r.temporary });
      case 'dropped':
        return;
    }
  }

  private checkReadable(ch: string): ChannelInfo {
    const info = this.node.namespaces.resolve(ch);
    if (!info) throw new ChatError(Errors.unknownChannel);
    if ((info.private || info.users !== null) && !this.subs?.has(ch)) throw new ChatError(Errors.permissionDenied);
    if (this.user === '' && !info.options.allowSubscribeForAnonymous) throw new ChatError(Errors.permissionDenied);
    return info;
  }

  private async handlePresence(id: number, params: Record<string, unknown>, stats: boolean): Promise<void> {
    const ch = parseChannel(params);
    const info = this.checkReadable(ch);
    if (!info.options.presence) throw new ChatError(Errors.notAvailable);
    await this.node.requireChannel(ch, info);
    if (stats) {
      const s = await this.node.presence.presenceStats(ch);
      this.send(encodeReply(id, 'presence_stats', '{"num_clients":' + s.numClients + ',"num_users":' + s.numUsers + '}'));
    } else {
      const p = await this.node.presence.presence(ch);
      this.send(encodeReply(id, 'presence', '{"presence":' + encodePresenceMap(p) + '}'));
    }
  }

  private async handleHistory(id: number, params: Record<string, unknown>): Promise<void> {
    const req = parseHistory(params);
    const info = this.checkReadable(req.channel);
    if (info.options.historySize <= 0) throw new ChatError(Errors.notAvailable);
    const res = await this.node.history(req.channel, req.limit, req.since, req.reverse);
    this.send(encodeReply(id, 'history', encodeHistoryResult(res.publications, res.position)));
  }

  private async handleRpc(id: number, params: Record<string, unknown>): Promise<void> {
    const req = parseRpc(params);
    const h = this.node.rpcHandler(req.method);
    if (!h && this.node.proxy?.rpcEndpoint) {
      // Proxy hook: methods onair does not serve itself go to the backend.
      const r = await this.node.proxy.rpc(this, req.method, rawJson(req.data));
      this.send(encodeReply(id, 'rpc', r.data === undefined ? '{}' : '{"data":' + r.data + '}'));
      return;
    }
    // No handler and no RPC proxy: Centrifugo answers 108 here (104 is for an unknown command).
    if (!h) throw new ChatError(Errors.notAvailable);
    let result: unknown;
    try {
      result = await h({ clientId: this.id, user: this.user, info: this.infoValue as ChatUserInfo | undefined, data: req.data });
    } catch (e) {
      const ce = e as { code?: unknown; message?: unknown };
      if (typeof ce?.code === 'number' && typeof ce.message === 'string') throw new ChatError({ code: ce.code, message: ce.message });
      throw e;
    }
    this.send(encodeReply(id, 'rpc', result === undefined ? '{}' : '{"data":' + JSON.stringify(result) + '}'));
  }

  // ---- teardown ----

  /** disconnect closes the connection with a code and cleans up its state. */
  disconnect(d: Disconnect): void {
    if (this.state === State.Closed) return;
    const wasConnected = this.state === State.Connected;
    if (this.queued > 0 && d.code !== Disconnects.slow.code) this.flush();
    this.dropQueue();
    this.state = State.Closed;
    this.inbox = null;
    if (this.expireTimer) clearTimeout(this.expireTimer);
    this.expireTimer = null;
    this.node.metrics.disconnect(d.code);
    if (this.transport.unidirectional || this.transport.emulation) {
      // An HTTP stream has no close code: the client is told with a disconnect push.
      const push = encodePush('', 'disconnect', '{"code":' + d.code + ',"reason":' + JSON.stringify(d.reason) + ',"reconnect":' + disconnectReconnects(d.code) + '}');
      this.transport.writeText([this.transport.unidirectional ? push : wrapPush(push)]);
    }
    this.transport.close(d);
    this.cleanup(wasConnected);
  }

  /** onTransportClosed is called when the peer went away. */
  onTransportClosed(): void {
    if (this.state === State.Closed) return;
    const wasConnected = this.state === State.Connected;
    this.state = State.Closed;
    this.dropQueue();
    this.inbox = null;
    if (this.expireTimer) clearTimeout(this.expireTimer);
    this.expireTimer = null;
    this.node.metrics.disconnect(Disconnects.connectionClosed.code);
    this.cleanup(wasConnected);
  }

  private dropQueue(): void {
    this.queue = null;
    this.queued = 0;
    this.queuedMessages = 0;
  }

  private cleanup(wasConnected: boolean): void {
    const subs = this.subs;
    this.subs = null;
    if (wasConnected) this.node.unregister(this);
    if (subs) {
      for (const entry of subs.values()) {
        if (entry.expireTimer) clearTimeout(entry.expireTimer);
        this.hub.removeSubscriber(entry);
        void this.node.track(this.leaveChannel(entry));
      }
    }
  }
}

/** uniDisconnectFor maps a connect error to the disconnect a unidirectional client gets. */
function uniDisconnectFor(err: ProtocolError): Disconnect {
  if (err.code === Errors.tokenExpired.code) return { code: Disconnects.expired.code, reason: 'token expired' };
  if (err.code === Errors.unauthorized.code) return Disconnects.invalidToken;
  if (err.temporary) return Disconnects.serverError;
  return Disconnects.badRequest;
}

function parseConnectSafe(p: Record<string, unknown>): ConnectRequest | Error {
  try {
    return parseConnect(p);
  } catch (e) {
    return e as Error;
  }
}

/** isRecovered tells whether publications after `offset` were all returned (Centrifugo's rule). */
export function isRecovered(pubs: Publication[], top: StreamPosition, offset: number, epoch: string): boolean {
  if (epoch !== '' && epoch !== top.epoch) return false;
  const first = pubs[0];
  const last = pubs[pubs.length - 1];
  if (first === undefined || last === undefined) return top.offset === offset;
  return first.offset === offset + 1 && last.offset === top.offset;
}
