/**
 * The official `centrifuge` SDK in headless Chromium, its JSON and its protobuf build (the ES
 * modules from node_modules, served by the test on the chat's own origin), over websocket,
 * http_stream and sse (sse is JSON only): connect, subscribe, publish, presence, history,
 * recovery after a forced reconnect, token refresh without reconnecting, and Fossil deltas
 * (the SDK's deltaStats). The browser's own WebSocket, fetch streams and EventSource.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startChat, api, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';
import { loadConfig } from '../../src/config/index.js';
import { launchBrowser } from './helpers/web.js';

/** The SDK's ES module builds (self-contained, no imports). */
const SDK_DIR = join(dirname(createRequire(import.meta.url).resolve('centrifuge')), '..', 'build');
const SDK_FILES: Record<string, string> = {
  '/sdk/json.mjs': join(SDK_DIR, 'index.mjs'),
  '/sdk/protobuf.mjs': join(SDK_DIR, 'protobuf', 'index.mjs'),
};
const PAGE = `<!doctype html><meta charset="utf-8"><title>sdk</title>
<script type="module">
import { Centrifuge as Json } from '/sdk/json.mjs';
import { Centrifuge as Protobuf } from '/sdk/protobuf.mjs';
window.SDK = { json: Json, protobuf: Protobuf };
</script>`;
/** Connection tokens live this long: the SDK must refresh them during the scenario. */
const TOKEN_TTL_SECONDS = 3;

/**
 * SCENARIO runs in the page (a string: nothing of the test's compiled code reaches the page).
 * `serverApi` and `mintToken` are the test's functions exposed to the page.
 */
const SCENARIO = `async ({ build, transport, user, base, ch, stateCh, ttl }) => {
  const C = window.SDK[build];
  const pb = build === 'protobuf';
  const enc = (v) => (pb ? new TextEncoder().encode(JSON.stringify(v)) : v);
  const dec = (d) => (pb ? JSON.parse(new TextDecoder().decode(d)) : d);
  const until = async (cond, what, ms = 8000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting for ' + what);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const endpoint = transport === 'websocket' ? base.replace('http:', 'ws:') + '/connection/websocket' : base + '/connection/' + transport;
  let tokens = 0;
  const c = new C([{ transport, endpoint }], {
    emulationEndpoint: base + '/emulation',
    getToken: async () => { tokens++; return window.mintToken(user, ttl); },
    minReconnectDelay: 100,
    maxReconnectDelay: 300,
  });
  const out = { transports: [] };
  c.on('connected', (ctx) => out.transports.push(ctx.transport));
  await new Promise((r) => { c.once('connected', r); c.connect(); });

  const sub = c.newSubscription(ch, { recoverable: true });
  const pubs = [];
  const subscribed = [];
  sub.on('publication', (ctx) => pubs.push(dec(ctx.data)));
  sub.on('subscribed', (ctx) => subscribed.push({ recovered: ctx.recovered, wasRecovering: ctx.wasRecovering }));
  sub.subscribe();
  await sub.ready(5000);
  await sub.publish(enc({ text: '안녕 ' + user }));
  await window.serverApi('publish', { channel: ch, data: { text: 'from the api' } });
  await until(() => pubs.length === 2, 'two publications');
  out.presence = await sub.presenceStats();
  out.history = (await sub.history({ limit: 10 })).publications.map((p) => dec(p.data));

  // Recovery: the server forces a reconnect; two publications are made meanwhile.
  const reconnecting = new Promise((r) => c.once('connecting', r));
  await window.serverApi('disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
  await reconnecting;
  await window.serverApi('publish', { channel: ch, data: { text: 'missed 1' } });
  await window.serverApi('publish', { channel: ch, data: { text: 'missed 2' } });
  await until(() => subscribed.length === 2 && pubs.length === 4, 'recovery');
  out.subscribed = subscribed;

  // Token refresh: tokens live ttl seconds; the SDK asks for a new one and sends refresh.
  const tokensBefore = tokens;
  await until(() => tokens > tokensBefore, 'a token refresh', (ttl + 4) * 1000);
  await new Promise((r) => setTimeout(r, 500));
  await sub.publish(enc({ text: 'after refresh' }));
  await until(() => pubs.length === 5, 'publication after refresh');
  out.pubs = pubs;
  out.tokens = tokens;

  // Fossil deltas: 1 KiB of rows, a few rewritten per publication.
  const ds = c.newSubscription(stateCh, { delta: 'fossil', positioned: true });
  const states = [];
  ds.on('publication', (ctx) => states.push(dec(ctx.data)));
  ds.subscribe();
  await ds.ready(5000);
  const rows = Array.from({ length: 40 }, (_, i) => 'row ' + i + ' 순위 ' + i * 7);
  out.wantStates = [];
  for (let i = 0; i < 5; i++) {
    rows[(i * 7) % 40] = 'changed ' + i;
    const st = { rows: [...rows] };
    out.wantStates.push(st);
    await ds.publish(enc(st));
  }
  await until(() => states.length === 5, 'delta publications');
  out.states = states;
  out.deltaStats = ds.deltaStats();
  c.disconnect();
  return out;
}`;

