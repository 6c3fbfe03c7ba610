// Made-up chat channels (issue 19 #5): one WebSocket publishing to thousands of random `chat:zz…`
// names is refused with 102 unknown channel (the names exist only for onair channels), the
// process keeps its memory, and the per-user publish rate across channels answers 111 once the
// bucket is empty. Raw Centrifugo JSON protocol over one WebSocket against the whole server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../../testkit/server.js';

const FLOOD = 5000;

/** RawChat sends Centrifugo JSON commands and resolves each with its reply. */
class RawChat {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: any) => void>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (buf) => {
      for (const line of buf.toString().split('\n')) {
        if (line === '' || line === '{}') continue;
        const m = JSON.parse(line);
        const done = m.id ? this.waiting.get(m.id) : undefined;
        if (done) {
          this.waiting.delete(m.id);
          done(m);
        }
      }
    });
  }
  static async open(url: string, token: string): Promise<RawChat> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const c = new RawChat(ws);
    const r = await c.call({ connect: { token } });
    assert.ok(r.connect, JSON.stringify(r));
    return c;
  }
  call(cmd: Record<string, unknown>): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ id, ...cmd }));
    });
  }
  close(): void {
    this.ws.close();
  }
}

const randomChannel = () => 'chat:zz' + randomBytes(8).toString('hex');

describe('chat channels need an onair channel', () => {
  let s: TestServer;
  let owner: string;
  let chatToken: string;
  const wsUrl = () => `ws://127.0.0.1:${s.httpPort}/connection/websocket`;

  before(async () => {
    // A rate high enough that the flood meets the channel check, not the rate limit.
    s = await startTestServer({ 'chat.publishRate.perSecond': 1_000_000, 'chat.publishRate.burst': 1_000_000 });
    owner = (await s.api('POST', '/api/v1/auth/register', { username: 'flooder', password: 'hunter2hunter2' })).body.token;
    chatToken = (await s.api('POST', '/api/v1/chat/token', undefined, owner)).body.token;
  });
  after(async () => {
    await s?.close();
  });

  test(`${FLOOD} publications to random chat:zz… names are refused with 102 and RSS stays put`, async () => {
    const c = await RawChat.open(wsUrl(), chatToken);
    const chat = s.app.chat!;
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const codes = new Map<number, number>();
    for (let i = 0; i < FLOOD; i += 100) {
      const replies = await Promise.all(Array.from({ length: 100 }, () => c.call({ publish: { channel: randomChannel(), data: { text: 'x'.repeat(200) } } })));
      for (const r of replies) codes.set(r.error?.code ?? 0, (codes.get(r.error?.code ?? 0) ?? 0) + 1);
    }
    global.gc?.();
    const growthMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(`# ${FLOOD} made-up channels: replies ${JSON.stringify(Object.fromEntries(codes))}, RSS growth ${growthMiB.toFixed(1)} MiB`);
    assert.deepEqual(Object.fromEntries(codes), { 102: FLOOD }, 'every publication refused as unknown channel');
    assert.equal(chat.stats().channels, 0);
    // Generous: the issue measured +166 MB for this flood before the fix.
    assert.ok(growthMiB < 60, `RSS grew ${growthMiB.toFixed(1)} MiB`);
    // Subscribe, history and presence of a made-up name are refused the same way.
    const ch = randomChannel();
    for (const cmd of [{ subscribe: { channel: ch } }, { history: { channel: ch, limit: 10 } }, { presence: { channel: ch } }]) {
      const r = await c.call(cmd);
      assert.equal(r.error?.code, 102, JSON.stringify({ cmd, r }));
      assert.match(r.error.message, /no onair channel "zz[0-9a-f]+"/);
    }
    // The demo channel exists: its chat works.
    const ok = await c.call({ subscribe: { channel: 'chat:demo' } });
    assert.ok(ok.subscribe, JSON.stringify(ok));
    c.close();
  });

  test('a channel created after a refusal is usable at once (the cache is invalidated on create)', async () => {
    const c = await RawChat.open(wsUrl(), chatToken);
    const refused = await c.call({ subscribe: { channel: 'chat:later' } });
    assert.equal(refused.error?.code, 102);
    assert.equal((await s.api('POST', '/api/v1/channels', { name: 'later' }, owner)).status, 201);
    const ok = await c.call({ subscribe: { channel: 'chat:later' } });
    assert.ok(ok.subscribe, JSON.stringify(ok));
    // And refused again once it is deleted.
    assert.ok((await s.api('DELETE', '/api/v1/channels/later', undefined, owner)).status < 300);
    const again = await c.call({ history: { channel: 'chat:later', limit: 1 } });
    assert.equal(again.error?.code, 102);
    c.close();
  });

  test('server API publish to a made-up channel is refused with 102', async () => {
    const res = await fetch(`http://127.0.0.1:${s.httpPort}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': s.secrets.chatApiKey },
      body: JSON.stringify({ channel: randomChannel(), data: { text: 'hi' } }),
    });
    const body = await res.json();
    assert.equal(body.error?.code, 102, JSON.stringify(body));
  });
});

describe('publish rate across channels', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ 'chat.publishRate.perSecond': 1, 'chat.publishRate.burst': 10 });
  });
  after(async () => {
    await s?.close();
  });

  test('one user spreading publications over many channels gets 111 once the bucket is empty', async () => {
    const token = (await s.api('POST', '/api/v1/auth/register', { username: 'spreader', password: 'hunter2hunter2' })).body.token;
    const chatToken = (await s.api('POST', '/api/v1/chat/token', undefined, token)).body.token;
    const c = await RawChat.open(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, chatToken);
    const replies = await Promise.all(Array.from({ length: 40 }, () => c.call({ publish: { channel: randomChannel(), data: { text: 'x' } } })));
    const codes = replies.map((r) => r.error?.code);
    assert.ok(codes.filter((x) => x === 102).length <= 11, codes.join(','));
    assert.ok(codes.filter((x) => x === 111).length >= 29, codes.join(','));
    c.close();
  });
});
