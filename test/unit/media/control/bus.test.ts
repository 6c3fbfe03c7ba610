// ControlBus and LiveDirectory against a real redis-server: an end reaches the node holding the
// publisher, ends early when every media node said no, times out on a silent subscriber, counts
// duplicates once, survives a throwing handler; the live list writes, refreshes on poke, removes
// on stop and expires after the TTL when a node dies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import prom from 'prom-client';
import { startRedis, type RedisServer } from '../../../../testkit/redis.js';
import { until } from '../../../../testkit/wait.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { busMetrics, ControlBus, type EndHandler } from '../../../../src/media/control/bus.js';
import { directoryMetrics, LiveDirectory, type LiveEntry } from '../../../../src/media/control/bus-live.js';

let redis: RedisServer;
const stops: (() => Promise<unknown>)[] = [];
let seq = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await redis?.stop();
});

/** bus starts a ControlBus on its own registry and a test-unique prefix. */
async function bus(nodeId: string, prefix: string, onEnd?: EndHandler, endTimeoutMs = 1000) {
  const registry = new prom.Registry();
  const b = new ControlBus({ url: redis.url, nodeId, logger: silentLogger(), metrics: busMetrics(registry), endTimeoutMs, prefix, ...(onEnd ? { onEnd } : {}) });
  await b.start();
  stops.push(() => b.stop());
  return { b, registry, value: async (name: string, labels: Record<string, string> = {}) => {
    const m = (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return m?.value ?? 0;
  } };
}

test('the media node holding the publisher ends it and the asker gets its node id and stream', async () => {
  const prefix = `t${++seq}`;
  const live = new Set(['cam']);
  const handler: EndHandler = (req) => live.delete(req.channel)
    ? { ended: true, stream: { protocol: 'rtmp', since: '2026-11-27T10:00:00.000Z', durationSeconds: 5 } }
    : { ended: false };
  const m1 = await bus('media-1', prefix, handler);
  const m2 = await bus('media-2', prefix, () => ({ ended: false }));
  const api = await bus('api-1', prefix);
  const o = await api.b.requestEnd('cam', 'owner', 'because');
  assert.equal(o.ended, true);
  assert.ok(o.ended && o.node === 'media-1');
  assert.deepEqual(o.ended && o.stream, { protocol: 'rtmp', since: '2026-11-27T10:00:00.000Z', durationSeconds: 5 });
  assert.equal(o.asked, 2);
  assert.equal(live.has('cam'), false);
  // Again: both say no → not_live_anywhere without waiting for the bound.
  const t0 = Date.now();
  const again = await api.b.requestEnd('cam', 'admin', null);
  assert.deepEqual(again, { ended: false, reason: 'not_live_anywhere', asked: 2, answered: 2 });
  assert.ok(Date.now() - t0 < 900, `${Date.now() - t0} ms`);
  assert.equal(await api.value('onair_control_bus_requests_total', { outcome: 'ended' }), 1);
  assert.equal(await api.value('onair_control_bus_requests_total', { outcome: 'not_live_anywhere' }), 1);
  assert.equal(await m1.value('onair_control_bus_served_total', { ended: 'true' }), 1);
  await until(async () => (await m2.value('onair_control_bus_served_total', { ended: 'false' })) === 2, 2000, 'm2 answered twice');
  assert.equal(await api.value('onair_control_bus_junk_total'), 0);
});

test('no media node subscribed: not_live_anywhere at once (PUBLISH reached nobody)', async () => {
  const api = await bus('api-1', `t${++seq}`);
  assert.deepEqual(await api.b.requestEnd('cam', 'owner', null), { ended: false, reason: 'not_live_anywhere', asked: 0, answered: 0 });
});

test('a media node asking answers its own request too; a throwing handler answers no', async () => {
  const prefix = `t${++seq}`;
  const self = await bus('media-1', prefix, () => { throw new Error('boom'); });
  assert.deepEqual(await self.b.requestEnd('cam', 'owner', null), { ended: false, reason: 'not_live_anywhere', asked: 1, answered: 1 });
  assert.equal(await self.value('onair_control_bus_served_total', { ended: 'false' }), 1);
});

test('a silent subscriber makes the request time out; duplicate and forged answers are not counted', async () => {
  const prefix = `t${++seq}`;
  const api = await bus('api-1', prefix, undefined, 1000);
  const silent = new Redis(redis.url);
  const pub = new Redis(redis.url);
  stops.push(async () => { silent.disconnect(); pub.disconnect(); });
  // The silent one answers "no" twice under the same node id, plus answers for other ids/channels.
  silent.on('message', (_c: string, msg: string) => {
    const req = JSON.parse(msg) as { requestId: string; from: string; channel: string };
    const reply = `${prefix}:reply:${req.from}`;
    const ans = (o: object) => pub.publish(reply, JSON.stringify({ v: 1, type: 'end-result', nodeId: 'dup', channel: req.channel, ended: false, requestId: req.requestId, ...o }));
    void ans({});
    void ans({});
    void ans({ requestId: 'nope', ended: true });
    void ans({ channel: 'elsewhere', ended: true });
  });
  await silent.subscribe(prefix);
  const silent2 = new Redis(redis.url);
  stops.push(async () => silent2.disconnect());
  await silent2.subscribe(prefix);
  const t0 = Date.now();
  const o = await api.b.requestEnd('cam', 'owner', null);
  const ms = Date.now() - t0;
  assert.deepEqual(o, { ended: false, reason: 'timeout', asked: 2, answered: 1 });
  assert.ok(ms >= 990 && ms < 4000, `${ms} ms`);
  assert.equal(await api.value('onair_control_bus_junk_total', { kind: 'unmatched' }), 2);
  assert.equal(await api.value('onair_control_bus_answers_total'), 1);
  assert.equal(await api.value('onair_control_bus_requests_total', { outcome: 'timeout' }), 1);
});

test('junk on both channels is counted by kind and never answered', async () => {
  const prefix = `t${++seq}`;
  let calls = 0;
  const m = await bus('media-1', prefix, () => { calls++; return { ended: false }; });
  const pub = new Redis(redis.url);
  stops.push(async () => pub.disconnect());
  await pub.publish(prefix, '{{{');
  await pub.publish(prefix, JSON.stringify({ v: 1, type: 'end' }));
  await pub.publish(prefix, 'y'.repeat(10_000));
  await pub.publish(`${prefix}:reply:media-1`, JSON.stringify({ v: 1, type: 'end-result', requestId: 'late', nodeId: 'x', channel: 'c', ended: true }));
  await until(async () => (await m.value('onair_control_bus_junk_total', { kind: 'unmatched' })) === 1, 2000, 'unmatched counted');
  assert.equal(await m.value('onair_control_bus_junk_total', { kind: 'not_json' }), 1);
  assert.equal(await m.value('onair_control_bus_junk_total', { kind: 'invalid' }), 1);
  assert.equal(await m.value('onair_control_bus_junk_total', { kind: 'too_large' }), 1);
  assert.equal(calls, 0);
});

test('stop settles a pending request instead of leaving it hanging', async () => {
  const prefix = `t${++seq}`;
  const api = new ControlBus({ url: redis.url, nodeId: 'api-9', logger: silentLogger(), metrics: busMetrics(new prom.Registry()), endTimeoutMs: 10_000, prefix });
  await api.start();
  const silent = new Redis(redis.url);
  stops.push(async () => silent.disconnect());
  let heard = false;
  silent.on('message', () => { heard = true; });
  await silent.subscribe(prefix);
  const t0 = Date.now();
  const pending = api.requestEnd('cam', 'owner', null);
  await until(() => heard, 2000, 'request published');
  await api.stop();
  assert.deepEqual(await pending, { ended: false, reason: 'timeout', asked: 1, answered: 0 });
  assert.ok(Date.now() - t0 < 5000, 'settled by stop, not by the 10 s bound');
});

test('Redis gone: the request fails at once as bus_unavailable and is not sent later', async () => {
  const own = await startRedis();
  const registry = new prom.Registry();
  const api = new ControlBus({ url: own.url, nodeId: 'api-x', logger: silentLogger(), metrics: busMetrics(registry), endTimeoutMs: 5000 });
  await api.start();
  stops.push(() => api.stop());
  await own.stop();
  await until(() => api.redis.status !== 'ready', 5000, 'connection lost');
  const t0 = Date.now();
  const o = await api.requestEnd('cam', 'owner', null);
  assert.equal(o.ended, false);
  assert.ok(!o.ended && o.reason === 'bus_unavailable', JSON.stringify(o));
  assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
  const errors = (await registry.getSingleMetric('onair_control_bus_requests_total')!.get()).values.find((v) => v.labels.outcome === 'error');
  assert.equal(errors?.value, 1);
});

// ------------------------------------------------------------ live directory

async function directory(nodeId: string, prefix: string, entries: () => LiveEntry[], ttlMs = 2000, refreshMs = 60_000) {
  const conn = new Redis(redis.url);
  const registry = new prom.Registry();
  const d = new LiveDirectory({ redis: () => conn, nodeId, logger: silentLogger(), metrics: directoryMetrics(registry), ttlMs, refreshMs, url: `http://${nodeId}:8080`, snapshot: async () => entries(), prefix });
  stops.push(async () => { await d.stop(); conn.disconnect(); });
  return { d, conn, registry };
}

test('live directory: nodes write their lists, a poke rewrites at once, stop removes, a reader sees all', async () => {
  const prefix = `t${++seq}`;
  let streams: LiveEntry[] = [{ channel: 'a', viewers: { hls: 1 } }];
  const n1 = await directory('n1', prefix, () => streams);
  const n2 = await directory('n2', prefix, () => [{ channel: 'b' }]);
  const reader = await directory('reader', prefix, () => []);
  const readOnly = new LiveDirectory({ redis: () => reader.conn, nodeId: 'reader', logger: silentLogger(), metrics: directoryMetrics(new prom.Registry()), ttlMs: 2000, refreshMs: 1000, prefix });
  await n1.d.start();
  await n2.d.start();
  await readOnly.start(); // no snapshot: writes nothing
  let all = await readOnly.list();
  assert.deepEqual(all.map((n) => [n.node, n.url, n.streams.map((s) => s.channel)]).sort(), [['n1', 'http://n1:8080', ['a']], ['n2', 'http://n2:8080', ['b']]]);
  // A stream starts on n1: the poke writes within the coalescing window, not at the 60 s refresh.
  streams = [...streams, { channel: 'c' }];
  n1.d.poke();
  n1.d.poke();
  await until(async () => (await readOnly.list()).find((n) => n.node === 'n1')?.streams.length === 2, 2000, 'n1 rewritten after the poke');
  await n2.d.stop();
  all = await readOnly.list();
  assert.deepEqual(all.map((n) => n.node), ['n1']);
  assert.equal(await reader.conn.zscore(`${prefix}:live:nodes`, 'n2'), null, 'index member removed');
});

test('live directory: a node that dies expires after the TTL; periodic refresh keeps a live one', async () => {
  const prefix = `t${++seq}`;
  const alive = await directory('alive', prefix, () => [{ channel: 'x' }], 1500, 200);
  const dead = await directory('dead', prefix, () => [{ channel: 'y' }], 1500, 200);
  await alive.d.start();
  const t0 = Date.now(); // before dead's only write: its key cannot expire before t0 + TTL
  await dead.d.start();
  await dead.d.stop({ remove: false });
  assert.deepEqual((await alive.d.list()).map((n) => n.node).sort(), ['alive', 'dead']);
  await until(async () => (await alive.d.list()).every((n) => n.node !== 'dead'), 5000, 'dead node expired');
  assert.ok(Date.now() - t0 >= 1450, `expired after ${Date.now() - t0} ms (TTL 1500 ms)`);
  // 'alive' kept refreshing past its own TTL.
  await new Promise((r) => setTimeout(r, 1600));
  assert.deepEqual((await alive.d.list()).map((n) => n.node), ['alive']);
  // A foreign value under a node key is skipped and counted.
  await alive.conn.set(`${prefix}:live:node:bogus`, 'not json', 'PX', 5000);
  await alive.conn.zadd(`${prefix}:live:nodes`, Date.now() + 5000, 'bogus');
  assert.deepEqual((await alive.d.list()).map((n) => n.node), ['alive']);
  const errs = (await alive.registry.getSingleMetric('onair_control_live_directory_errors_total')!.get()).values.find((v) => v.labels.op === 'invalid');
  assert.equal(errs?.value, 1);
});
