// Issue 19 #17: chat-token revocations (log out everywhere) are kept in the database, so a chat
// node restarted on the same data still refuses the revoked token (3500 token revoked), while a
// token issued after the revocation connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';

async function start(dataDir: string): Promise<RunningServer & { api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> }> {
  const config = loadConfig({ env: {}, overrides: { dataDir, host: '127.0.0.1', 'http.port': 0, 'rtmp.port': 0, 'media.srt.port': 0, 'media.rtsp.port': 0, 'log.level': 'silent' } });
  const server = await startServer(config, { logger: silentLogger() });
  return Object.assign(server, {
    async api(method: string, path: string, body?: unknown, token?: string) {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  });
}

/** connectChat connects a centrifuge client with a token and answers how it ended: connected, or the disconnect code. */
async function connectChat(port: number, token: string): Promise<{ connected: boolean; code?: number; reason?: string; client: Centrifuge }> {
  const client = new Centrifuge(`ws://127.0.0.1:${port}/connection/websocket`, { websocket: WebSocket, token, maxReconnectDelay: 200 });
  const result = new Promise<{ connected: boolean; code?: number; reason?: string }>((resolve) => {
    client.once('connected', () => resolve({ connected: true }));
    client.once('disconnected', (ctx) => resolve({ connected: false, code: ctx.code, reason: ctx.reason }));
  });
  client.connect();
  return { ...(await result), client };
}

test('a revoked chat token stays refused after the chat node restarts on the same data', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-revoke-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let s = await start(dataDir);
  const reg = await s.api('POST', '/api/v1/auth/register', { username: 'restarted', password: 'first-password-1' });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  const oldChatToken = (await s.api('POST', '/api/v1/chat/token', undefined, reg.body.token)).body.token as string;
  const before = await connectChat(s.httpPort, oldChatToken);
  assert.equal(before.connected, true, 'the token works before the revocation');
  before.client.disconnect();
  assert.equal((await s.api('POST', '/api/v1/auth/logout-all', undefined, reg.body.token)).status, 204);
  await s.stop();

  await new Promise((r) => setTimeout(r, 1100)); // the next token is issued in a later second than the revocation's
  s = await start(dataDir);
  t.after(() => s.stop());
  const after = await connectChat(s.httpPort, oldChatToken);
  after.client.disconnect();
  assert.deepEqual({ connected: after.connected, code: after.code, reason: after.reason }, { connected: false, code: 3500, reason: 'token revoked' });

  const login = await s.api('POST', '/api/v1/auth/login', { username: 'restarted', password: 'first-password-1' });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const fresh = await connectChat(s.httpPort, (await s.api('POST', '/api/v1/chat/token', undefined, login.body.token)).body.token);
  fresh.client.disconnect();
  assert.equal(fresh.connected, true, 'a token issued after the revocation connects');
});
