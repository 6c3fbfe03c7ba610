// Effects across chat nodes: each node aggregates its own viewers' reactions and
// publishes once per window through the shared Redis broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge } from 'centrifuge';
import { Registry } from 'prom-client';
import { startChat, startRedis, SECRET, sleep, waitFor, type ChatServer } from '../../testkit/chat-server.js';
import { engines, TEST_STREAM_KEY_SECRET } from '../../testkit/db.js';
import { createPlatform } from '../../src/platform/index.js';
import { signChatToken } from '../../src/platform/chat-tokens.js';
import { createSupporters, type Supporters } from '../../src/chat/supporters/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';

const WINDOW_MS = 150;

test('effects on two nodes: counts add up exactly, at most one publication per node per window', async (t) => {
  // One cleanup, in reverse order of start: clients, nodes, then the database and Redis they use.
  const cleanup: (() => Promise<void> | void)[] = [];
  t.after(async () => {
    for (const f of cleanup.reverse()) await f();
  });
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const db = await engines()[0]!.open();
  cleanup.push(() => db.dispose());
  const platform = createPlatform(db.db, TEST_STREAM_KEY_SECRET);
  await platform.channels.create({ name: 'stage' });
  const config = loadConfig({ env: {}, overrides: { 'supporters.effects.windowMs': WINDOW_MS, 'supporters.effects.ratePerSecond': 1000, 'supporters.effects.burst': 1000 } });

  const nodes: { chat: ChatServer; sup: Supporters }[] = [];
  const clients: Centrifuge[] = [];
  cleanup.push(async () => {
    for (const c of clients) c.disconnect();
    for (const n of nodes) {
      await n.sup.stop();
      await n.chat.close();
    }
  });
  for (const name of ['a', 'b']) {
    const chat = await startChat({ redisUrl: redis.url, nodeName: name });
    const sup = createSupporters({ config, platform, logger: silentLogger(), registry: new Registry() });
    sup.attachChat({ publisher: chat.chat.publisher, addPublishHook: (h) => chat.chat.addPublishHook(h), registerRpc: (m, h) => chat.chat.registerRpc(m, h) });
    nodes.push({ chat, sup });
  }
  const connect = async (node: ChatServer, user: string) => {
    const { token } = await signChatToken(SECRET, user, { name: user }, 600);
    const c = new Centrifuge(node.wsUrl, { websocket: WebSocket, token });
    clients.push(c);
    const ok = new Promise((r) => c.once('connected', r));
    c.connect();
    await ok;
    return c;
  };

  const got: any[] = [];
  const viewer = await connect(nodes[0]!.chat, 'viewer');
  const sub = viewer.newSubscription('effects:stage');
  sub.on('publication', (ctx) => got.push(ctx.data));
  const subscribed = new Promise((r) => sub.once('subscribed', r));
  sub.subscribe();
  await subscribed;

  const reactors = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(nodes[i % 2]!.chat, `u${i}`)));
  const t0 = Date.now();
  const PER = 100;
  const counts = await Promise.all(reactors.map(async (c, i) => {
    let n = 0;
    for (let k = 0; k < PER; k++) {
      const r = await c.rpc('effects.react', { channel: 'stage', effect: k % 2 ? 'hearts' : 'party', count: 1 + (i % 3) });
      n += (r.data).accepted;
    }
    return n;
  }));
  const sent = counts.reduce((a, b) => a + b, 0);
  const expected = reactors.reduce((s, _c, i) => s + PER * (1 + (i % 3)), 0);
  assert.equal(sent, expected, 'no rate limit at this budget');
  await waitFor(() => got.reduce((s, p) => s + p.total, 0) >= sent, 5000, 'all reactions published');
  await sleep(WINDOW_MS * 2);
  const elapsed = Date.now() - t0;
  const total = got.reduce((s, p) => s + p.total, 0);
  assert.equal(total, sent, 'exact across nodes');
  const windows = Math.ceil(elapsed / WINDOW_MS) + 1;
  assert.ok(got.length <= 2 * windows, `${got.length} publications ≤ 2 nodes × ${windows} windows`);
  assert.ok(got.length >= 2, 'both nodes published');
  t.diagnostic(`2 nodes, ${reactors.length} clients, ${sent} reactions → ${got.length} publications in ${elapsed} ms (window ${WINDOW_MS} ms)`);
});
