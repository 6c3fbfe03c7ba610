/**
 * PusherConnection is one Pusher protocol 7 WebSocket: subscriptions into the shared chat
 * channels (as a ChannelSink of the node's hub), presence members, client events, pings.
 * Publications arrive as shared batch bytes (encoded once per batch and channel type).
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { ChatNode } from '../node.js';
import type { ChannelHub, ChannelSink, SubEntry } from '../channel-hub.js';
import type { SharedBatch, TransportKind } from '../transport/types.js';
import { ChatError } from '../protocol/codes.js';
import { rawJson, type ClientInfo } from '../protocol/codec.js';
import type { ChatUserInfo } from '../hooks.js';
import type { ChannelMapper, MappedChannel, PusherChannelType } from './names.js';
import {
  MAX_EVENT_NAME,
  PusherCodes,
  TAG_EVENT,
  TAG_EXCLUDE,
  TAG_USER,
  batchBytesWithout,
  batchExcludes,
  dataObject,
  decodeFrame,
  encodeError,
  encodeMessage,
  eventFrame,
  eventOfPush,
  type Inbound,
} from './frames.js';
import { verifyChannelAuth, verifyUserAuth } from './auth.js';
import type { PusherConfig, PusherSecrets } from './config.js';
import type { PusherMetrics } from './metrics.js';

const KIND_OF: Record<PusherChannelType, TransportKind> = { public: 'pusher', private: 'pusher_private', presence: 'pusher_presence' };
/** CLIENT_EVENT_PREFIX starts the names of events clients may trigger. */
export const CLIENT_EVENT_PREFIX = 'client-';

/** PusherSub is a SubEntry of a Pusher subscription. */
interface PusherSub extends SubEntry {
  readonly pusherName: string;
  readonly type: PusherChannelType;
  readonly kind: TransportKind;
  /** Presence: the member's user id (from channel_data). */
  readonly userId: string;
  /** Presence: users in the channel and their client ids (member_added/removed on first/last). */
  members: Map<string, Set<string>> | null;
}

/** PusherConnectionHost is what a connection needs from the server that accepted it (declared here, by the consumer). */
export interface PusherConnectionHost {
  readonly node: ChatNode;
  readonly config: PusherConfig;
  readonly secrets: PusherSecrets;
  readonly mapper: ChannelMapper;
  readonly metrics: PusherMetrics;
  /** forget drops a closed connection. */
  forget(conn: PusherConnection): void;
}

export class PusherConnection implements ChannelSink {
  readonly id: string;
  private readonly ws: WebSocket;
  private readonly socket: Socket;
  private readonly server: PusherConnectionHost;
  private readonly node: ChatNode;
  private readonly hub: ChannelHub;
  /** Subscriptions by onair channel. */
  private readonly subs = new Map<string, PusherSub>();
  private closed = false;
  /** The user signed in with pusher:signin ('' until then). */
  user = '';
  /**
   * Platform users whose session authorised this socket (POST /api/v1/pusher/auth and user-auth),
   * with the onair channels they authorised ('' for a signin): revoking a user's tokens closes the
   * socket, a user-wide unsubscribe of a channel (a ban) removes the channel that user authorised.
   */
  private readonly authorisations = new Map<string, Set<string>>();
  /** Last message from the client (ms), for the activity timeout. */
  lastSeen = Date.now();
  /** When the server's pusher:ping went out (0: none pending). */
  pingSentAt = 0;
  private rateWindow = 0;
  private rateCount = 0;

  constructor(server: PusherConnectionHost, ws: WebSocket, id: string) {
    this.server = server;
    this.node = server.node;
    this.hub = server.node.hub;
    this.ws = ws;
    this.socket = (ws as unknown as { _socket: Socket })._socket;
    this.id = id;
  }

  /** hasUser tells whether a presence subscription of this socket is that user's (user-wide disconnects). */
  hasUser(user: string): boolean {
    if (this.user !== '' && this.user === user) return true;
    for (const s of this.subs.values()) if (s.userId === user) return true;
    return false;
  }

