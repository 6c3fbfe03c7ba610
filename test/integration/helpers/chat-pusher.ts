// Helpers for the Pusher protocol suites: a chat service with the Pusher front-end on one
// Fastify app (port 0), official pusher-js clients and the official pusher server SDK.
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import PusherJsModule from 'pusher-js';
import PusherSdkModule from 'pusher';
import { loadConfig } from '../../../src/config/index.js';
import type { OnairConfig } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createChatService, type ChatService } from '../../../src/chat/index.js';
import type { ChatNodeOptions } from '../../../src/chat/node.js';
import { createPusherService, type PusherService } from '../../../src/chat/pusher/index.js';
import type { PusherServerOptions } from '../../../src/chat/pusher/server.js';
import { API_KEY, SECRET, waitFor } from '../../../testkit/chat-server.js';

// CommonJS packages: the constructor is the default export (or its .default under some loaders).
type PusherJsCtor = typeof import('pusher-js').default;
type PusherSdkCtor = typeof import('pusher');
export const PusherJs: PusherJsCtor = ((PusherJsModule as unknown as { default?: PusherJsCtor }).default ?? PusherJsModule) as PusherJsCtor;
export const PusherSdk: PusherSdkCtor = ((PusherSdkModule as unknown as { default?: PusherSdkCtor }).default ?? PusherSdkModule);
export type PusherClient = InstanceType<PusherJsCtor>;

export const APP_ID = 'test-app';
export const APP_KEY = 'test-key-1234';
export const APP_SECRET = 'test-pusher-secret-0123456789';

/** Test namespaces: the defaults plus the no-namespace channel (free Pusher names) with presence. */
export const TEST_NAMESPACES = {
  chat: { presence: true, joinLeave: true, historySize: 100, historyTtlSeconds: 300, allowPublishForClient: true, allowSubscribeForAnonymous: true, forceRecovery: false },
  effects: { presence: false, joinLeave: false, historySize: 0, historyTtlSeconds: 0, allowPublishForClient: true, allowSubscribeForAnonymous: true, forceRecovery: false },
  captions: { presence: false, joinLeave: false, historySize: 20, historyTtlSeconds: 120, allowPublishForClient: false, allowSubscribeForAnonymous: true, forceRecovery: false },
  '': { presence: true, joinLeave: false, historySize: 0, historyTtlSeconds: 0, allowPublishForClient: true, allowSubscribeForAnonymous: true, forceRecovery: false },
};

export interface PusherChatServer {
  app: FastifyInstance;
  chat: ChatService;
  pusher: PusherService;
  registry: Registry;
  port: number;
  httpUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

export async function startPusherChat(
  opts: {
    chat?: Partial<OnairConfig['chat']>;
    pusher?: Partial<OnairConfig['chat']['pusher']>;
    redisUrl?: string;
    nodeName?: string;
    options?: Partial<ChatNodeOptions>;
    pusherOptions?: Partial<PusherServerOptions>;
  } = {},
): Promise<PusherChatServer> {
  const base = loadConfig({ env: {} });
  const config: OnairConfig = {
    ...base,
    chat: { ...base.chat, namespaces: TEST_NAMESPACES, ...opts.chat, pusher: { ...base.chat.pusher, ...opts.pusher } },
    redis: { url: opts.redisUrl },
  };
  const registry = new Registry();
  const chat = createChatService({ config, logger: silentLogger(), registry, tokenSecret: SECRET, apiKey: API_KEY, nodeName: opts.nodeName, options: opts.options });
  const pusher = createPusherService({ chat, config, registry, secrets: { appId: APP_ID, key: APP_KEY, secret: APP_SECRET }, options: opts.pusherOptions });
  const app = Fastify({ logger: false });
  chat.registerHttp(app);
  pusher.registerHttp(app);
  app.server.on('upgrade', (req, socket, head) => {
    if (!chat.handleUpgrade(req, socket, head) && !pusher.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await chat.start();
  await pusher.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    app,
    chat,
    pusher,
    registry,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/app/${APP_KEY}?protocol=7&client=js&version=8.0.0`,
    async close() {
      await pusher.stop();
      await chat.stop();
      await app.close();
    },
  };
}

/** sdk is the official server library pointed at a test server. */
export function sdk(s: { port: number }, over: { key?: string; secret?: string; appId?: string } = {}): InstanceType<PusherSdkCtor> {
  return new PusherSdk({ appId: over.appId ?? APP_ID, key: over.key ?? APP_KEY, secret: over.secret ?? APP_SECRET, host: '127.0.0.1', port: String(s.port), useTLS: false });
}

/**
 * client connects pusher-js to a test server; channel auth comes from `authorize`
 * (default: the official SDK signing with the right secret).
 */
export function client(
  s: { port: number },
  opts: {
    key?: string;
    authorize?: (socketId: string, channel: string) => { auth: string; channel_data?: string } | Promise<{ auth: string; channel_data?: string }>;
    user?: { user_id: string; user_info?: Record<string, unknown> };
    /** pusher:signin data (signed with the SDK's authenticateUser, or by `signin`). */
    signin?: { id: string; user_info?: Record<string, unknown> };
    signer?: (socketId: string) => { auth: string; user_data: string };
  } = {},
): PusherClient {
  const signer = sdk(s);
  const authorize =
    opts.authorize ??
    ((socketId: string, channel: string) =>
      channel.startsWith('presence-') ? signer.authorizeChannel(socketId, channel, opts.user ?? { user_id: 'anon' }) : signer.authorizeChannel(socketId, channel));
  return new PusherJs(opts.key ?? APP_KEY, {
    cluster: 'x',
    wsHost: '127.0.0.1',
    wsPort: s.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: {
      endpoint: '/unused',
      transport: 'ajax',
      customHandler: (params: { socketId: string; channelName: string }, cb: (err: Error | null, data: { auth: string; channel_data?: string } | null) => void) => {
        Promise.resolve(authorize(params.socketId, params.channelName)).then((d) => cb(null, d), (e: Error) => cb(e, null));
      },
    },
    userAuthentication: {
      endpoint: '/unused',
      transport: 'ajax',
      customHandler: (params: { socketId: string }, cb: (err: Error | null, data: { auth: string; user_data: string } | null) => void) => {
        cb(null, opts.signer ? opts.signer(params.socketId) : signer.authenticateUser(params.socketId, opts.signin ?? { id: 'anon' }));
      },
    },
  } as never);
}

/** connected waits for pusher-js to reach "connected". */
export async function connected(p: PusherClient): Promise<void> {
  await waitFor(() => p.connection.state === 'connected', 5000, 'pusher-js connected');
}

/** subscribed subscribes and waits for pusher:subscription_succeeded (rejects on pusher:subscription_error). */
export function subscribed(p: PusherClient, name: string): Promise<{ channel: ReturnType<PusherClient['subscribe']>; data: any }> {
  const ch = p.subscribe(name);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('subscribe timed out: ' + name)), 5000);
    ch.bind('pusher:subscription_succeeded', (data: unknown) => {
      clearTimeout(t);
      resolve({ channel: ch, data });
    });
    ch.bind('pusher:subscription_error', (err: unknown) => {
      clearTimeout(t);
      reject(Object.assign(new Error('subscription error: ' + JSON.stringify(err)), { data: err }));
    });
  });
}