interface ScenarioResult {
  transports: string[];
  presence: { numClients: number; numUsers: number };
  history: unknown[];
  subscribed: { recovered: boolean; wasRecovering: boolean }[];
  pubs: unknown[];
  tokens: number;
  wantStates: unknown[];
  states: unknown[];
  deltaStats: { numPublications: number; numFullPayloads: number; numDeltaPayloads: number; compressionRatio: number };
}

let s: ChatServer;
let browser: Browser;

before(async () => {
  const base = loadConfig({ env: {} }).chat.namespaces;
  s = await startChat({
    chat: {
      namespaces: {
        ...base,
        state: { presence: false, joinLeave: false, historySize: 20, historyTtlSeconds: 300, allowPublishForClient: true, allowSubscribeForAnonymous: true, forceRecovery: false, allowedDeltaTypes: ['fossil'], deltaPublish: true },
      },
    },
    routes: (app) => {
      app.get('/sdk-page', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
      for (const [path, file] of Object.entries(SDK_FILES)) {
        const body = readFileSync(file);
        app.get(path, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(body));
      }
    },
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await s?.close();
});

async function openPage(): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.exposeFunction('mintToken', (user: string, ttl: number) => signConnectionToken(SECRET, { sub: user }, ttl));
  await page.exposeFunction('serverApi', async (method: string, params: unknown) => {
    const r = await api(s, method, params);
    if (r.body?.error) throw new Error(`${method}: ${JSON.stringify(r.body.error)}`);
    return r.body?.result ?? null;
  });
  await page.goto(`${s.httpUrl}/sdk-page`);
  await page.waitForFunction('window.SDK !== undefined', undefined, { timeout: 15_000 });
  return page;
}

const COMBOS = [
  { build: 'json', transport: 'websocket' },
  { build: 'json', transport: 'http_stream' },
  { build: 'json', transport: 'sse' },
  { build: 'protobuf', transport: 'websocket' },
  { build: 'protobuf', transport: 'http_stream' },
] as const;

test('the SDK in Chromium: JSON and protobuf over websocket, http_stream and sse', { timeout: 120_000 }, async (t) => {
  const page = await openPage();
  await Promise.all(
    COMBOS.map(({ build, transport }) =>
      t.test(`${build} over ${transport}`, async () => {
        const user = `u-${build}-${transport}`;
        const args = { build, transport, user, base: s.httpUrl, ch: `chat:br-${build}-${transport}`, stateCh: `state:br-${build}-${transport}`, ttl: TOKEN_TTL_SECONDS };
        const r = await page.evaluate<ScenarioResult>(`(${SCENARIO})(${JSON.stringify(args)})`);
        assert.deepEqual(r.transports, [transport, transport], 'connected twice (the forced reconnect), never again: the refresh kept the connection');
        assert.deepEqual(r.presence, { numClients: 1, numUsers: 1 });
        assert.deepEqual(r.history, [{ text: `안녕 ${user}` }, { text: 'from the api' }]);
        assert.deepEqual(r.subscribed, [
          { recovered: false, wasRecovering: false },
          { recovered: true, wasRecovering: true },
        ]);
        assert.deepEqual(r.pubs, [{ text: `안녕 ${user}` }, { text: 'from the api' }, { text: 'missed 1' }, { text: 'missed 2' }, { text: 'after refresh' }]);
        assert.ok(r.tokens >= 2, `tokens asked: ${r.tokens}`);
        assert.deepEqual(r.states, r.wantStates);
        assert.equal(r.deltaStats.numFullPayloads, 1, JSON.stringify(r.deltaStats));
        assert.equal(r.deltaStats.numDeltaPayloads, 4, JSON.stringify(r.deltaStats));
      }),
    ),
  );
  await page.context().close();
});
