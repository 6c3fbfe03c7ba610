// PublishPipeline: hooks run in the order added and see each other's rewrites; a rejecting or
// handling hook ends the road (nothing later runs, nothing is published); the publish proxy (a
// real ChatProxy asking a real HTTP backend) sees what the hooks let through and may rewrite,
// skip history or refuse; a broker failure reaches the caller; a publisher that went away
// publishes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { MemoryBroker } from '../../../src/chat/broker/memory.js';
import { createChatProxy } from '../../../src/chat/proxy/proxy.js';
import { ChatError } from '../../../src/chat/protocol/codes.js';
import { PublishPipeline, type PipelineBroker, type PublishRequest } from '../../../src/chat/publish-pipeline.js';
import type { PublishDecision, PublishHook } from '../../../src/chat/hooks.js';
import type { Publication } from '../../../src/chat/protocol/codec.js';
import { at } from '../../../testkit/at.js';

const CHANNEL = 'chat:room';
const config = loadConfig({ env: {} });
const NS = config.chat.namespaces.chat!;

/** memoryBroker publishes into a real MemoryBroker stream (history kept unless skipped) and counts calls. */
function memoryBroker(): PipelineBroker & { broker: MemoryBroker; calls: { pub: Publication; skipHistory: boolean }[] } {
  const broker = new MemoryBroker();
  const calls: { pub: Publication; skipHistory: boolean }[] = [];
  return {
    broker,
    calls,
    async publish(channel, pub, opts) {
      calls.push({ pub, skipHistory: opts.skipHistory === true });
      return broker.publish(channel, pub, { size: opts.skipHistory ? 0 : 100, ttlSeconds: 60, metaTtlSeconds: 60 });
    },
  };
}

/** hook records that it ran (in `log`) and answers with `decide`. */
function hook(name: string, log: string[], decide: (data: unknown) => PublishDecision): PublishHook {
  return {
    async onPublish(ctx) {
      log.push(name + ':' + JSON.stringify(ctx.data));
      return decide(ctx.data);
    },
  };
}

function request(over: Partial<PublishRequest> = {}): PublishRequest {
  return { channel: CHANNEL, namespace: NS, clientId: 'c1', user: 'u1', info: undefined, data: { text: 'hi' }, ...over };
}

async function history(b: MemoryBroker): Promise<string[]> {
  return (await b.history(CHANNEL, { limit: 100, metaTtlSeconds: 60 })).publications.map((p) => p.data);
}

test('hooks run in the order added, each seeing the rewrite before it; the broker gets the result with info and tags', async () => {
  const b = memoryBroker();
  const p = new PublishPipeline({ broker: b, proxy: null });
  const log: string[] = [];
  p.addHook(hook('first', log, () => ({ action: 'allow', data: { text: 'HI' } })));
  p.addHook(hook('second', log, (d) => ({ action: 'allow', data: { ...(d as object), checked: true } })));
  p.addHook(hook('third', log, () => ({ action: 'allow' })));
  const r = await p.run(request({ clientInfo: { user: 'u1', client: 'c1' }, tags: { k: 'v' } }));
  assert.deepEqual(log, ['first:{"text":"hi"}', 'second:{"text":"HI"}', 'third:{"text":"HI","checked":true}']);
  assert.equal(r.status, 'published');
  assert.equal(r.status === 'published' && r.position.offset, 1);
  assert.deepEqual(at(b.calls, 0).pub, { data: '{"text":"HI","checked":true}', info: { user: 'u1', client: 'c1' }, tags: { k: 'v' } });
  assert.deepEqual(await history(b.broker), ['{"text":"HI","checked":true}']);
});

test('encode wraps what the hooks let through (the Pusher event envelope)', async () => {
  const b = memoryBroker();
  const p = new PublishPipeline({ broker: b, proxy: null });
  p.addHook({ onPublish: async () => ({ action: 'allow', data: 'clean' }) });
  await p.run(request({ data: 'dirty', encode: (d) => JSON.stringify({ event: 'client-x', data: d }), skipHistory: true }));
  assert.equal(at(b.calls, 0).pub.data, '{"event":"client-x","data":"clean"}');
  assert.equal(at(b.calls, 0).skipHistory, true);
  assert.deepEqual(await history(b.broker), [], 'skipped history');
});

test('a rejecting hook stops the road: later hooks do not run, nothing is published', async () => {
  const b = memoryBroker();
  const p = new PublishPipeline({ broker: b, proxy: null });
  const log: string[] = [];
  p.addHook(hook('moderation', log, () => ({ action: 'reject', code: 4403, message: 'you are banned', temporary: true })));
  p.addHook(hook('later', log, () => ({ action: 'allow' })));
  assert.deepEqual(await p.run(request()), { status: 'rejected', code: 4403, message: 'you are banned', temporary: true });
  assert.deepEqual(log, ['moderation:{"text":"hi"}']);
  assert.equal(b.calls.length, 0);
});

