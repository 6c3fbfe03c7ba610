// The same LL-HLS on every node: two whole media nodes on one Redis and one database; ffmpeg
// publishes to A; B answers the channel's LL-HLS with A's bytes (its origin proxy), so a player
// whose every request goes to the other node (round-robin, no stickiness) never gets a 404 or a
// jump; 50 identical blocking reloads on B are one request to A; A does not count B as a viewer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { freePort } from '../../testkit/ports.js';
import { until } from '../../testkit/wait.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { followLive, parseMediaPlaylist } from '../../testkit/llhls-client.js';
import { get as httpGet } from 'node:http';
import { CLUSTER_SECRET_HEADER } from '../../src/media/cluster/secret.js';

/** rawGet sends a path as it is (fetch would resolve its dot segments first). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(base + '/', { path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const SECRET = 'hls-cluster-test-secret-0123456789';
const PLAYLIST = '/live/cam/source/playlist.m3u8';
const publishers = new LoopPublishers();

let redis: RedisServer;
let dbDir: string;
let A: TestServer;
let B: TestServer;
let urlA: string;
let urlB: string;

/** metric reads one sample of a node's /metrics. */
async function metric(s: TestServer, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? 0);
}

before(async () => {
  redis = await startRedis();
  dbDir = mkdtempSync(join(tmpdir(), 'onair-hls-cluster-'));
  const [portA, portB] = [await freePort(), await freePort()];
  urlA = `http://127.0.0.1:${portA}`;
  urlB = `http://127.0.0.1:${portB}`;
  const common = {
    'database.url': `sqlite:${join(dbDir, 'shared.db')}`,
    'redis.url': redis.url,
    'cluster.secret': SECRET,
    roles: ['media', 'api'],
    'media.control.liveRefreshSeconds': 0.5,
  };
  A = await startTestServer({ ...common, 'http.port': portA, 'media.control.advertiseUrl': urlA });
  B = await startTestServer({ ...common, 'http.port': portB, 'media.control.advertiseUrl': urlB });
  const owner = await A.platform.users.create({ username: 'owner', password: 'password1' });
  const key = (await A.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  publishers.start(`rtmp://127.0.0.1:${A.rtmpPort}/live/${key}`);
  // B finds the channel through the cluster live list once A has written it there.
  await until(async () => (await fetch(urlB + PLAYLIST)).status === 200, 20_000, 'cam playlist through B');
});

after(async () => {
  publishers.killAll();
  await B?.close();
  await A?.close();
  await redis?.stop();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('B answers the channel live on A with A\'s playlists and parts, byte for byte', async () => {
  assert.equal(B.app.hls?.packager('cam'), undefined, 'B packages nothing itself');
  const a = parseMediaPlaylist(await (await fetch(urlA + PLAYLIST)).text());
  const viaB = await fetch(`${urlB}${PLAYLIST}?_HLS_msn=${a.next.msn}&_HLS_part=${a.next.part}`);
  assert.equal(viaB.status, 200);
  assert.match(viaB.headers.get('cache-control') ?? '', /^public, max-age=\d+$/);
  const b = parseMediaPlaylist(await viaB.text());
  assert.ok(b.mediaSequence >= a.mediaSequence);
  // Every part B lists is A's, with the same name and the same bytes.
  const part = b.parts.at(-1);
  assert.ok(part, 'B lists parts');
  const [fromA, fromB] = await Promise.all([fetch(`${urlA}/live/cam/source/${part.uri}`), fetch(`${urlB}/live/cam/source/${part.uri}`)]);
  assert.equal(fromA.status, 200);
  assert.equal(fromB.status, 200);
  assert.equal(fromB.headers.get('cache-control'), 'public, max-age=86400, immutable');
  assert.ok(Buffer.from(await fromB.arrayBuffer()).equals(Buffer.from(await fromA.arrayBuffer())));
  const multi = await fetch(urlB + '/live/cam/index.m3u8');
  assert.equal(multi.status, 200);
  assert.match(await multi.text(), /source\/playlist\.m3u8/);
});

test('a viewer whose requests go to A and B in turn (round-robin) gets no 404 and no jump', { timeout: 30_000 }, async () => {
  let i = 0;
  const report = await followLive({ pick: () => (i++ % 2 === 0 ? urlA : urlB), playlistPath: PLAYLIST, durationMs: 6000 });
  assert.deepEqual(report.failures, []);
  assert.deepEqual(report.jumps, []);
  // About 3 parts a second for 6 s (a loaded machine gets fewer, never none).
  assert.ok(report.parts.length >= 6, `${report.parts.length} parts`);
});

test('50 identical blocking reloads on B are one request to A; A counts B as no viewer', { timeout: 30_000 }, async () => {
  const before = await metric(A, /onair_hls_requests_total\{kind="playlist"\} (\d+)/);
  // Ask for a part two ahead, so all 50 requests are held together.
  const pl = parseMediaPlaylist(await (await fetch(urlA + PLAYLIST)).text());
  const ahead = `${PLAYLIST}?_HLS_msn=${pl.next.msn}&_HLS_part=${pl.next.part + 1}`;
  const answers = await Promise.all(Array.from({ length: 50 }, (_, n) => fetch(urlB + ahead, { headers: { 'user-agent': `viewer-${n}` } })));
  const bodies = await Promise.all(answers.map((r) => r.text()));
  assert.deepEqual(answers.map((r) => r.status), Array.from({ length: 50 }, () => 200));
  assert.equal(new Set(bodies).size, 1, 'every viewer got the same playlist');
  const after = await metric(A, /onair_hls_requests_total\{kind="playlist"\} (\d+)/);
  // Our own plain load above is one; the 50 held requests are one more.
  assert.equal(after - before, 2);
  assert.ok(B.app.hls!.proxiedViewers('cam') >= 50, 'B counts its viewers');
  // A saw only B (the secret) and this test's direct playlist loads (one User-Agent).
  assert.equal(A.app.hls!.stats('cam')?.viewers, 1);
});

test('B proxies LL-HLS files only: a path that would reach another route of A is refused', async () => {
  for (const path of ['/live/cam/source/../../../healthz', '/live/cam/../../api/v1/streams', '/live/cam/source/..%2F..%2F..%2Fhealthz', '/live/cam/..%2Fcam.flv', '/live/cam/source/playlist.m3u8%3F.flv', '/live/cam/source//playlist.m3u8']) {
    const r = await rawGet(urlB, path);
    assert.equal(r.status, 404, `${path}: ${r.body}`);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'not_found', path);
  }
});

test('a node request to a node that does not hold the channel is refused, never proxied on (no loops)', async () => {
  const r = await fetch(urlB + PLAYLIST, { headers: { [CLUSTER_SECRET_HEADER]: SECRET } });
  assert.equal(r.status, 404);
});
