// test-runs-alone: hls.js playback, request counts and a node's death through nginx depend on timing
/**
 * LL-HLS through a real cache: Debian's nginx runs the shipped docs/nginx/ll-hls-cache.conf in
 * front of two onair media nodes (round-robin, no stickiness) that share Redis and a database;
 * ffmpeg publishes to node A (in this process), so node B (`onair serve` in a child process)
 * answers through its origin proxy. hls.js in headless Chromium plays through nginx with blocking
 * reloads; simulated LL-HLS viewers never see a 404 or a jump; N viewers cost the origin about
 * one request per part; and when B is killed (SIGKILL) the viewers through nginx see no error.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { freePort } from '../../testkit/ports.js';
import { until } from '../../testkit/wait.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { startNginxHlsCache, type NginxHls } from '../../testkit/nginx-hls.js';
import { followLive, type ViewerReport } from '../../testkit/llhls-client.js';
import { startOnairProcess, type OnairProcess } from '../../testkit/onair-process.js';
import { launchBrowser } from './helpers/web.js';

const SECRET = 'hls-nginx-test-secret-0123456789';
const PLAYLIST = '/live/cam/source/playlist.m3u8';
const HLS_JS = readFileSync(new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url));
const PAGE = `<!doctype html><html><body>
<video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
  const v = document.getElementById('v');
  const s = { errors: [] };
  window.__s = s;
  const hls = new Hls({ lowLatencyMode: true });
  hls.on(Hls.Events.ERROR, (_e, d) => s.errors.push({ details: d.details, fatal: d.fatal, code: d.response && d.response.code }));
  hls.loadSource(new URLSearchParams(location.search).get('src'));
  hls.attachMedia(v);
  v.play().catch(() => {});
</script></body></html>`;

const publishers = new LoopPublishers();
let redis: RedisServer;
let dbDir: string;
let A: TestServer;
let B: OnairProcess;
let nginx: NginxHls;
let page$: FastifyInstance;

/** originRequests is node A's LL-HLS requests other than the multivariant playlist (every origin request ends there). */
async function originRequests(): Promise<{ playlist: number; media: number }> {
  const text = await (await fetch(`http://127.0.0.1:${A.httpPort}/metrics`)).text();
  const kind = (k: string) => Number(new RegExp(`onair_hls_requests_total\\{kind="${k}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { playlist: kind('playlist'), media: kind('part') + kind('segment') + kind('init') };
}

before(async () => {
  redis = await startRedis();
  dbDir = mkdtempSync(join(tmpdir(), 'onair-hls-nginx-'));
  const [portA, portB] = [await freePort(), await freePort()];
  const common = { 'database.url': `sqlite:${join(dbDir, 'shared.db')}`, 'redis.url': redis.url, 'cluster.secret': SECRET, roles: ['media', 'api'], 'media.control.liveRefreshSeconds': 0.5 };
  A = await startTestServer({ ...common, 'http.port': portA, 'media.control.advertiseUrl': `http://127.0.0.1:${portA}` });
  B = await startOnairProcess({
    ONAIR_DATA_DIR: join(dbDir, 'b'), ONAIR_DATABASE_URL: common['database.url'], ONAIR_REDIS_URL: redis.url, ONAIR_CLUSTER_SECRET: SECRET, ONAIR_ROLES: 'media,api',
    ONAIR_MEDIA_CONTROL_LIVE_REFRESH_SECONDS: '0.5', ONAIR_HTTP_PORT: String(portB), ONAIR_MEDIA_CONTROL_ADVERTISE_URL: `http://127.0.0.1:${portB}`,
  });
  const owner = await A.platform.users.create({ username: 'owner', password: 'password1' });
  const key = (await A.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  publishers.start(`rtmp://127.0.0.1:${A.rtmpPort}/live/${key}`);
  await until(async () => (await fetch(`http://127.0.0.1:${portB}${PLAYLIST}`)).status === 200, 20_000, 'cam through B');
  nginx = await startNginxHlsCache([`127.0.0.1:${portA}`, `127.0.0.1:${portB}`]);
  page$ = Fastify();
  page$.get('/hls.min.js', (_q, r) => r.type('application/javascript').send(HLS_JS));
  page$.get('/', (_q, r) => r.type('text/html').send(PAGE));
  await page$.listen({ port: 0, host: '127.0.0.1' });
});

after(async () => {
  publishers.killAll();
  await page$?.close();
  await nginx?.stop();
  await B?.kill();
  await A?.close();
  await redis?.stop();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('simulated LL-HLS viewers through nginx over two nodes: no 404, no jump; the origin sees about one request per part', { timeout: 60_000 }, async () => {
  const VIEWERS = 20;
  const partsBefore = A.app.hls!.stats('cam')!.parts;
  const before = await originRequests();
  const logBefore = nginx.accessLog().length;
  const reports = await Promise.all(Array.from({ length: VIEWERS }, () => followLive({ pick: () => nginx.url, playlistPath: PLAYLIST, durationMs: 6000 })));
  const after = await originRequests();
  const parts = A.app.hls!.stats('cam')!.parts - partsBefore;
  for (const r of reports) {
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.jumps, []);
    assert.ok(r.parts.length >= 6, `${r.parts.length} parts`);
  }
  // Both nodes answered nginx (round-robin), and nginx answered most requests from its cache.
  const log = nginx.accessLog().slice(logBefore);
  for (const port of [A.httpPort, B.httpPort]) assert.ok(log.some((l) => l.includes(`127.0.0.1:${port}`)), `nginx used the node on ${port}`);
  assert.ok(log.filter((l) => / HIT /.test(l)).length > log.length / 2, 'mostly cache hits');
  // N viewers, about one request per part for the blocking reload and one for the part itself.
  // (Plain playlists are left out: viewers joining at one moment each fetch one once, since
  // nginx's cache lock does not cover an expired entry; docs/benchmarks.md, hls-cluster.)
  const blockingUpstream = log.filter((l) => !/ HIT /.test(l) && l.includes('.m3u8?')).length;
  const perPart = { blockingPlaylist: blockingUpstream / parts, originMedia: (after.media - before.media) / parts, originPlaylist: (after.playlist - before.playlist) / parts };
  assert.ok(perPart.blockingPlaylist <= 1.5 && perPart.originMedia <= 1.5, `${JSON.stringify(perPart)} requests per part over ${parts} parts`);
  console.log(`# ${VIEWERS} viewers through nginx: origin requests per part ${JSON.stringify(perPart)} over ${parts} parts`);
});

test('hls.js in Chromium plays through nginx with blocking reloads', { timeout: 90_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const src = `${nginx.url}/live/cam/index.m3u8`;
    await page.goto(`http://127.0.0.1:${(page$.server.address() as AddressInfo).port}/?src=${encodeURIComponent(src)}`);
    const t0 = Date.now();
    const position = () => page.evaluate<number>('document.getElementById("v").currentTime');
    // The stream has run for a while: hls.js starts near its live edge, not at 0.
    const start = await until(async () => { const t = await position(); return t > 0 && t; }, 30_000, 'hls.js starts playing');
    await until(async () => (await position()) > start + 6, 30_000, 'hls.js plays 6 s on');
    const errors = await page.evaluate<{ details: string; fatal: boolean; code?: number }[]>('window.__s.errors');
    assert.deepEqual(errors.filter((e) => e.fatal || (e.code !== undefined && e.code >= 400)), [], `hls.js errors after ${Date.now() - t0} ms`);
    // hls.js reloaded with _HLS_msn/_HLS_part through nginx.
    assert.ok(nginx.accessLog().some((l) => /^200 .*playlist\.m3u8\?.*_HLS_msn=\d+&_HLS_part=\d+/.test(l)), 'blocking reloads through nginx');
  } finally {
    await browser.close();
  }
});

/** longestGapMs is the longest wait between two new parts a viewer saw. */
function longestGapMs(r: ViewerReport): number {
  let gap = 0;
  for (let i = 1; i < r.partTimes.length; i++) gap = Math.max(gap, (r.partTimes[i] ?? 0) - (r.partTimes[i - 1] ?? 0));
  return gap;
}

test('node B is killed (SIGKILL) while viewers play through nginx: no error, no jump, playback goes on', { timeout: 60_000 }, async () => {
  const VIEWERS = 10;
  const playing = Promise.all(Array.from({ length: VIEWERS }, () => followLive({ pick: () => nginx.url, playlistPath: PLAYLIST, durationMs: 10_000 })));
  await new Promise((r) => setTimeout(r, 3000));
  await B.kill();
  const reports = await playing;
  for (const r of reports) {
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.jumps, []);
  }
  const gaps = reports.map(longestGapMs);
  console.log(`# B killed: longest wait between parts per viewer ${gaps.join(', ')} ms; nginx retried ${nginx.accessLog().filter((l) => l.includes(', ')).length} requests on the other node`);
  // A part is written every 1/3 s; a viewer whose request was held on B waits for nginx's retry on A.
  assert.ok(Math.max(...gaps) < 3000, `longest wait ${Math.max(...gaps)} ms`);
  assert.ok(reports.every((r) => r.parts.length >= 15), reports.map((r) => r.parts.length).join(', '));
});