test('a handling hook consumes the publication: its reply is the outcome, nothing is published', async () => {
  const b = memoryBroker();
  const p = new PublishPipeline({ broker: b, proxy: null });
  const log: string[] = [];
  p.addHook(hook('commands', log, () => ({ action: 'handled', reply: { done: 'ban' } })));
  p.addHook(hook('later', log, () => ({ action: 'allow' })));
  assert.deepEqual(await p.run(request({ data: '/ban x' })), { status: 'handled', reply: { done: 'ban' } });
  assert.deepEqual(log, ['commands:"/ban x"']);
  assert.equal(b.calls.length, 0);
});

test('a removed hook no longer runs; the others keep their order', async () => {
  const p = new PublishPipeline({ broker: memoryBroker(), proxy: null });
  const log: string[] = [];
  p.addHook(hook('a', log, () => ({ action: 'allow' })));
  const removeB = p.addHook(hook('b', log, () => ({ action: 'reject', code: 1, message: 'b' })));
  p.addHook(hook('c', log, () => ({ action: 'allow' })));
  removeB();
  removeB(); // twice is harmless
  assert.equal((await p.run(request({ data: 1 }))).status, 'published');
  assert.deepEqual(log, ['a:1', 'c:1']);
});

test('a broker failure reaches the caller after the hooks ran', async () => {
  const log: string[] = [];
  const broken: PipelineBroker = {
    async publish() {
      throw new Error('broker down');
    },
  };
  const p = new PublishPipeline({ broker: broken, proxy: null });
  p.addHook(hook('a', log, () => ({ action: 'allow' })));
  await assert.rejects(p.run(request()), /broker down/);
  assert.deepEqual(log, ['a:{"text":"hi"}']);
});

test('a publisher that went away during the hooks publishes nothing', async () => {
  const b = memoryBroker();
  const p = new PublishPipeline({ broker: b, proxy: null });
  let live = true;
  p.addHook({
    async onPublish() {
      live = false; // the connection closed while the hook ran
      return { action: 'allow' };
    },
  });
  assert.deepEqual(await p.run(request({ live: () => live })), { status: 'dropped' });
  assert.equal(b.calls.length, 0);
});

/** backend answers publish proxy calls with `answer(body)` and records their bodies. */
async function backend(answer: (body: any) => unknown): Promise<{ url: string; bodies: any[]; server: Server }> {
  const bodies: any[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer(body)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/publish`, bodies, server };
}

function proxyFor(url: string) {
  const c = loadConfig({ env: {}, overrides: { 'chat.proxy.publish.endpoint': url, 'chat.namespaces': { chat: { proxyPublish: true } } } });
  const proxy = createChatProxy({ config: c.chat.proxy, namespaces: c.chat.namespaces, logger: silentLogger(), registry: new Registry() })!;
  return { proxy, ns: c.chat.namespaces.chat! };
}

const CONN = { id: 'c1', user: 'u1', transport: { kind: 'websocket' } };

test('the proxy sees what the hooks let through and may rewrite the data and skip history', async () => {
  const be = await backend(() => ({ result: { data: { text: 'from backend' }, skip_history: true } }));
  const { proxy, ns } = proxyFor(be.url);
  try {
    const b = memoryBroker();
    const p = new PublishPipeline({ broker: b, proxy });
    p.addHook({ onPublish: async () => ({ action: 'allow', data: { text: 'moderated' } }) });
    const r = await p.run(request({ namespace: ns, proxyConnection: CONN }));
    assert.equal(r.status, 'published');
    assert.equal(be.bodies.length, 1);
    assert.deepEqual(be.bodies[0].data, { text: 'moderated' });
    assert.equal(be.bodies[0].channel, CHANNEL);
    assert.deepEqual(b.calls, [{ pub: { data: '{"text":"from backend"}' }, skipHistory: true }]);
    assert.deepEqual(await history(b.broker), []);
  } finally {
    proxy.close();
    be.server.close();
  }
});

test('the proxy refusing throws its error; a hook refusal or no proxy connection means the proxy is not asked', async () => {
  const be = await backend(() => ({ error: { code: 1000, message: 'backend says no' } }));
  const { proxy, ns } = proxyFor(be.url);
  try {
    const b = memoryBroker();
    const p = new PublishPipeline({ broker: b, proxy });
    await assert.rejects(p.run(request({ namespace: ns, proxyConnection: CONN })), (e: unknown) => e instanceof ChatError && e.code === 1000 && e.message === 'backend says no');
    assert.equal(be.bodies.length, 1);
    assert.equal(b.calls.length, 0, 'refused by the proxy: not published');

    // Without a proxy connection (Pusher client events) the proxy is not asked.
    assert.equal((await p.run(request({ namespace: ns }))).status, 'published');
    assert.equal(be.bodies.length, 1);

    // A namespace without proxyPublish is not proxied.
    assert.equal((await p.run(request({ proxyConnection: CONN }))).status, 'published');
    assert.equal(be.bodies.length, 1);

    // A hook refusal costs no backend call.
    const removeHook = p.addHook({ onPublish: async () => ({ action: 'reject', code: 2, message: 'hook says no' }) });
    assert.equal((await p.run(request({ namespace: ns, proxyConnection: CONN }))).status, 'rejected');
    assert.equal(be.bodies.length, 1);
    removeHook();
  } finally {
    proxy.close();
    be.server.close();
  }
});
