// Super chats and effects end to end: the whole server, official centrifuge SDK clients over WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type Subscription } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(f: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// Short pins so expiry is observable: ₩2,000+ pins for 1 s.
const TIERS = [
  { minAmount: 1_000, name: 'blue', color: '#1565C0', pinSeconds: 0, maxMessageLength: 50 },
  { minAmount: 2_000, name: 'flash', color: '#00B8D4', pinSeconds: 1, maxMessageLength: 100 },
  { minAmount: 10_000, name: 'yellow', color: '#FFB300', pinSeconds: 300, maxMessageLength: 200 },
];
const WINDOW_MS = 100;
const RATE = 10;
const BURST = 10;

test('super chats and effects with centrifuge SDK clients', async (t) => {
  const s: TestServer = await startTestServer({ 'supporters.tiers': TIERS, 'supporters.effects.windowMs': WINDOW_MS, 'supporters.effects.ratePerSecond': RATE, 'supporters.effects.burst': BURST });
  const clients: Centrifuge[] = [];
  t.after(async () => {
    for (const c of clients) c.disconnect();
    await s.close();
  });
  const admin = s.secrets.adminToken;
  const login = async (username: string, displayName: string) => {
    assert.equal((await s.api('POST', '/api/v1/users', { username, password: 'password123', displayName }, admin)).status, 201);
    return (await s.api('POST', '/api/v1/auth/login', { username, password: 'password123' })).body.token as string;
  };
  const owner = await login('host', '호스트');
  const fan = await login('fan', '열혈팬');
  await login('troll', 'troll');
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'stage' }, owner)).status, 201);
  for (const [u, a] of [['fan', 100_000], ['troll', 10_000]] as const) assert.equal((await s.api('POST', '/api/v1/wallet/credits', { username: u, amount: a }, admin)).status, 201);

  // Moderation runs on this node, and supporters declare it as a dep: its word filter and bans gate super chats.
  assert.ok(s.app.moderation, 'the chat role runs moderation');
  for (const cmd of ['/filter add 욕설 block', '/ban troll']) {
    const r = await s.api('POST', '/api/v1/channels/stage/moderation/command', { command: cmd }, owner);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }

  const wsUrl = `ws://127.0.0.1:${s.httpPort}/connection/websocket`;
  const connect = async (token: string) => {
    const c = new Centrifuge(wsUrl, { websocket: WebSocket, token });
    clients.push(c);
    const connected = new Promise((r) => c.once('connected', r));
    c.connect();
    await connected;
    return c;
  };
  const subscribe = async (c: Centrifuge, channel: string, sink: unknown[]): Promise<Subscription> => {
    const sub = c.newSubscription(channel);
    sub.on('publication', (ctx) => sink.push(ctx.data));
    const ok = new Promise((r) => sub.once('subscribed', r));
    sub.subscribe();
    await ok;
    return sub;
  };

  // The viewer is an OBS overlay: its anonymous chat token comes from the overlay endpoint.
  const ov = await s.api('POST', '/api/v1/channels/stage/overlays', { label: 'OBS' }, owner);
  const overlay = await s.api('GET', `/api/v1/overlay/stage?token=${encodeURIComponent(ov.body.token)}`);
  assert.equal(overlay.status, 200, JSON.stringify(overlay.body));
  const viewer = await connect(overlay.body.chat.token);
  const chat: any[] = [];
  const events: any[] = [];
  const effects: any[] = [];
  await subscribe(viewer, overlay.body.chat.channels.chat, chat);
  await subscribe(viewer, overlay.body.chat.channels.events, events);
  await subscribe(viewer, overlay.body.chat.channels.effects, effects);

  const fanChat = await connect((await s.api('POST', '/api/v1/chat/token', undefined, fan)).body.token);
  const trollChat = await connect((await s.api('POST', '/api/v1/chat/token', undefined, (await s.api('POST', '/api/v1/auth/login', { username: 'troll', password: 'password123' })).body.token)).body.token);
  const balance = async () => (await s.api('GET', '/api/v1/wallet', undefined, fan)).body.balance as number;

  await t.test('REST super chat reaches chat:{channel} and events:{channel} as a typed publication', async () => {
    const r = await s.api('POST', '/api/v1/channels/stage/superchats', { amount: 10_000, message: '<img src=x onerror=alert(1)> 화이팅', tts: true }, fan, { 'idempotency-key': 'rest-1' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const pub = await until(() => chat.find((d) => d.type === 'superchat' && d.id === r.body.superchat.id), 5000, 'super chat in chat');
    assert.equal(pub.amount, 10_000);
    assert.equal(pub.currency, 'KRW');
    assert.equal(pub.tier.name, 'yellow');
    assert.equal(pub.tier.color, '#FFB300');
    assert.equal(pub.tts, true);
    assert.deepEqual(pub.user, { id: r.body.superchat.user.id, name: '열혈팬' });
    assert.equal(pub.message, '<img src=x onerror=alert(1)> 화이팅', 'text is data, never HTML: stored and published verbatim');
    assert.equal(typeof pub.ts, 'number');
    const ev = await until(() => events.find((d) => d.id === r.body.superchat.id), 5000, 'super chat in events');
    assert.deepEqual(ev, pub);
  });

  await t.test('RPC superchat.send: tier by amount, idempotent retry, 402 when short', async () => {
    const res = await fanChat.rpc('superchat.send', { channel: 'stage', amount: 2_000, message: '짧게 고정', idempotencyKey: 'rpc-1' });
    const sc = (res.data).superchat;
    assert.equal(sc.tier.name, 'flash');
    assert.equal((res.data).balance, 88_000);
    const again = await fanChat.rpc('superchat.send', { channel: 'stage', amount: 2_000, message: '짧게 고정', idempotencyKey: 'rpc-1' });
    assert.equal((again.data).replayed, true);
    assert.equal((again.data).superchat.id, sc.id);
    await until(() => chat.find((d) => d.id === sc.id), 5000, 'rpc super chat');
    await sleep(100);
    assert.equal(chat.filter((d) => d.id === sc.id).length, 1, 'a retry is not published twice');
    const short = await fanChat.rpc('superchat.send', { channel: 'stage', amount: 500_000, message: 'x', idempotencyKey: 'rpc-2' }).catch((e) => e);
    assert.equal(short.code, 402, JSON.stringify(short));
    const anon = await viewer.rpc('superchat.send', { channel: 'stage', amount: 1_000, idempotencyKey: 'a' }).catch((e) => e);
    assert.equal(anon.code, 401);
    assert.equal(await balance(), 88_000);

    // Pinned: the ₩2,000 one for 1 s, the ₩10,000 one for 5 min; late joiners read it over REST or the overlay endpoint.
    const pins = await s.api('GET', '/api/v1/channels/stage/superchats/pinned');
    assert.deepEqual(pins.body.pinned.map((p: any) => p.amount), [2_000, 10_000]);
    await sleep(Math.max(0, sc.pinnedUntil - Date.now()) + 50);
    const later = await s.api('GET', '/api/v1/channels/stage/superchats/pinned');
    assert.deepEqual(later.body.pinned.map((p: any) => p.amount), [10_000], 'the 1 s pin expired');
    const viaRpc = await fanChat.rpc('superchat.pinned', { channel: 'stage' });
    assert.deepEqual((viaRpc.data).pinned.map((p: any) => p.amount), [10_000]);
  });

  await t.test('moderation refuses banned users and blocked words; nothing is charged or published', async () => {
    const n = chat.length;
    const banned = await trollChat.rpc('superchat.send', { channel: 'stage', amount: 5_000, message: '안녕', idempotencyKey: 't1' }).catch((e) => e);
    assert.equal(banned.code, 403, JSON.stringify(banned));
    const trollWallet = await s.api('POST', '/api/v1/auth/login', { username: 'troll', password: 'password123' });
    assert.equal((await s.api('GET', '/api/v1/wallet', undefined, trollWallet.body.token)).body.balance, 10_000);
    const before = await balance();
    const word = await s.api('POST', '/api/v1/channels/stage/superchats', { amount: 5_000, message: '이건 욕설 이다' }, fan, { 'idempotency-key': 'bad' });
    assert.equal(word.status, 403, JSON.stringify(word.body));
    assert.equal(await balance(), before);
    await sleep(200);
    assert.equal(chat.length, n);
  });

  await t.test('effects: many clients at a high rate → bounded publications, exact counts, rate limit', async () => {
    const N = 6;
    const reactors = [fanChat];
    for (let i = 0; i < N - 1; i++) {
      const tok = await s.api('POST', '/api/v1/chat/token');
      reactors.push(await connect(tok.body.token));
    }
    effects.length = 0;
    const t0 = Date.now();
    const PER_CLIENT = 60;
    const names = ['party', 'hearts', 'money', 'rocket', 'clap', '🎉'];
    const accepted = await Promise.all(reactors.map(async (c, i) => {
      let ok = 0;
      let limited = 0;
      for (let k = 0; k < PER_CLIENT; k++) {
        try {
          const r = await c.rpc('effects.react', { channel: 'stage', effect: names[(i + k) % names.length] });
          ok += (r.data).accepted;
        } catch (e) {
          assert.equal((e as any).code, 111, JSON.stringify(e));
          limited++;
        }
        if (k % 10 === 9) await sleep(20);
      }
      return { ok, limited };
    }));
    const elapsed = Date.now() - t0;
    const sent = accepted.reduce((s, a) => s + a.ok, 0);
    for (const a of accepted) {
      assert.ok(a.limited > 0, 'the rate limit applied');
      assert.ok(a.ok <= BURST + Math.ceil((RATE * elapsed) / 1000), `accepted ${a.ok} within burst + rate × ${elapsed} ms`);
    }
    // A raw publication into effects:{channel} is counted the same way, never fanned out as is.
    await sleep(1100);
    const rawEffects: unknown[] = [];
    await subscribe(fanChat, 'effects:stage', rawEffects);
    await fanChat.publish('effects:stage', { effect: 'party' });
    const raw = 1;
    await sleep(WINDOW_MS * 3);
    assert.ok(rawEffects.length > 0 && rawEffects.every((p: any) => p.type === 'effects'), 'the publisher too sees only aggregates');
    const total = effects.reduce((s, p) => s + p.total, 0);
    assert.equal(total, sent + raw, 'summed counts are exact');
    for (const p of effects) {
      assert.equal(p.type, 'effects');
      assert.equal(p.window_ms, WINDOW_MS);
      assert.equal(p.total, Object.values(p.counts as Record<string, number>).reduce((a, b) => a + b, 0));
    }
    const windows = Math.ceil((Date.now() - t0) / WINDOW_MS) + 1;
    assert.ok(effects.length <= windows, `${effects.length} publications for ${windows} windows (one node)`);
    assert.ok(effects.length < sent, `${effects.length} publications for ${sent} reactions`);
    const m = (await s.api('GET', '/metrics')).body as string;
    assert.match(m, /onair_effects_publications_total \d+/);
    t.diagnostic(`effects: ${N} clients, ${sent + raw} reactions accepted, ${accepted.reduce((s, a) => s + a.limited, 0)} rate-limited, ${effects.length} publications in ${Date.now() - t0} ms`);
  });
});
