/**
 * cluster-drill: the failure drill of docs/load-balancing.md, timed. Two media nodes behind the
 * balancers shipped in docs/ (testkit/balanced-pair.ts: A in this process holds the publisher,
 * B is an `onair serve` process), viewers of each kind playing through their balancer, then
 * `kill -9` of B. For each kind it reports what the viewers that were on B saw: how many
 * connections ended, the longest silence (no bytes, or no new LL-HLS part) from the kill until
 * media flowed again, and the same for the viewers that were on A. Also when HAProxy marked B down.
 *
 *   npm run bench -- cluster-drill [--viewers 4] [--before 4] [--after 8] [--retry-ms 1000] [--out DIR]
 *
 * Kinds: HTTP-FLV and WS-FLV through HAProxy (leastconn), RTMP play through nginx's stream module
 * (least_conn), LL-HLS through the nginx cache (round-robin per request: every viewer uses both
 * nodes). FLV and RTMP players reconnect by themselves after --retry-ms, as players with automatic
 * reconnect do. Loopback only, bounded in viewers and time. Writes cluster-drill.json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type RedisServer } from '../testkit/redis.js';
import { sleep, until } from '../testkit/wait.js';
import { LoopPublishers } from '../testkit/ffmpeg-loop.js';
import { publishOnA, startBalancedPair, type BalancedPair } from '../testkit/balanced-pair.js';
import { ReconnectingViewer, type PlayProtocol } from '../testkit/reconnecting-viewer.js';
import { followLive, type ViewerReport } from '../testkit/llhls-client.js';
import { argValue, resultsPath, writeResultJson } from './lib/results.js';

const MAX_VIEWERS = 50;
const MAX_SECONDS = 60;
const VIEWERS = Number(argValue('viewers') ?? 4);
const BEFORE_MS = Number(argValue('before') ?? 4) * 1000;
const AFTER_MS = Number(argValue('after') ?? 8) * 1000;
const RETRY_MS = Number(argValue('retry-ms') ?? 1000);
if (!Number.isInteger(VIEWERS) || VIEWERS < 1 || VIEWERS > MAX_VIEWERS) throw new Error(`--viewers: 1 to ${MAX_VIEWERS}`);
if (!(BEFORE_MS >= 1000 && AFTER_MS >= 2000 && BEFORE_MS + AFTER_MS <= MAX_SECONDS * 1000)) throw new Error(`--before ≥ 1, --after ≥ 2, together at most ${MAX_SECONDS} s`);
if (!(RETRY_MS >= 0 && RETRY_MS <= 10_000)) throw new Error('--retry-ms: 0 to 10000');

const ADMIN = 'bench-cluster-drill-admin-0123456789';
const CHANNEL = 'cam';
const PLAYLIST = `/live/${CHANNEL}/source/playlist.m3u8`;
/** How recent the last bytes must be for a player to count as receiving. */
const RECEIVING_MS = 2000;

