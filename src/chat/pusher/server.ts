/**
 * PusherServer accepts Pusher protocol WebSockets at /app/{key}, keeps the connections,
 * pings idle ones and applies user-wide control messages (bans) to presence members.
 */
import { clientAddressOf } from '../../http/client-address.js';
import { ListenerLimits } from '../../net/listener-limits.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomInt } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ChatNode } from '../node.js';
import type { ControlMessage } from '../broker/types.js';
import { ChannelMapper } from './names.js';
import { PusherCodes } from './frames.js';
import { settleSockets } from '../transport/ws.js';
import { PusherConnection, type PusherConnectionHost } from './connection.js';
import type { PusherMetrics } from './metrics.js';
import type { PusherConfig, PusherSecrets } from './config.js';

export type { PusherConfig, PusherSecrets } from './config.js';

export const APP_PATH_PREFIX = '/app/';
/** Protocol versions served (pusher-js 8 speaks 7). */
const MIN_PROTOCOL = 5;
const MAX_PROTOCOL = 7;
/** Largest socket id half (Pusher socket ids are "<digits>.<digits>"). */
const SOCKET_ID_PART_MAX = 2 ** 31;

export interface PusherServerOptions {
  /** How often idle connections are checked (ms). */
  activityCheckMs: number;
}

export class PusherServer implements PusherConnectionHost {
  readonly node: ChatNode;
  readonly config: PusherConfig;
  readonly secrets: PusherSecrets;
  readonly mapper: ChannelMapper;
  readonly metrics: PusherMetrics;
  private readonly wss: WebSocketServer;
  private readonly conns = new Map<string, PusherConnection>();
  private readonly sockets = new Set<WebSocket>();
  private timer: NodeJS.Timeout | null = null;
  private readonly options: PusherServerOptions;
  /** What start() registered at the node, undone by stop(). */
  private unregister: (() => void)[] = [];

  /** limits counts connections per client address (limits.pusher.perIp) and in all (chat.pusher.maxConnections). */
  readonly limits: ListenerLimits;

