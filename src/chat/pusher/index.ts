/**
 * The Pusher Channels front-end of onair chat: protocol 7 WebSockets at /app/{key} sharing
 * the chat channels, the Pusher HTTP API and the browser authorization endpoint.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { OnairConfig } from '../../config/schema.js';
import type { ChatService } from '../service.js';
import type { Feature } from '../../app/feature.js';
import type { ModerationStore } from '../moderation/db.js';
import { PusherServer, type PusherSecrets, type PusherServerOptions } from './server.js';
import { createPusherMetrics } from './metrics.js';
import { listenerLimits } from '../../net/listener-limits.js';
import type { Logger } from '../../observability/logger.js';
import { registerPusherHttpApi } from './http-api.js';
import { registerPusherAuthRoute, type PusherAuthDeps } from './auth-route.js';

export { PusherServer, APP_PATH_PREFIX, type PusherSecrets, type PusherConfig } from './server.js';
export { ChannelMapper, toPusherName, type MappedChannel, type PusherChannelType } from './names.js';
export { channelAuth, userAuth, requestSignature, verifyRequest, verifyChannelAuth, verifyUserAuth } from './auth.js';
export { PusherCodes, ONAIR_EVENT, decodeFrame } from './frames.js';
export { PUSHER_AUTH_PATH, PUSHER_USER_AUTH_PATH, registerPusherAuthRoute, type AuthUser, type PusherAuthDeps } from './auth-route.js';
export { envelope } from './http-api.js';

export interface PusherService {
  readonly server: PusherServer;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** handleUpgrade takes WebSocket upgrades on /app/{key}; false for other paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** registerHttp adds the Pusher HTTP API (/apps/{appId}/...). */
  registerHttp(app: FastifyInstance): void;
  /** registerAuthRoute adds POST /api/v1/pusher/auth and /api/v1/pusher/user-auth. */
  registerAuthRoute(app: FastifyInstance, deps: Pick<PusherAuthDeps, 'user' | 'refuse'>): void;
}

export function createPusherService(deps: {
  chat: ChatService;
  config: OnairConfig;
  registry: Registry;
  secrets: PusherSecrets;
  logger?: Logger;
  options?: Partial<PusherServerOptions>;
}): PusherService {
  const node = deps.chat.node;
  let server: PusherServer | undefined;
  const metrics = createPusherMetrics(deps.registry, { centrifugo: () => node.numClients(), pusher: () => server?.numConnections ?? 0 });
  const limits = listenerLimits(deps.config, 'pusher', deps.logger, deps.registry);
  server = new PusherServer({ node, config: deps.config.chat.pusher, secrets: deps.secrets, metrics, options: deps.options, limits });
  const s = server;
  let started = false;
  return {
    server: s,
    async start() {
      if (started) return;
      s.start();
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      await s.stop();
    },
    handleUpgrade(req, socket, head) {
      if (!(req.url ?? '').startsWith('/app/')) return false;
      if (!started) {
        socket.destroy();
        return true;
      }
      return s.handleUpgrade(req, socket, head);
    },
    registerHttp(app) {
      registerPusherHttpApi(app, s);
    },
    registerAuthRoute(app, a) {
      registerPusherAuthRoute(app, { secrets: s.secrets, mapper: s.mapper, namespaces: node.namespaces, authorised: (socketId, user, channel) => s.noteAuthorised(socketId, user.id, channel), ...a });
    },
  };
}

/** CHAT_PREFIX is the namespace of moderated chat rooms (bans apply there). */
const CHAT_PREFIX = 'chat:';

/** RoomBans tells whether a user is banned from a chat room (chat moderation). */
export interface RoomBans {
  readonly store: Pick<ModerationStore, 'restriction'>;
}

/**
 * pusherFeature adds the Pusher front-end to a node running the chat role: protocol at
 * /app/{key}, HTTP API at /apps/{appId}, browser auth; off when chat.pusher.enabled is false.
 */
export const pusherFeature: Feature<'pusher', { chat: ChatService; moderation?: RoomBans }, PusherService> = {
  name: 'pusher',
  roles: ['chat'],
  deps: { chat: 'required', moderation: 'optional' },
  create(base, { chat, moderation }) {
    if (!base.config.chat.pusher.enabled) return undefined;
    const svc = createPusherService({
      chat,
      config: base.config,
      registry: base.registry,
      logger: base.logger,
      secrets: { appId: base.config.chat.pusher.appId, key: base.secrets.pusherKey, secret: base.secrets.pusherSecret },
    });
    svc.registerHttp(base.http);
    svc.registerAuthRoute(base.http, {
      async user(req) {
        const u = await base.api.auth.user(req);
        return { id: u.id, username: u.username, displayName: u.display_name };
      },
      // A user banned from a room gets no authorization for its chat channel (timeouts only stop chatting).
      async refuse(user, channel) {
        if (!channel.startsWith(CHAT_PREFIX) || !moderation) return null;
        const c = await base.platform.channels.find(channel.slice(CHAT_PREFIX.length));
        if (!c) return null;
        const r = await moderation.store.restriction(c.id, user.id);
        if (r && r.kind === 'ban' && (r.expiresAt === null || r.expiresAt > Date.now())) return 'you are banned from this chat';
        return null;
      },
    });
    base.addUpgradeHandler((req, socket, head) => svc.handleUpgrade(req, socket, head));
    base.logger.info({ appId: base.config.chat.pusher.appId, key: base.secrets.pusherKey }, 'pusher: protocol at /app/{key}, HTTP API at /apps/{appId}');
    return { api: svc, start: () => svc.start(), stop: () => svc.stop() };
  },
};
