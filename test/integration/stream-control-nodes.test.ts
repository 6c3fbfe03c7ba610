// Stream control across nodes: two whole servers on one Redis and one database. Node A runs the
// media role, node B the api role (and the web pages). ffmpeg publishes to A over RTMP; B lists the stream with
// A's node id, ends it over the control bus (A's hub goes offline, ffmpeg is disconnected), the
// block refuses the republish on A; junk and forged answers on the bus are ignored; a node that
// stops drops out of B's list (at once on a clean stop, after the TTL when it dies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import prom from 'prom-client';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { until } from '../../testkit/wait.js';
import { exited, LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { silentLogger } from '../../src/observability/logger.js';
import { directoryMetrics, LiveDirectory, parseEndRequest } from '../../src/media/control/index.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext } from '../e2e/helpers/web.js';

const ADMIN = 'nodes-control-admin-token-0123456789';
const END_TIMEOUT_MS = 1500;
const TTL_SECONDS = 3;
const A_URL = 'http://media-a.test:8080';
const publishers = new LoopPublishers();
const children = publishers.running;
/** publish loops the 1 s fixture in real time (stream copy). */
const publish = (url: string) => publishers.start(url);
const raws: Redis[] = [];

let redis: RedisServer;
let dbDir: string;
let A: TestServer | undefined;
let B: TestServer;
let key: string;
let nodeA: string;
let nodeB: string;


const rtmpA = () => `rtmp://127.0.0.1:${A!.rtmpPort}/live/${key}`;
const liveOnA = (ch = 'cam') => A!.app.media!.hub.isLive(ch);
const streamsOn = async (s: TestServer) => {
  const r = await s.api('GET', '/api/v1/streams', undefined, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as { mediaHere: boolean; node: string; streams: any[]; nodes: any[]; clusterError?: string };
};
const metricsOf = async (s: TestServer) => (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);

before(async () => {
  redis = await startRedis();
  dbDir = mkdtempSync(join(tmpdir(), 'onair-control-nodes-'));
  const common = {
    'database.url': `sqlite:${join(dbDir, 'shared.db')}`,
    'redis.url': redis.url,
    adminToken: ADMIN,
    'media.control.endTimeoutMs': END_TIMEOUT_MS,
    'media.control.liveTtlSeconds': TTL_SECONDS,
    'media.control.liveRefreshSeconds': 0.5,
  };
  A = await startTestServer({ ...common, roles: ['media'], 'media.control.advertiseUrl': A_URL });
  B = await startTestServer({ ...common, roles: ['api', 'web'], 'web.dir': ensureWebBuilt() });
  const owner = await A.platform.users.create({ username: 'owner', password: 'password1' });
  key = (await A.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  await A.platform.channels.create({ name: 'idle', ownerId: owner.id });
  nodeA = (await streamsOn(A)).node;
  nodeB = (await streamsOn(B)).node;
});

after(async () => {
  for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
  for (const r of raws) r.disconnect();
  await A?.close();
  await B?.close();
  await redis?.stop();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('each node has its own id; an api-only node lists nothing before anything is live', async () => {
  assert.ok(nodeA && nodeB && nodeA !== nodeB, `${nodeA} / ${nodeB}`);
  const b = await streamsOn(B);
  assert.deepEqual(b, { mediaHere: false, node: nodeB, streams: [], nodes: [{ node: nodeA, url: A_URL, streams: 0, updatedAt: b.nodes[0]?.updatedAt }] });
});

test('the stream published to media node A is listed on api node B with A\'s node id and URL', async () => {
  publish(rtmpA());
  await until(() => liveOnA(), 15_000, 'cam live on A');
  const b = await until(async () => {
    const v = await streamsOn(B);
    return v.streams.some((s) => s.channel === 'cam') && v;
  }, 10_000, 'cam listed on B');
  const st = b.streams.find((s) => s.channel === 'cam');
  assert.equal(st.node, nodeA);
  assert.equal(st.nodeUrl, A_URL);
  assert.equal(st.live, true);
  assert.equal(st.publisher.protocol, 'rtmp');
  assert.equal(typeof st.bitrateIn, 'number');
  assert.equal(typeof st.viewers.flv, 'number');
  assert.deepEqual(st.restreams, []);
  assert.equal(b.nodes.find((n) => n.node === nodeA)?.streams, 1);
  // A's own list comes from its hub and carries its node id too.
  const a = await streamsOn(A);
  assert.equal(a.mediaHere, true);
  assert.equal(a.streams.find((s) => s.channel === 'cam')?.node, nodeA);
});

test('the admin page on B lists the stream live on A, with A\'s node id and an End button', { timeout: 90_000 }, async () => {
  await B.api('POST', '/api/v1/users', { username: 'ops', password: 'correct-horse-9', admin: true }, ADMIN);
  const token = (await B.api('POST', '/api/v1/auth/login', { username: 'ops', password: 'correct-horse-9' })).body.token as string;
  const browser = await launchBrowser();
  try {
    const page = await (await newContext(browser, { token, lang: 'en' })).newPage();
    const errors = collectErrors(page);
    await page.goto(`http://127.0.0.1:${B.httpPort}/admin`);
    // B runs no media role: its channel list knows nothing live; the row comes from the cluster list.
    await page.locator('button[data-end="cam"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator(`[data-node="${nodeA}"]`).count(), 1);
    assert.match(await page.locator('#streams').innerText(), new RegExp(`node ${nodeA}`));
    // Jobs and recordings are served by the worker and media roles: on this api+web node the page
    // asks, gets 404 "no route" and leaves those sections out. Nothing else may fail.
    assert.deepEqual(errors.filter((e) => !/status of 404 .*\/api\/v1\/(jobs|vods)\)$/.test(e)), []);
  } finally {
    await browser.close();
  }
});

test('an end on B for a channel live nowhere answers not_live_anywhere as soon as every media node said no', async () => {
  const t0 = Date.now();
  const r = await B.api('POST', '/api/v1/channels/idle/live/end', {}, ADMIN);
  const ms = Date.now() - t0;
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { channel: 'idle', ended: false, blockedUntil: null, reason: 'not_live_anywhere', bus: { asked: 1, answered: 1 } });
  assert.ok(ms < END_TIMEOUT_MS, `answered after ${ms} ms, before the ${END_TIMEOUT_MS} ms bound`);
  assert.ok(liveOnA(), 'cam untouched');
});

test('POST live/end on B ends the stream on A over the bus; the block refuses the republish on A', async (t) => {
  const ff = [...children][0]!;
  const t0 = performance.now();
  const r = await B.api('POST', '/api/v1/channels/cam/live/end', { reason: 'ops', blockSeconds: 60 }, ADMIN);
  t.diagnostic(`POST live/end on B → ended on A: ${(performance.now() - t0).toFixed(1)} ms (block stored, bus round trip)`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.ended, true);
  assert.equal(r.body.node, nodeA);
  assert.equal(r.body.stream.protocol, 'rtmp');
  assert.equal(r.body.stream.clientIp, '127.0.0.1');
  assert.ok(r.body.stream.durationSeconds >= 0);
  assert.deepEqual(r.body.bus, { asked: 1, answered: 1 });
  assert.ok(Date.parse(r.body.blockedUntil) > Date.now() + 50_000, r.body.blockedUntil);
  // A kicked before it answered.
  assert.equal(liveOnA(), false);
  await exited(ff, 10_000);

  // The block is in the shared database: the encoder's reconnect to A is refused.
  const again = publish(rtmpA());
  assert.notEqual(await exited(again, 10_000), 0);
  assert.equal(liveOnA(), false);
  assert.match((await A!.app.media!.authorizePublish(key, '127.0.0.1', 'rtmp') as { reason: string }).reason, /blocked until .*ops/);

  // B's list drops the stream (A rewrote its entry when the stream ended).
  await until(async () => !(await streamsOn(B)).streams.some((s) => s.channel === 'cam'), 5000, 'cam gone from B\'s list');

  const mb = await metricsOf(B);
  assert.equal(metric(mb, /^onair_control_bus_requests_total\{outcome="ended"\} (\d+)/m), 1);
  assert.equal(metric(mb, /^onair_control_bus_requests_total\{outcome="not_live_anywhere"\} (\d+)/m), 1);
  assert.equal(metric(mb, /^onair_live_end_requests_total\{by="admin",outcome="ended"\} (\d+)/m), 1);
  const ma = await metricsOf(A!);
  assert.equal(metric(ma, /^onair_control_bus_served_total\{ended="true"\} (\d+)/m), 1);
  assert.ok(metric(ma, /^onair_publish_blocked_total (\d+)/m) >= 2);

  // Lifted from B, A accepts the key again.
  assert.deepEqual((await B.api('DELETE', '/api/v1/channels/cam/live/block', undefined, ADMIN)).body, { lifted: true });
  publish(rtmpA());
  await until(() => liveOnA(), 15_000, 'cam live again on A');
  await until(async () => (await streamsOn(B)).streams.some((s) => s.channel === 'cam'), 5000, 'cam listed on B again');
});

test('junk on the bus is ignored and counted; forged answers do not end a request; a silent media node makes it time out', async () => {
  const pub = new Redis(redis.url);
  const fake = new Redis(redis.url);
  raws.push(pub, fake);
  // A fake "media node" that hears requests and answers only with forgeries: a wrong request id,
  // and the right id for another channel. It counts in PUBLISH's subscriber number, so the
  // request waits for it until the bound.
  let heard = 0;
  fake.on('message', (_ch: string, msg: string) => {
    const r = parseEndRequest(msg);
    if (!r.ok) return;
    heard++;
    const reply = `onair:control:reply:${r.msg.from}`;
    void pub.publish(reply, JSON.stringify({ v: 1, type: 'end-result', requestId: 'forged-id', nodeId: 'evil', channel: r.msg.channel, ended: true }));
    void pub.publish(reply, JSON.stringify({ v: 1, type: 'end-result', requestId: r.msg.requestId, nodeId: 'evil', channel: 'other', ended: true }));
  });
  await fake.subscribe('onair:control');

  const before_ = { a: await metricsOf(A!), b: await metricsOf(B) };
  const junkA0 = metric(before_.a, /^onair_control_bus_junk_total\{kind="not_json"\} (\d+)/m) + metric(before_.a, /^onair_control_bus_junk_total\{kind="invalid"\} (\d+)/m) + metric(before_.a, /^onair_control_bus_junk_total\{kind="too_large"\} (\d+)/m);
  await pub.publish('onair:control', 'not json at all');
  await pub.publish('onair:control', JSON.stringify({ v: 1, type: 'end', channel: 'cam' }));
  await pub.publish('onair:control', JSON.stringify({ v: 1, type: 'end', requestId: 'x', from: nodeB, channel: 'cam', by: 'god', reason: null }));
  await pub.publish('onair:control', 'x'.repeat(20_000));
  await pub.publish(`onair:control:reply:${nodeB}`, '{"half":');
  await until(async () => {
    const m = await metricsOf(A!);
    return metric(m, /^onair_control_bus_junk_total\{kind="not_json"\} (\d+)/m) + metric(m, /^onair_control_bus_junk_total\{kind="invalid"\} (\d+)/m) + metric(m, /^onair_control_bus_junk_total\{kind="too_large"\} (\d+)/m) >= junkA0 + 4;
  }, 5000, 'A counted 4 junk requests');
  await until(async () => metric(await metricsOf(B), /^onair_control_bus_junk_total\{kind="not_json"\} (\d+)/m) >= 1, 5000, 'B counted the junk answer');
  assert.ok(liveOnA(), 'junk ended nothing');
  assert.equal(heard, 0, 'the fake node ignored the junk too');

  // A real end of a channel live nowhere: A says no, the fake node never answers properly.
  const t0 = Date.now();
  const r = await B.api('POST', '/api/v1/channels/idle/live/end', {}, ADMIN);
  const ms = Date.now() - t0;
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { channel: 'idle', ended: false, blockedUntil: null, reason: 'timeout', bus: { asked: 2, answered: 1 } });
  assert.ok(ms >= END_TIMEOUT_MS - 50, `waited ${ms} ms for the silent node`);
  assert.equal(heard, 1);
  const mb = await metricsOf(B);
  assert.ok(metric(mb, /^onair_control_bus_junk_total\{kind="unmatched"\} (\d+)/m) >= 2, 'both forged answers counted');
  assert.equal(metric(mb, /^onair_control_bus_requests_total\{outcome="timeout"\} (\d+)/m), 1);
  assert.ok(liveOnA(), 'cam untouched');

  await fake.unsubscribe('onair:control');
  const r2 = await B.api('POST', '/api/v1/channels/idle/live/end', {}, ADMIN);
  assert.equal(r2.body.reason, 'not_live_anywhere', JSON.stringify(r2.body));
});

test('an end on the media node holding the stream kicks it locally (no bus round trip) and names the node', async () => {
  const ff = [...children][0]!;
  const r = await A!.api('POST', '/api/v1/channels/cam/live/end', {}, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.ended, true);
  assert.equal(r.body.node, nodeA);
  assert.equal(r.body.bus, undefined);
  await exited(ff, 10_000);
  publish(rtmpA());
  await until(() => liveOnA(), 15_000, 'cam live again on A');
  await until(async () => (await streamsOn(B)).streams.some((s) => s.channel === 'cam'), 5000, 'cam listed on B again');
});

test('a node that dies drops out of the list after the TTL; a node that stops cleanly at once', async () => {
  // A dead media node: its entry was written, then nothing refreshes or removes it.
  const conn = new Redis(redis.url);
  raws.push(conn);
  const ghost = new LiveDirectory({
    redis: () => conn, nodeId: 'ghost-node', logger: silentLogger(), metrics: directoryMetrics(new prom.Registry()),
    ttlMs: TTL_SECONDS * 1000, refreshMs: 1000,
    snapshot: async () => [{ channel: 'ghost', live: true, publisher: { protocol: 'rtmp' }, restreams: [] }],
  });
  await ghost.start();
  await until(async () => (await streamsOn(B)).streams.some((s) => s.channel === 'ghost' && s.node === 'ghost-node'), 5000, 'ghost listed on B');
  const died = Date.now();
  await ghost.stop({ remove: false });
  assert.ok((await streamsOn(B)).streams.some((s) => s.channel === 'ghost'), 'still listed right after it died (TTL not over)');
  await until(async () => !(await streamsOn(B)).streams.some((s) => s.channel === 'ghost'), TTL_SECONDS * 1000 + 5000, 'ghost gone after the TTL');
  const gone = Date.now() - died;
  assert.ok(gone >= TTL_SECONDS * 1000 - 1000, `dropped after ${gone} ms (TTL ${TTL_SECONDS} s)`);
  assert.ok(!(await streamsOn(B)).nodes.some((n) => n.node === 'ghost-node'));

  // Node A stops while live: its entry is removed on the way down.
  assert.ok((await streamsOn(B)).streams.some((s) => s.channel === 'cam' && s.node === nodeA));
  const ff = [...children][0]!;
  await A!.close();
  A = undefined;
  await until(async () => {
    const v = await streamsOn(B);
    return !v.streams.some((s) => s.node === nodeA) && !v.nodes.some((n) => n.node === nodeA);
  }, 5000, 'A gone from B\'s list');
  await exited(ff, 10_000);
  // With no media node left, an end from B concludes at once: nobody holds the publisher.
  const r = await B.api('POST', '/api/v1/channels/cam/live/end', {}, ADMIN);
  assert.deepEqual(r.body, { channel: 'cam', ended: false, blockedUntil: null, reason: 'not_live_anywhere', bus: { asked: 0, answered: 0 } });
});