  /** noteAuthorisation records that the user's session authorised this socket, for an onair channel or ('') a signin. */
  noteAuthorisation(user: string, channel: string): void {
    const channels = this.authorisations.get(user) ?? new Set<string>();
    channels.add(channel);
    this.authorisations.set(user, channels);
  }

  /** heldBy tells whether this socket holds an authorisation of that user: signed in, a presence member, or a channel authorised by their session. */
  heldBy(user: string): boolean {
    return user !== '' && (this.authorisations.has(user) || this.hasUser(user));
  }

  /** channelOfUser tells whether this socket is in the channel as that user: a presence member, signed in, or subscribed with that user's authorisation (user-wide unsubscribes). */
  channelOfUser(user: string, channel: string): boolean {
    const s = this.subs.get(channel);
    return s !== undefined && (s.userId === user || (this.user !== '' && this.user === user) || (this.authorisations.get(user)?.has(channel) ?? false));
  }

  // ---- output ----

  send(msg: string): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(msg);
  }

  sendError(code: number | null, message: string): void {
    this.server.metrics.error(code);
    this.send(encodeError(code, message));
  }

  /** close sends pusher:error and closes with the code (4000-4299 tell pusher-js whether to reconnect). */
  close(code: number, message: string): void {
    if (this.closed) return;
    this.sendError(code, message);
    this.closed = true;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, message.slice(0, 120));
    this.cleanup();
  }

  private writeShared(bytes: Buffer): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN || bytes.length === 0) return;
    // Unmasked server frames: the same bytes serve every connection (as the Centrifugo WebSocket transport).
    this.socket.write(bytes);
    if (this.socket.writableLength > this.node.config.writeQueueMaxBytes) this.close(PusherCodes.overCapacity, 'connection too slow: too much output queued');
  }

  takeRun(log: readonly SharedBatch[], from: number, to: number, entry: SubEntry): void {
    const kind = (entry as PusherSub).kind;
    let excluded = false;
    const first = log[from];
    if (first === undefined) return;
    // Index loops, not a slice: this runs per Pusher socket per fan-out round.
    for (let i = from; i <= to && !excluded; i++) excluded = batchExcludes(log[i]?.pushes ?? [], this.id);
    if (!excluded) {
      this.writeShared(first.chainBytes(kind, log, from, to));
      return;
    }
    // This socket sent one of these events (or the HTTP API excluded it): its own copy, without them.
    const type = (entry as PusherSub).type;
    const parts: Buffer[] = [];
    for (let i = from; i <= to; i++) {
      const b = log[i];
      if (b !== undefined) parts.push(batchExcludes(b.pushes, this.id) ? batchBytesWithout(b.pushes, type, this.id) : b.bytes(kind));
    }
    this.writeShared(Buffer.concat(parts));
  }

  queueRun(log: readonly SharedBatch[], from: number, to: number, entry: SubEntry): void {
    // Nothing is queued on a Pusher connection: writing now keeps the order.
    this.takeRun(log, from, to, entry);
  }

  sendPush(push: string): void {
    type PushInfo = { user?: string; client?: string; conn_info?: unknown; chan_info?: unknown };
    let v: { channel?: string; join?: { info?: PushInfo }; leave?: { info?: PushInfo } };
    try {
      v = JSON.parse(push) as typeof v;
    } catch {
      return;
    }
    const sub = v.channel === undefined ? undefined : this.subs.get(v.channel);
    if (!sub || sub.members === null) return;
    const pi = v.join?.info ?? v.leave?.info;
    if (typeof pi?.user !== 'string' || typeof pi.client !== 'string') return;
    // Back to a ClientInfo (conn_info/chan_info are embedded JSON in pushes).
    const info: ClientInfo = { user: pi.user, client: pi.client };
    if (pi.conn_info !== undefined) info.connInfo = JSON.stringify(pi.conn_info);
    if (pi.chan_info !== undefined) info.chanInfo = JSON.stringify(pi.chan_info);
    if (v.join) this.memberJoined(sub, info);
    else this.memberLeft(sub, info);
  }

  private memberJoined(sub: PusherSub, info: ClientInfo): void {
    if (info.user === '') return;
    let set = sub.members!.get(info.user);
    const first = set === undefined;
    if (!set) sub.members!.set(info.user, (set = new Set()));
    set.add(info.client);
    if (first && info.client !== this.id) {
      this.send(encodeMessage('pusher_internal:member_added', sub.pusherName, JSON.stringify({ user_id: info.user, user_info: userInfoOf(info) })));
    }
  }

  private memberLeft(sub: PusherSub, info: ClientInfo): void {
    const set = sub.members!.get(info.user);
    if (!set || !set.delete(info.client) || set.size > 0) return;
    sub.members!.delete(info.user);
    this.send(encodeMessage('pusher_internal:member_removed', sub.pusherName, JSON.stringify({ user_id: info.user })));
  }

  clientInfo(chanInfo?: string): ClientInfo {
    const ci: ClientInfo = { user: '', client: this.id };
    if (chanInfo !== undefined) {
      ci.chanInfo = chanInfo;
      // Presence subscriptions carry their member's user id in chanInfo (see subscribe).
      try {
        const v = JSON.parse(chanInfo) as { user_id?: unknown };
        if (typeof v.user_id === 'string') ci.user = v.user_id;
      } catch {
        /* not ours */
      }
    }
    return ci;
  }

  // ---- input ----

  onMessage(data: Buffer): void {
    if (this.closed) return;
    this.lastSeen = Date.now();
    this.pingSentAt = 0;
    if (data.length > this.server.config.maxMessageBytes) {
      this.sendError(PusherCodes.badMessage, `message too large (${data.length} bytes; at most ${this.server.config.maxMessageBytes})`);
      return;
    }
    const m = decodeFrame(data.toString());
    if (typeof m === 'string') {
      this.sendError(PusherCodes.badMessage, m);
      return;
    }
    this.server.metrics.messageIn(m.event.startsWith(CLIENT_EVENT_PREFIX) ? 'client-event' : m.event);
    this.handle(m).catch((err: unknown) => {
      this.node.logger.error({ err, socket: this.id, event: m.event }, 'pusher: message failed');
      this.sendError(PusherCodes.badMessage, 'internal error');
    });
  }

  private async handle(m: Inbound): Promise<void> {
    switch (m.event) {
      case 'pusher:ping':
        this.send('{"event":"pusher:pong","data":"{}"}');
        return;
      case 'pusher:pong':
        return;
      case 'pusher:subscribe':
        return this.subscribe(m.data);
      case 'pusher:signin':
        this.signin(m.data);
        return;
      case 'pusher:unsubscribe': {
        const d = dataObject(m.data);
        const name = typeof d?.channel === 'string' ? d.channel : '';
        const mapped = this.server.mapper.toOnair(name);
        const sub = mapped ? this.subs.get(mapped.channel) : undefined;
        if (sub && sub.pusherName === name) await this.unsubscribeChannel(sub.channel, null);
        return;
      }
      default:
        if (m.event.startsWith(CLIENT_EVENT_PREFIX)) return this.clientEvent(m);
        this.sendError(PusherCodes.badMessage, `unknown event ${JSON.stringify(m.event.slice(0, 64))}`);
    }
  }

  /** signin authenticates the socket as a user (`auth` over `socket_id::user::user_data`, user_data with an id). */
  private signin(data: unknown): void {
    const d = dataObject(data);
    const auth = typeof d?.auth === 'string' ? d.auth : '';
    const userData = typeof d?.user_data === 'string' ? d.user_data : '';
    const cfg = this.server.secrets;
    if (!verifyUserAuth(cfg.key, cfg.secret, auth, this.id, userData)) {
      this.sendError(PusherCodes.unauthorized, 'Invalid signature for user authentication');
      return;
    }
    const id = dataObject(userData)?.id;
    if (typeof id !== 'string' || id === '') {
      this.sendError(PusherCodes.unauthorized, 'user_data needs an id (a non-empty string)');
      return;
    }
    if (this.user !== '' && this.user !== id) {
      this.sendError(PusherCodes.unauthorized, 'already signed in as another user');
      return;
    }
    this.user = id;
    this.send(encodeMessage('pusher:signin_success', undefined, JSON.stringify({ user_data: userData })));
  }

  private subscriptionError(name: string, status: number, message: string): void {
    this.sendError(status === 401 || status === 403 ? PusherCodes.unauthorized : PusherCodes.badMessage, message);
    this.send(encodeMessage('pusher:subscription_error', name, JSON.stringify({ type: 'AuthError', error: message, status })));
  }

  private async subscribe(data: unknown): Promise<void> {
    const d = dataObject(data);
    const name = typeof d?.channel === 'string' ? d.channel : '';
    const mapped = this.server.mapper.toOnair(name);
    if (!mapped) {
      this.subscriptionError(name, 400, `invalid channel name ${JSON.stringify(name.slice(0, 200))}`);
      return;
    }
    const existing = this.subs.get(mapped.channel);
    if (existing) {
      if (existing.pusherName !== name) this.subscriptionError(name, 400, `already subscribed to ${existing.pusherName}, the same onair channel ${mapped.channel}`);
      return;
    }
    const info = this.node.namespaces.resolve(mapped.channel);
    if (!info) {
      this.subscriptionError(name, 404, `unknown channel: no chat namespace for ${mapped.channel}`);
      return;
    }
    if (this.subs.size >= this.node.config.maxChannelsPerConnection) {
      this.subscriptionError(name, 400, 'too many channels on this connection');
      return;
    }
    try {
      await this.node.requireChannel(mapped.channel, info);
    } catch (e) {
      // The onair channel does not exist (requireChannel): Pusher's wording of Centrifugo's 102.
      this.subscriptionError(name, 404, (e as Error).message);
      return;
    }
    const auth = typeof d!.auth === 'string' ? d!.auth : '';
    let userId = '';
    let chanInfo: string | undefined;
    const cfg = this.server.secrets;
    if (mapped.user !== undefined) {
      // A server-to-user channel: the signed-in user's own, no auth.
      if (this.user === '' || this.user !== mapped.user) {
        this.subscriptionError(name, 403, 'sign in as that user to subscribe to ' + name);
        return;
      }
    } else if (mapped.type === 'public') {
      if (info.private || info.users !== null || !info.options.allowSubscribeForAnonymous) {
        this.subscriptionError(name, 403, `${mapped.channel} needs authorization: subscribe as private-${name} or presence-${name}`);
        return;
      }
    } else if (mapped.type === 'private') {
      if (!verifyChannelAuth(cfg.key, cfg.secret, auth, this.id, name)) {
        this.subscriptionError(name, 401, 'invalid signature for ' + name);
        return;
      }
    } else {
      const channelData = typeof d!.channel_data === 'string' ? d!.channel_data : '';
      if (!verifyChannelAuth(cfg.key, cfg.secret, auth, this.id, name, channelData)) {
        this.subscriptionError(name, 401, 'invalid signature for ' + name);
        return;
      }
      const member = dataObject(channelData);
      const uid = member?.user_id;
      if (typeof uid !== 'string' && typeof uid !== 'number') {
        this.subscriptionError(name, 400, 'channel_data needs a user_id');
        return;
      }
      if (!info.options.presence) {
        this.subscriptionError(name, 400, `presence is off in namespace "${info.namespace}"`);
        return;
      }
      userId = String(uid);
      chanInfo = JSON.stringify({ user_id: userId, user_info: member!.user_info ?? null });
    }
    if (info.users !== null && !info.users.includes(mapped.user !== undefined ? this.user : userId)) {
      this.subscriptionError(name, 403, 'not allowed in ' + name);
      return;
    }
    await this.subscribeMapped(mapped, userId, chanInfo);
  }

  private async subscribeMapped(mapped: MappedChannel, userId: string, chanInfo: string | undefined): Promise<void> {
    const node = this.node;
    const presence = mapped.type === 'presence';
    const entry: PusherSub = {
      client: this,
      channel: mapped.channel,
      active: false,
      buffer: [],
      sent: 0,
      recoverable: false,
      positioned: false,
      // Presence members need join/leave whatever the namespace says.
      joinLeave: presence,
      presence,
      serverSide: false,
      chanInfo,
      expireAt: 0,
      expireTimer: null,
      pusherName: mapped.name,
      type: mapped.type,
      kind: KIND_OF[mapped.type],
      userId,
      members: presence ? new Map() : null,
    };
    this.subs.set(mapped.channel, entry);
    let inPresence = false;
    try {
      await this.hub.addSubscriber(entry);
      let body = '{}';
      if (presence) {
        if (this.closed || this.subs.get(mapped.channel) !== entry) throw new ChatError({ code: 100, message: 'closed' });
        const ci = this.clientInfo(chanInfo);
        inPresence = true;
        await node.presence.addPresence(mapped.channel, this.id, ci, node.presenceTtlSeconds);
        void node.broker.publishJoin(mapped.channel, ci).catch(() => undefined);
        const all = await node.presence.presence(mapped.channel);
        const hash: Record<string, unknown> = {};
        for (const c of Object.values(all)) {
          if (c.user === '') continue;
          let set = entry.members!.get(c.user);
          if (!set) entry.members!.set(c.user, (set = new Set()));
          set.add(c.client);
          if (!(c.user in hash)) hash[c.user] = userInfoOf(c);
        }
        const ids = Object.keys(hash);
        body = JSON.stringify({ presence: { ids, hash, count: ids.length } });
      }
      if (this.closed || this.subs.get(mapped.channel) !== entry) throw new ChatError({ code: 100, message: 'closed' });
      this.send(encodeMessage('pusher_internal:subscription_succeeded', mapped.name, body));
      this.activate(entry);
    } catch (e) {
      const current = this.subs.get(mapped.channel) === entry;
      if (current) {
        this.subs.delete(mapped.channel);
        this.hub.removeSubscriber(entry);
      }
      // Unsubscribed or closed meanwhile: their leave may have run before our presence entry was added.
      if (inPresence) void node.track(this.leave(entry));
      if (!this.closed && current) {
        node.logger.warn({ err: e, channel: mapped.channel }, 'pusher: subscribe failed');
        this.subscriptionError(mapped.name, 500, 'subscribe failed, try again');
      }
    }
  }

  /** activate writes what arrived during the subscribe and makes the subscription live. */
  private activate(entry: PusherSub): void {
    this.hub.flushChannel(entry.channel);
    const buf = entry.buffer;
    entry.buffer = null;
    this.hub.activateEntry(entry);
    if (!buf) return;
    for (const b of buf) {
      const ev = eventOfPush(b.push);
      if (ev === null) this.sendPush(b.push);
      else if (ev.exclude !== this.id) this.writeShared(eventFrame(ev, entry.type));
    }
  }

  async unsubscribeChannel(ch: string, push: { code: number; reason: string } | null): Promise<void> {
    const entry = this.subs.get(ch);
    if (!entry) return;
    this.subs.delete(ch);
    this.hub.removeSubscriber(entry);
    if (push) {
      // Pusher has no server-side unsubscribe: the channel gets a subscription error.
      this.send(encodeMessage('pusher:subscription_error', entry.pusherName, JSON.stringify({ type: 'Unsubscribed', error: push.reason, status: 403 })));
    }
    await this.node.track(this.leave(entry));
  }

  private async leave(entry: PusherSub): Promise<void> {
    if (!entry.presence) return;
    try {
      await this.node.presence.removePresence(entry.channel, this.id);
      await this.node.broker.publishLeave(entry.channel, this.clientInfo(entry.chanInfo));
    } catch (e) {
      this.node.logger.warn({ err: e, channel: entry.channel }, 'pusher: leave failed');
    }
  }

  // ---- client events ----

  private async clientEvent(m: Inbound): Promise<void> {
    const name = m.channel ?? '';
    const mapped = this.server.mapper.toOnair(name);
    const sub = mapped ? this.subs.get(mapped.channel) : undefined;
    if (!sub || sub.pusherName !== name || !sub.active) {
      this.sendError(PusherCodes.unauthorized, 'client events need a subscribed private or presence channel');
      return;
    }
    if (sub.type === 'public') {
      this.sendError(PusherCodes.unauthorized, 'client events are only allowed on private and presence channels');
      return;
    }
    if (m.event.length > MAX_EVENT_NAME) {
      this.sendError(PusherCodes.badMessage, 'event name too long');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.rateWindow) {
      this.rateWindow = now;
      this.rateCount = 0;
    }
    if (++this.rateCount > this.server.config.clientEventsPerSecond) {
      this.sendError(PusherCodes.clientEventRate, `client event rejected: at most ${this.server.config.clientEventsPerSecond} per second`);
      return;
    }
    const info = this.node.namespaces.resolve(sub.channel);
    if (!info || !info.options.allowPublishForClient) {
      this.sendError(PusherCodes.unauthorized, `clients may not publish in ${name}`);
      return;
    }
    if (!this.node.takePublishToken(sub.userId, this.id)) {
      this.sendError(PusherCodes.clientEventRate, 'client event rejected: publishing too fast across channels (chat.publishRate)');
      return;
    }
    // The same pipeline as a Centrifugo client's publish (moderation on chat:*), with the event's
    // data. The publish proxy is not asked: Pusher connections have no proxy identity (no connect proxy).
    const tags: Record<string, string> = { [TAG_EVENT]: m.event, [TAG_EXCLUDE]: this.id };
    if (sub.userId !== '') tags[TAG_USER] = sub.userId;
    const r = await this.node.pipeline.run({
      channel: sub.channel,
      namespace: info.options,
      clientId: this.id,
      user: sub.userId,
      info: userInfoAsChat(sub),
      data: m.data,
      encode: (data) => rawJson({ event: m.event, data })!,
      clientInfo: this.clientInfo(sub.chanInfo),
      tags,
      skipHistory: true,
      live: () => !this.closed && this.subs.get(sub.channel) === sub,
    });
    if (r.status === 'rejected') this.sendError(null, r.message);
    else if (r.status === 'published') this.server.metrics.clientEvent();
  }

  // ---- teardown ----

  onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.cleanup();
  }

  private cleanup(): void {
    this.server.forget(this);
    for (const entry of this.subs.values()) {
      this.hub.removeSubscriber(entry);
      void this.node.track(this.leave(entry));
    }
    this.subs.clear();
  }
}

/** userInfoOf is a presence member's user_info: from a Pusher channel_data, else the connection info of a Centrifugo client. */
function userInfoOf(c: ClientInfo): unknown {
  for (const raw of [c.chanInfo, c.connInfo]) {
    if (raw === undefined) continue;
    try {
      const v = JSON.parse(raw) as { user_info?: unknown; user_id?: unknown };
      if (raw === c.chanInfo && typeof v === 'object' && v !== null && 'user_id' in v) return v.user_info ?? null;
      return v;
    } catch {
      /* not JSON */
    }
  }
  return null;
}

function userInfoAsChat(sub: PusherSub): ChatUserInfo | undefined {
  if (sub.chanInfo === undefined) return undefined;
  const v = userInfoOf({ user: sub.userId, client: '', chanInfo: sub.chanInfo });
  return typeof v === 'object' && v !== null ? (v as ChatUserInfo) : undefined;
}

