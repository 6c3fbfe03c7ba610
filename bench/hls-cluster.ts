/**
 * bench/hls-cluster.ts — LL-HLS through a cache over a cluster: N simulated LL-HLS viewers
 * (blocking reloads of the next part, then the part, as hls.js does) behind Debian's nginx
 * running docs/nginx/ll-hls-cache.conf, round-robin over two onair media nodes that share Redis;
 * ffmpeg publishes to node A, node B answers through its origin proxy. Reports how many requests
 * reach the origin (node A) per part produced: the target is about one playlist and one part
 * request per part, whatever N.
 *
 *   npm run bench -- hls-cluster [--viewers 10,50,200] [--seconds 10] [--out DIR]
 *
 * All on loopback, bounded in viewers and time. Writes hls-cluster.json in the results directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../testkit/server.js';
import { startRedis, type RedisServer } from '../testkit/redis.js';
import { freePort } from '../testkit/ports.js';
import { until } from '../testkit/wait.js';
import { LoopPublishers } from '../testkit/ffmpeg-loop.js';
import { startNginxHlsCache, type NginxHls } from '../testkit/nginx-hls.js';
import { followLive } from '../testkit/llhls-client.js';
import { argValue, resultsPath, writeResultJson } from './lib/results.js';

const MAX_VIEWERS = 2000;
const MAX_SECONDS = 120;
const VIEWERS = (argValue('viewers') ?? '10,50,200').split(',').map(Number);
const SECONDS = Number(argValue('seconds') ?? 10);
if (VIEWERS.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_VIEWERS)) throw new Error(`--viewers: comma-separated integers from 1 to ${MAX_VIEWERS}`);
if (!(SECONDS >= 1 && SECONDS <= MAX_SECONDS)) throw new Error(`--seconds: 1 to ${MAX_SECONDS}`);

const SECRET = 'bench-hls-cluster-secret-0123456789';
const PLAYLIST = '/live/cam/source/playlist.m3u8';

interface Row {
  viewers: number;
  seconds: number;
  parts: number;
  viewerRequests: number;
  failures: number;
  jumps: number;
  originPlaylistRequests: number;
  originMediaRequests: number;
  originPlaylistPerPart: number;
  originMediaPerPart: number;
  nginxHitRatio: number;
  /** Requests nginx sent upstream (not answered from its cache), by kind. */
  upstream: { plainPlaylist: number; blockingPlaylist: number; media: number };
  proxiedOnB: number;
}

async function hlsCounts(s: TestServer): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^onair_hls_requests_total\{kind="([a-z_]+)"\} (\d+)$/gm)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

const publishers = new LoopPublishers();
let redis: RedisServer | undefined;
let A: TestServer | undefined;
let B: TestServer | undefined;
let nginx: NginxHls | undefined;
const dbDir = mkdtempSync(join(tmpdir(), 'onair-bench-hls-cluster-'));

async function cleanup(): Promise<void> {
  publishers.killAll();
  await nginx?.stop();
  await B?.close();
  await A?.close();
  await redis?.stop();
  rmSync(dbDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(1)));

try {
  const loadAtStart = loadavg();
  redis = await startRedis();
  const [portA, portB] = [await freePort(), await freePort()];
  const common = { 'database.url': `sqlite:${join(dbDir, 'shared.db')}`, 'redis.url': redis.url, 'cluster.secret': SECRET, roles: ['media', 'api'], 'media.control.liveRefreshSeconds': 0.5 };
  A = await startTestServer({ ...common, 'http.port': portA, 'media.control.advertiseUrl': `http://127.0.0.1:${portA}` });
  B = await startTestServer({ ...common, 'http.port': portB, 'media.control.advertiseUrl': `http://127.0.0.1:${portB}` });
  const a = A;
  const b = B;
  const owner = await a.platform.users.create({ username: 'owner', password: 'password1' });
  const key = (await a.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  publishers.start(`rtmp://127.0.0.1:${a.rtmpPort}/live/${key}`);
  await until(async () => (await fetch(`http://127.0.0.1:${portB}${PLAYLIST}`)).status === 200, 30_000, 'the stream through node B');
  const cache = await startNginxHlsCache([`127.0.0.1:${portA}`, `127.0.0.1:${portB}`]);
  nginx = cache;
  const rows: Row[] = [];
  for (const viewers of VIEWERS) {
    const parts0 = a.app.hls?.stats('cam')?.parts ?? 0;
    const [ca, cb, log0] = [await hlsCounts(a), await hlsCounts(b), cache.accessLog().length];
    const reports = await Promise.all(Array.from({ length: viewers }, () => followLive({ pick: () => cache.url, playlistPath: PLAYLIST, durationMs: SECONDS * 1000 })));
    const [ca2, cb2] = [await hlsCounts(a), await hlsCounts(b)];
    const parts = (a.app.hls?.stats('cam')?.parts ?? 0) - parts0;
    const delta = (x: Record<string, number>, y: Record<string, number>, k: string) => (y[k] ?? 0) - (x[k] ?? 0);
    const playlist = delta(ca, ca2, 'playlist');
    const media = delta(ca, ca2, 'part') + delta(ca, ca2, 'segment') + delta(ca, ca2, 'init');
    const log = cache.accessLog().slice(log0);
    const upstream = log.filter((l) => !/ HIT /.test(l));
    const row: Row = {
      viewers,
      seconds: SECONDS,
      parts,
      viewerRequests: reports.reduce((n, r) => n + r.requests, 0),
      failures: reports.reduce((n, r) => n + r.failures.length, 0),
      jumps: reports.reduce((n, r) => n + r.jumps.length, 0),
      originPlaylistRequests: playlist,
      originMediaRequests: media,
      originPlaylistPerPart: +(playlist / Math.max(1, parts)).toFixed(2),
      originMediaPerPart: +(media / Math.max(1, parts)).toFixed(2),
      nginxHitRatio: +(log.filter((l) => / HIT /.test(l)).length / Math.max(1, log.length)).toFixed(3),
      upstream: {
        plainPlaylist: upstream.filter((l) => l.endsWith('.m3u8')).length,
        blockingPlaylist: upstream.filter((l) => l.includes('.m3u8?')).length,
        media: upstream.filter((l) => !l.includes('.m3u8')).length,
      },
      proxiedOnB: delta(cb, cb2, 'proxied'),
    };
    rows.push(row);
    console.log(`${viewers} viewers, ${SECONDS} s: ${parts} parts, ${row.viewerRequests} viewer requests (${row.failures} failed, ${row.jumps} jumps); origin per part: playlist ${row.originPlaylistPerPart}, media ${row.originMediaPerPart}; nginx upstream: ${row.upstream.plainPlaylist} plain playlists, ${row.upstream.blockingPlaylist} blocking, ${row.upstream.media} media; nginx hits ${(row.nginxHitRatio * 100).toFixed(1)} %; proxied by B ${row.proxiedOnB}`);
  }
  const file = writeResultJson(resultsPath('hls-cluster.json', argValue('out')), {
    date: new Date().toISOString(),
    node: process.version,
    method: 'simulated LL-HLS viewers (blocking reload of the next part, then the part) → nginx (docs/nginx/ll-hls-cache.conf) → two onair media nodes round-robin; origin requests counted on the publishing node',
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg(),
    rows,
  });
  console.log(`wrote ${file}`);
} finally {
  await cleanup();
}
