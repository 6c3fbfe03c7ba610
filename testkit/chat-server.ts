// Shared helpers for chat integration tests: a chat service on a Fastify app (port 0),
// a redis-server on a random port, small wait utilities.
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/index.js';
import type { OnairConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/observability/logger.js';
import { createChatService, type ChatService } from '../src/chat/index.js';
import { buildHttpApp } from '../src/http/app.js';
import type { ChatNodeOptions } from '../src/chat/node.js';

export { startRedis } from './redis.js';

export const SECRET = 'test-secret-0123456789abcdef';
export const API_KEY = 'test-api-key-0123456789';

export interface ChatServer {
  app: FastifyInstance;
  chat: ChatService;
  registry: Registry;
  port: number;
  wsUrl: string;
  httpUrl: string;
  close(): Promise<void>;
}

export async function startChat(
  opts: {
    chat?: Partial<OnairConfig['chat']>;
    redisUrl?: string;
    options?: Partial<ChatNodeOptions>;
    nodeName?: string;
    /** routes adds the test's own routes (e.g. a page for a browser) on the chat's origin, before it listens. */
    routes?: (app: FastifyInstance) => void;
  } = {},
): Promise<ChatServer> {
  const base = loadConfig({ env: {} });
  const config: OnairConfig = { ...base, chat: { ...base.chat, ...opts.chat }, redis: { url: opts.redisUrl } };
  const registry = new Registry();
  const chat = createChatService({ config, logger: silentLogger(), registry, tokenSecret: SECRET, apiKey: API_KEY, nodeName: opts.nodeName, options: opts.options });
  // The real HTTP app: its client address (request.clientIp) keys the per-address limits.
  const { app, addUpgradeHandler } = buildHttpApp({ logger: silentLogger(), bodyLimitBytes: config.http.bodyLimitBytes });
  chat.registerHttp(app);
  opts.routes?.(app);
  addUpgradeHandler((req, socket, head) => chat.handleUpgrade(req, socket, head));
  await chat.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    app,
    chat,
    registry,
    port,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    httpUrl: `http://127.0.0.1:${port}`,
    async close() {
      await chat.stop();
      await app.close();
    },
  };
}

export async function api(s: ChatServer, method: string, params: unknown, key = API_KEY): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.httpUrl}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(params),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}