  constructor(deps: { node: ChatNode; config: PusherConfig; secrets: PusherSecrets; metrics: PusherMetrics; options?: Partial<PusherServerOptions>; limits?: ListenerLimits }) {
    this.node = deps.node;
    this.limits = deps.limits ?? new ListenerLimits({ listener: 'pusher', settings: { perIp: 0, global: deps.config.maxConnections }, exempt: [] });
    this.config = deps.config;
    this.secrets = deps.secrets;
    this.metrics = deps.metrics;
    this.mapper = new ChannelMapper(Object.keys(deps.node.config.namespaces));
    this.options = { activityCheckMs: 5000, ...deps.options };
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      // Oversized messages up to this get pusher:error 4300; beyond it ws closes the connection (1009).
      maxPayload: Math.max(deps.node.config.maxFrameBytes, deps.config.maxMessageBytes * 2),
    });
  }

  get numConnections(): number {
    return this.conns.size;
  }

  start(): void {
    this.unregister = [this.node.addControlListener((msg) => this.control(msg)), this.node.addClientCounter(() => this.conns.size)];
    this.timer = setInterval(() => this.checkActivity(), this.options.activityCheckMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const undo of this.unregister.splice(0)) undo();
    for (const c of [...this.conns.values()]) c.close(PusherCodes.reconnect, 'server shutting down');
    await settleSockets(this.sockets);
    this.wss.close();
  }

  /** handleUpgrade takes upgrades on /app/{key}; false lets another handler try. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (!(req.url ?? '').startsWith(APP_PATH_PREFIX)) return false;
    let key: string;
    let protocol: string | null;
    try {
      const url = new URL(req.url!, 'http://x');
      key = decodeURIComponent(url.pathname.slice(APP_PATH_PREFIX.length));
      protocol = url.searchParams.get('protocol');
    } catch {
      // Not a URL we can read (bad percent-encoding): the key cannot match.
      key = '';
      protocol = null;
    }
    const clientIp = clientAddressOf(req);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, key, protocol, clientIp));
    return true;
  }

  private newSocketId(): string {
    for (;;) {
      const id = randomInt(1, SOCKET_ID_PART_MAX) + '.' + randomInt(1, SOCKET_ID_PART_MAX);
      if (!this.conns.has(id)) return id;
    }
  }

  private onConnection(ws: WebSocket, key: string, protocol: string | null, clientIp: string): void {
    const conn = new PusherConnection(this, ws, this.newSocketId());
    this.sockets.add(ws);
    ws.on('close', () => {
      this.sockets.delete(ws);
      conn.onClosed();
    });
    ws.on('error', () => undefined);
    if (key !== this.secrets.key) {
      conn.close(PusherCodes.appNotFound, `App key ${key.slice(0, 64)} does not exist`);
      return;
    }
    if (protocol === null) {
      conn.close(PusherCodes.noProtocol, 'No protocol version supplied');
      return;
    }
    const v = Number(protocol);
    if (!Number.isInteger(v) || v < MIN_PROTOCOL || v > MAX_PROTOCOL) {
      conn.close(PusherCodes.unsupportedProtocol, `Unsupported protocol version ${protocol.slice(0, 16)}`);
      return;
    }
    // Pusher's own refusal: 4100 (over capacity) tells clients to come back after a backoff.
    const admission = this.limits.admit(clientIp);
    if (!admission.ok) {
      conn.close(PusherCodes.overCapacity, admission.reason === 'global' ? 'Over capacity' : 'Over capacity: too many connections from this address');
      return;
    }
    ws.once('close', () => admission.lease.release());
    this.conns.set(conn.id, conn);
    ws.on('message', (data: Buffer) => conn.onMessage(data));
    conn.send(
      '{"event":"pusher:connection_established","data":' +
        JSON.stringify(JSON.stringify({ socket_id: conn.id, activity_timeout: this.config.activityTimeoutSeconds })) +
        '}',
    );
  }

  /** forget drops a closed connection. */
  forget(conn: PusherConnection): void {
    if (this.conns.get(conn.id) === conn) this.conns.delete(conn.id);
  }

  connection(socketId: string): PusherConnection | undefined {
    return this.conns.get(socketId);
  }

  /**
   * noteAuthorised remembers that a platform user's session authorised this socket for an onair
   * channel ('' for a signin), so revoking that user's tokens closes it and a ban unsubscribes it. A socket held by another node (the auth request came through a
   * load balancer) hears of it over the broker's control channel; the answer waits for that
   * publish, so the note reaches the node before any revocation made after the client has it.
   */
  async noteAuthorised(socketId: string, user: string, channel: string): Promise<void> {
    const local = this.conns.get(socketId);
    if (local) local.noteAuthorisation(user, channel);
    else await this.node.broker.publishControl({ type: 'pusher_authorised', socket: socketId, user, channel });
  }

  /** checkActivity pings connections silent for activity_timeout and closes those that did not answer. */
  private checkActivity(): void {
    const now = Date.now();
    const idle = this.config.activityTimeoutSeconds * 1000;
    const pongWait = this.config.pongTimeoutSeconds * 1000;
    for (const c of [...this.conns.values()]) {
      if (c.pingSentAt > 0) {
        if (now - c.pingSentAt >= pongWait) c.close(PusherCodes.pongTimeout, 'Pong reply not received');
      } else if (now - c.lastSeen >= idle) {
        c.pingSentAt = now;
        c.send('{"event":"pusher:ping","data":"{}"}');
      }
    }
  }

  /** control applies user-wide disconnects and unsubscribes (moderation bans) to presence members here, token revocations to the sockets a user authorised, and authorisations other nodes served to the sockets here. */
  private control(msg: ControlMessage): void {
    if (msg.type === 'disconnect') {
      for (const c of [...this.conns.values()]) {
        if (msg.whitelist?.includes(c.id)) continue;
        if ((msg.client !== undefined && msg.client === c.id) || (msg.user !== '' && c.hasUser(msg.user))) c.close(PusherCodes.unauthorized, msg.reason || 'disconnected by the server');
      }
    } else if (msg.type === 'pusher_authorised') {
      this.conns.get(msg.socket)?.noteAuthorisation(msg.user, msg.channel);
    } else if (msg.type === 'revoke') {
      // Every authorisation a socket holds now was given before the revocation: 4009 tells pusher-js not to reconnect as is.
      for (const c of [...this.conns.values()]) if (c.heldBy(msg.user)) c.close(PusherCodes.unauthorized, 'token revoked');
    } else if (msg.type === 'unsubscribe') {
      for (const c of [...this.conns.values()]) {
        if (c.channelOfUser(msg.user, msg.channel)) void c.unsubscribeChannel(msg.channel, { code: 0, reason: 'unsubscribed by the server' });
      }
    }
  }
}
