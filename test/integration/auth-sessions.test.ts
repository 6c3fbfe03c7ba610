// Password change and log out everywhere (issue 19 #17): both end sessions, and the user's chat
// tokens die with them (Centrifugo's user token invalidation by issue time): the connected
// centrifuge client is disconnected with 3500 "token revoked" and reconnecting with the old
// token is refused. The official centrifuge SDK against the whole server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { sleep } from '../../testkit/wait.js';

const PASSWORD = 'first-password-1';

describe('sessions: log out everywhere and password change', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ 'http.trustProxy': ['127.0.0.1'] });
  });
  after(async () => {
    await s?.close();
  });

  const login = async (username: string, password: string) => s.api('POST', '/api/v1/auth/login', { username, password });
  const chatTokenOf = async (session: string) => (await s.api('POST', '/api/v1/chat/token', undefined, session)).body.token as string;

  /** connectChat connects a centrifuge client subscribed to chat:demo and records how it is disconnected. */
  const connectChat = async (chatToken: string) => {
    const client = new Centrifuge(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, { websocket: WebSocket, token: chatToken, maxReconnectDelay: 200 });
    const closes: { code: number; reason: string }[] = [];
    client.on('disconnected', (ctx) => closes.push({ code: ctx.code, reason: ctx.reason }));
    const settled = new Promise<void>((resolve) => {
      client.once('connected', () => resolve());
      client.once('disconnected', () => resolve());
    });
    client.connect();
    await settled;
    return { client, closes };
  };

  const waitFor = async (pred: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !pred(); i++) await sleep(50);
    assert.ok(pred(), what);
  };

  test('logout-all ends every session and disconnects the chat client; the old chat token is refused', async () => {
    const reg = await s.api('POST', '/api/v1/auth/register', { username: 'alice', password: PASSWORD });
    assert.equal(reg.status, 201);
    const other = (await login('alice', PASSWORD)).body.token as string;
    const { client, closes } = await connectChat(await chatTokenOf(reg.body.token));
    assert.equal(client.state, 'connected');
    const chatToken = await chatTokenOf(other);

    const out = await s.api('POST', '/api/v1/auth/logout-all', undefined, reg.body.token);
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await s.api('GET', '/api/v1/me', undefined, reg.body.token)).status, 401);
    assert.equal((await s.api('GET', '/api/v1/me', undefined, other)).status, 401);

    await waitFor(() => closes.length > 0, 'the chat client was disconnected');
    assert.deepEqual(closes[0], { code: 3500, reason: 'token revoked' });
    assert.equal(client.state, 'disconnected', 'terminal: the SDK does not reconnect with a revoked token');

    const again = await connectChat(chatToken);
    assert.equal(again.client.state, 'disconnected');
    assert.deepEqual(again.closes[0], { code: 3500, reason: 'token revoked' });

    // A fresh login gets a chat token that works (issued after the revocation's second).
    await sleep(1100);
    const fresh = (await login('alice', PASSWORD)).body.token as string;
    const ok = await connectChat(await chatTokenOf(fresh));
    assert.equal(ok.client.state, 'connected');
    ok.client.disconnect();
  });

  test('password change: wrong current password is 403 and throttled; the right one ends the other sessions and chat tokens', async () => {
    const reg = await s.api('POST', '/api/v1/auth/register', { username: 'bob', password: PASSWORD });
    const mine = reg.body.token as string;
    const stolen = (await login('bob', PASSWORD)).body.token as string;
    const { client, closes } = await connectChat(await chatTokenOf(stolen));
    assert.equal(client.state, 'connected');

    const wrong = await s.api('POST', '/api/v1/auth/password', { currentPassword: 'nope-nope', newPassword: 'second-password-2' }, mine, { 'x-forwarded-for': '198.51.100.20' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'wrong_password');
    const short = await s.api('POST', '/api/v1/auth/password', { currentPassword: PASSWORD, newPassword: 'short' }, mine);
    assert.equal(short.status, 400);
    assert.equal((await s.api('GET', '/api/v1/me', undefined, stolen)).status, 200, 'a refused change ends nothing');

    const ok = await s.api('POST', '/api/v1/auth/password', { currentPassword: PASSWORD, newPassword: 'second-password-2' }, mine);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.endedSessions, 1);
    assert.equal((await s.api('GET', '/api/v1/me', undefined, mine)).status, 200, 'the session that changed it stays');
    assert.equal((await s.api('GET', '/api/v1/me', undefined, stolen)).status, 401);
    await waitFor(() => closes.length > 0, 'the chat client of the other session was disconnected');
    assert.deepEqual(closes[0], { code: 3500, reason: 'token revoked' });
    assert.equal((await login('bob', PASSWORD)).status, 401);
    assert.equal((await login('bob', 'second-password-2')).status, 200);

    // Guessing the current password goes through the login throttle.
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await s.api('POST', '/api/v1/auth/password', { currentPassword: `guess-${i}`, newPassword: 'third-password-3' }, mine, { 'x-forwarded-for': '198.51.100.21' })).status);
    }
    assert.ok(statuses.includes(429), statuses.join(','));
  });

  test('the admin token has no sessions: logout-all and password change are 400', async () => {
    const admin = s.secrets.adminToken;
    assert.equal((await s.api('POST', '/api/v1/auth/logout-all', undefined, admin)).status, 400);
    assert.equal((await s.api('POST', '/api/v1/auth/password', { currentPassword: 'x', newPassword: 'yyyyyyyy' }, admin)).status, 400);
    assert.equal((await s.api('POST', '/api/v1/auth/logout-all')).status, 401);
  });
});