interface KindResult {
  kind: string;
  balancer: string;
  viewers: number;
  /** Viewers whose connection ended after the kill (they were on B), or for LL-HLS the failed requests. */
  onB: number;
  reconnects: number;
  /** Longest silence after the kill, per viewer that was on B (ms). */
  silenceOnBMs: number[];
  /** Longest silence after the kill, per viewer that was on A (ms). */
  silenceOnAMs: number[];
  /** Everyone receiving again at the end. */
  allReceivingAtEnd: boolean;
  notes: string[];
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();
const publishers = new LoopPublishers();
const dir = mkdtempSync(join(tmpdir(), 'onair-bench-drill-'));
let redis: RedisServer | undefined;
let pair: BalancedPair | undefined;
const players: ReconnectingViewer[] = [];
const loadAtStart = loadavg();
try {
  redis = await startRedis();
  const p = await startBalancedPair({ dbUrl: `sqlite:${join(dir, 'shared.db')}`, redisUrl: redis.url, adminToken: ADMIN, hlsCache: true });
  pair = p;
  const owner = await p.A.platform.users.create({ username: 'owner', password: 'password1' });
  const key = (await p.A.platform.channels.create({ name: CHANNEL, ownerId: owner.id })).streamKey;
  await publishOnA(p, publishers, CHANNEL, key);
  await until(async () => (await fetch(`http://127.0.0.1:${p.B.httpPort}${PLAYLIST}`)).status === 200, 20_000, 'LL-HLS of the channel through B');
  await until(async () => Object.values(await p.haproxy.serverStatus()).every((s) => s === 'UP'), 10_000, 'HAProxy: every server UP');

  const kinds: { kind: PlayProtocol; label: string; balancer: string; url: string }[] = [
    { kind: 'http-flv', label: 'HTTP-FLV', balancer: 'HAProxy', url: `${p.haproxy.url}/live/${CHANNEL}.flv` },
    { kind: 'ws-flv', label: 'WS-FLV', balancer: 'HAProxy', url: `ws://127.0.0.1:${p.haproxy.httpPort}/live/${CHANNEL}.flv` },
    { kind: 'rtmp', label: 'RTMP play', balancer: 'nginx stream', url: `rtmp://127.0.0.1:${p.nginxStream.port}/live/${CHANNEL}` },
  ];
  // One kind after the other, each playing before the next starts: the balancers spread each kind
  // over both nodes (leastconn counts the connections of the kinds before it too).
  const groups: ((typeof kinds)[number] & { viewers: ReconnectingViewer[] })[] = [];
  for (const k of kinds) {
    const viewers: ReconnectingViewer[] = [];
    for (let i = 0; i < VIEWERS; i++) {
      const v = new ReconnectingViewer(k.kind, k.url, RETRY_MS).start();
      viewers.push(v);
      players.push(v);
      await until(() => v.receiving(RECEIVING_MS), 30_000, `${k.label} player ${i + 1} receiving`);
    }
    groups.push({ ...k, viewers });
  }
  const nginxHls = p.nginxHls;
  if (!nginxHls) throw new Error('the nginx LL-HLS cache did not start');
  const hlsEnd = Date.now() + BEFORE_MS + AFTER_MS;
  const hls = Promise.all(Array.from({ length: VIEWERS }, () => followLive({ pick: () => nginxHls.url, playlistPath: PLAYLIST, durationMs: BEFORE_MS + AFTER_MS })));
  await sleep(BEFORE_MS);

  const killedAt = Date.now();
  console.log(`kill -9 node B (load average ${loadavg()})`);
  await p.B.kill();
  const down = (async () => {
    try {
      return await until(async () => (await p.haproxy.serverStatus())['onair_streams/media2']?.startsWith('DOWN') && Date.now() - killedAt, 10_000, 'HAProxy marks B down');
    } catch {
      return null;
    }
  })();
  await sleep(AFTER_MS);
  const reports: ViewerReport[] = await hls;

  const results: KindResult[] = groups.map((g) => {
    const sums = g.viewers.map((v) => v.summary(killedAt));
    const onB = sums.filter((x) => x.reconnects > 0);
    const onA = sums.filter((x) => x.reconnects === 0);
    return {
      kind: g.label, balancer: g.balancer, viewers: VIEWERS, onB: onB.length,
      reconnects: onB.reduce((a, x) => a + x.reconnects, 0),
      silenceOnBMs: onB.map((x) => x.longestSilenceMs), silenceOnAMs: onA.map((x) => x.longestSilenceMs),
      allReceivingAtEnd: g.viewers.every((v) => v.receiving(RECEIVING_MS)),
      notes: [...new Set(onB.flatMap((x) => x.ends))].slice(0, 3),
    };
  });
  // The longest wait for a new part from the kill to the end of the viewer's run.
  const gaps = reports.map((r) => {
    let prev = killedAt;
    let gap = 0;
    for (const t of [...r.partTimes.filter((x) => x >= killedAt), hlsEnd]) { gap = Math.max(gap, t - prev); prev = t; }
    return gap;
  });
  const failures = reports.flatMap((r) => r.failures);
  results.push({
    kind: 'LL-HLS', balancer: 'nginx cache', viewers: VIEWERS, onB: failures.length, reconnects: 0,
    // Every LL-HLS viewer's requests go to both nodes: each one was "on B".
    silenceOnBMs: gaps, silenceOnAMs: [],
    allReceivingAtEnd: reports.every((r) => (r.partTimes[r.partTimes.length - 1] ?? 0) >= hlsEnd - RECEIVING_MS),
    notes: [`${failures.length} error answers, ${reports.reduce((a, r) => a + r.jumps.length, 0)} jumps; nginx retried ${nginxHls.accessLog().filter((l) => l.includes(', ')).length} requests on the other node`],
  });
  const haproxyDownMs = await down;
  const loadAtEnd = loadavg();
  console.log(`HAProxy marked B DOWN after ${haproxyDownMs ?? '–'} ms; viewers reconnect after ${RETRY_MS} ms`);
  console.log('kind         balancer       on B  reconnects  longest silence on B (ms)   on A (ms)        all playing at end');
  for (const r of results) {
    console.log(`${r.kind.padEnd(12)} ${r.balancer.padEnd(14)} ${String(r.onB).padStart(4)}  ${String(r.reconnects).padStart(10)}  ${r.silenceOnBMs.join(', ').padEnd(26)}  ${r.silenceOnAMs.join(', ').padEnd(15)}  ${r.allReceivingAtEnd}`);
    for (const n of r.notes) console.log(`  ${n}`);
  }
  const out = writeResultJson(resultsPath('cluster-drill.json', argValue('out')), {
    scenario: 'cluster-drill', at: new Date().toISOString(), viewersPerKind: VIEWERS, beforeSeconds: BEFORE_MS / 1000, afterSeconds: AFTER_MS / 1000,
    retryDelayMs: RETRY_MS, haproxyDownMs, results, loadavgAtStart: loadAtStart, loadavgAtEnd: loadAtEnd,
  });
  console.log(`results: ${out}`);
} finally {
  for (const v of players) v.close();
  publishers.killAll();
  await pair?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}
