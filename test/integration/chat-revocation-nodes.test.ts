// User token revocation across nodes (issue 19 #17): revoking a user's tokens on node A closes
// that user's client on node B with 3500 "token revoked" (the broker's control channel over
// Redis), B refuses the old token at connect, tokens issued later still work, and another
// user's client stays connected. Official centrifuge SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import { startChat, startRedis, waitFor, sleep, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/tokens.js';

let redis: Awaited<ReturnType<typeof startRedis>>;
let a: ChatServer;
let b: ChatServer;

before(async () => {
  redis = await startRedis();
  a = await startChat({ redisUrl: redis.url, nodeName: 'node-a' });
  b = await startChat({ redisUrl: redis.url, nodeName: 'node-b' });
});
after(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
});

async function connect(url: string, token: string) {
  const client = new Centrifuge(url, { websocket: WebSocket, token });
  const closes: { code: number; reason: string }[] = [];
  client.on('disconnected', (ctx) => closes.push({ code: ctx.code, reason: ctx.reason }));
  const settled = new Promise<void>((resolve) => {
    client.once('connected', () => resolve());
    client.once('disconnected', () => resolve());
  });
  client.connect();
  await settled;
  return { client, closes };
}

test('a revocation made on node A disconnects the user on node B and B refuses the old token', async () => {
  const old = await signConnectionToken(SECRET, { sub: 'u1' }, 3600);
  const bystander = await connect(b.wsUrl, await signConnectionToken(SECRET, { sub: 'u2' }, 3600));
  const victim = await connect(b.wsUrl, old);
  assert.equal(victim.client.state, 'connected');

  await a.chat.revokeUserTokens('u1', Math.floor(Date.now() / 1000) + 1);
  await waitFor(() => victim.closes.length > 0, 5000, 'u1 disconnected on node B');
  assert.deepEqual(victim.closes[0], { code: 3500, reason: 'token revoked' });
  assert.equal(victim.client.state, 'disconnected');
  assert.equal(bystander.client.state, 'connected', 'other users keep their connections');

  const retry = await connect(b.wsUrl, old);
  assert.deepEqual(retry.closes[0], { code: 3500, reason: 'token revoked' });
  // A token without iat cannot prove it is newer than the revocation.
  const noIat = await connect(a.wsUrl, await signConnectionToken(SECRET, { sub: 'u1', iat: undefined }, 3600));
  assert.equal(noIat.client.state, 'disconnected');

  await sleep(1100);
  const fresh = await connect(b.wsUrl, await signConnectionToken(SECRET, { sub: 'u1' }, 3600));
  assert.equal(fresh.client.state, 'connected', 'a token issued after the revocation works');
  fresh.client.disconnect();
  bystander.client.disconnect();
});
