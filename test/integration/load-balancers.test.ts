// test-runs-alone: measures how soon HAProxy's active checks take a killed node out
//
// Real load balancers with the configs shipped in docs/ (issue 17), in front of two onair media
// nodes on one Redis and one database: A runs in this process, B is an `onair serve` process so it
// can be killed with SIGKILL. Both take RTMP with the PROXY protocol from the balancers.
// - nginx's stream module (docs/nginx/rtmp-stream.conf): ffmpeg publishes through it, ffprobe plays
//   RTMP through it; with B dead a play through it still reaches A.
// - HAProxy (docs/haproxy/onair.cfg): active /healthz checks see both nodes up; HTTP-FLV viewers
//   are spread over both; kill -9 B and HAProxy marks B down within fall × inter (plus one check
//   interval of phase), before any viewer asks; B's viewers reconnect through HAProxy and play
//   from A.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { engines } from '../../testkit/db.js';
import { until } from '../../testkit/wait.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import type { OnairProcess } from '../../testkit/onair-process.js';
import type { NginxStream } from '../../testkit/nginx-stream.js';
import type { Haproxy } from '../../testkit/haproxy.js';
import { publishOnA, startBalancedPair, type BalancedPair } from '../../testkit/balanced-pair.js';
import { ReconnectingViewer } from '../../testkit/reconnecting-viewer.js';
import { collect, run } from './helpers/media-harness.js';

/** The shipped HAProxy config checks every `inter 1s` and takes a node out after `fall 2` failures. */
const CHECK_INTERVAL_MS = 1000;
const CHECK_FALL = 2;
/** A reconnecting player's own delay before it tries again. */
const RETRY_DELAY_MS = 300;
const VIEWERS = 4;
const ADMIN = 'load-balancers-admin-token-0123456789';

const publishers = new LoopPublishers();
let redis: RedisServer;
let dispose: (() => Promise<void>) | undefined;
let dbDir: string | undefined;
let pair: BalancedPair;
let A: TestServer;
let B: OnairProcess;
let nginx: NginxStream;
let haproxy: Haproxy;
const viewers: ReconnectingViewer[] = [];

before(async () => {
  redis = await startRedis();
  const pgCase = engines().find((e) => e.engine === 'postgres' && !e.skip);
  let dbUrl: string;
  if (pgCase) {
    const opened = await pgCase.open();
    await opened.db.close();
    dbUrl = opened.url;
    dispose = () => opened.dispose().catch(() => undefined);
  } else {
    dbDir = mkdtempSync(join(tmpdir(), 'onair-lb-'));
    dbUrl = `sqlite:${join(dbDir, 'shared.db')}`;
  }
  pair = await startBalancedPair({ dbUrl, redisUrl: redis.url, adminToken: ADMIN });
  ({ A, B, nginxStream: nginx, haproxy } = pair);
});

after(async () => {
  for (const v of viewers) v.close();
  publishers.killAll();
  await pair?.stop();
  await redis?.stop();
  await dispose?.();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

async function probeCodecs(url: string): Promise<string[]> {
  const p = await collect(run('ffprobe', ['-v', 'error', '-rw_timeout', '10000000', '-show_entries', 'stream=codec_name', '-of', 'json', url]), 30_000);
  assert.equal(p.code, 0, `ffprobe ${url}: ${p.stderr}`);
  return (JSON.parse(p.stdout) as { streams: { codec_name: string }[] }).streams.map((s) => s.codec_name).sort();
}

test('nginx stream: ffmpeg publishes through it to node A; ffprobe plays RTMP through nginx and through HAProxy', { timeout: 90_000 }, async () => {
  const owner = await A.platform.users.create({ username: 'owner', password: 'password1' });
  const key = (await A.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  // nginx picks the node; the drill below kills B, so the publisher must sit on A.
  await publishOnA(pair, publishers, 'cam', key);
  // A took the publish behind nginx's PROXY header (from a trusted peer, one without it is refused).
  assert.equal(A.app.media!.hub.stats('cam')?.publisher.protocol, 'rtmp');
  for (let i = 0; i < 2; i++) assert.deepEqual(await probeCodecs(`rtmp://127.0.0.1:${nginx.port}/live/cam`), ['aac', 'h264'], `play ${i + 1} through nginx`);
  assert.deepEqual(await probeCodecs(`rtmp://127.0.0.1:${haproxy.rtmpPort}/live/cam`), ['aac', 'h264']);
});

test('HAProxy: active /healthz checks mark both nodes up; HTTP-FLV viewers are spread over both', { timeout: 30_000 }, async () => {
  await until(async () => Object.values(await haproxy.serverStatus()).every((s) => s === 'UP'), 10_000, 'every server UP');
  const status = await haproxy.serverStatus();
  assert.deepEqual(Object.keys(status).sort(), ['onair_hls/media1', 'onair_hls/media2', 'onair_rtmp/media1', 'onair_rtmp/media2', 'onair_streams/media1', 'onair_streams/media2']);
  for (let i = 0; i < VIEWERS; i++) viewers.push(new ReconnectingViewer('http-flv', `${haproxy.url}/live/cam.flv`, RETRY_DELAY_MS).start());
  await until(() => viewers.every((v) => v.receiving(2000)), 15_000, 'every viewer receiving');
  // leastconn: half of them on A (local viewers), half on B (B pulls the channel from A once).
  assert.equal(A.app.media!.hub.stats('cam')?.viewers.flv, VIEWERS / 2);
  assert.equal(A.app.media!.hub.streams.get('cam')?.edgePulls(), 1);
});

test('kill -9 node B: HAProxy marks it down within fall × inter, and B\'s viewers reconnect through HAProxy to A', { timeout: 30_000 }, async () => {
  const killedAt = Date.now();
  await B.kill();
  const downAfter = await until(async () => {
    const s = await haproxy.serverStatus();
    return ['onair_hls', 'onair_streams', 'onair_rtmp'].every((b) => s[`${b}/media2`]?.startsWith('DOWN')) && Date.now() - killedAt;
  }, 10_000, 'media2 DOWN in every backend');
  console.log(`# HAProxy marked the killed node DOWN after ${downAfter} ms (inter ${CHECK_INTERVAL_MS} ms, fall ${CHECK_FALL})`);
  assert.ok(downAfter <= (CHECK_FALL + 1) * CHECK_INTERVAL_MS + 500, `DOWN after ${downAfter} ms`);
  const s = await haproxy.serverStatus();
  assert.equal(s['onair_streams/media1'], 'UP');
  await until(() => viewers.every((v) => v.receiving(1000)), 15_000, 'every viewer receiving again');
  assert.equal(A.app.media!.hub.stats('cam')?.viewers.flv, VIEWERS, 'all viewers on A now');
  const sums = viewers.map((v) => v.summary(killedAt));
  const moved = sums.filter((x) => x.reconnects > 0);
  assert.equal(moved.length, VIEWERS / 2, 'the viewers that were on B reconnected, the others did not');
  console.log(`# B's viewers: longest silence ${moved.map((x) => x.longestSilenceMs).join(', ')} ms (retry delay ${RETRY_DELAY_MS} ms)`);
});

test('nginx stream with B dead: RTMP plays through nginx reach A (a refused connect is tried on the next server)', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 2; i++) assert.deepEqual(await probeCodecs(`rtmp://127.0.0.1:${nginx.port}/live/cam`), ['aac', 'h264'], `play ${i + 1} through nginx`);
  assert.match(nginx.errorLog(), /connect\(\) failed \(111: Connection refused\) while connecting to upstream/);
});
