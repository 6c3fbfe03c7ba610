/**
 * cluster: what on-demand edges cost the origin, and how fast an edge starts a channel.
 *
 *   npm run bench -- cluster [--edges 1,2,4] [--viewers 50] [--window 10] [--cold 5] [--grace 1] [--out DIR]
 *   npm run bench -- cluster --failover [--runs 10] [--out DIR]
 *
 * One origin and up to max(--edges) edge processes (bench/lib/cluster-node.ts: whole onair media
 * nodes on one throwaway Redis and one SQLite file), ffmpeg publishing the 1 s H.264 + AAC
 * fixture to the origin in real time. For each edge count E: --viewers HTTP-FLV players on each
 * of E edges (read in this process), then over --window seconds the origin's CPU (from
 * /proc/PID/stat) and its egress (onair_media_bytes_out_total from its /metrics): the origin's cost
 * should follow E, not E × viewers. Then --cold times an edge's cold start: the first player on
 * an edge with no pull → its first video keyframe (FLV), the pull ended (--grace) between runs.
 * Results: cluster.json in the results directory. With --failover (lib/cluster-failover.ts): three
 * nodes, primary + backup of one channel and a viewer on an edge; the primary's node is killed
 * --runs times, each time timing the viewer's silence; p50/p95 and the load average go to
 * cluster-failover.json. Loopback only, bounded in time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argValue, resultsPath, writeResultJson } from './lib/results.js';
import { startRedis } from '../testkit/redis.js';
import { freePort } from '../testkit/ports.js';
import { LOOP_FIXTURE } from '../testkit/ffmpeg-loop.js';
import { runFailover } from './lib/cluster-failover.js';

const ROOT = new URL('..', import.meta.url).pathname;
const EDGES = (argValue('edges') ?? '1,2,4').split(',').map(Number).filter((n) => n > 0);
const VIEWERS = Number(argValue('viewers') ?? '50');
const WINDOW_MS = Number(argValue('window') ?? '10') * 1000;
const COLD_RUNS = Number(argValue('cold') ?? '5');
const GRACE_SECONDS = Number(argValue('grace') ?? '1');
const RESULTS = resultsPath('cluster.json', argValue('out'));
const CHANNEL = 'bench';
const SECRET = 'bench-cluster-secret-0123456789';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
const STEP_TIMEOUT_MS = 30_000;
/** --failover: time a failover instead (kill -9 of the primary's node; lib/cluster-failover.ts), --runs times. */
const FAILOVER = process.argv.includes('--failover');
const RUNS = Number(argValue('runs') ?? '10');

const children = new Set<ChildProcess>();
function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

interface Node { httpPort: number; rtmpPort: number; pid: number; streamKey?: string; proc: ChildProcess }

async function startNode(db: string, redis: string, channel?: string): Promise<Node> {
  const httpPort = await freePort();
  const arg = JSON.stringify({ httpPort, db, redis, secret: SECRET, graceSeconds: GRACE_SECONDS, ...(channel ? { channel } : {}) });
  const proc = track(spawn(process.execPath, ['--import', 'tsx', 'bench/lib/cluster-node.ts', arg], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }));
  const info = await new Promise<Omit<Node, 'proc'>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('cluster node did not start')), 60_000);
    createInterface({ input: proc.stdout! }).once('line', (l) => { clearTimeout(t); resolve(JSON.parse(l) as Omit<Node, 'proc'>); });
    proc.once('exit', (c) => { clearTimeout(t); reject(new Error(`cluster node exited ${c}`)); });
  });
  return { ...info, proc };
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

async function metric(port: number, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(re)) sum += Number(m[1]);
  return sum;
}
const BYTES_OUT = /^onair_media_bytes_out_total\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm;
const EDGE_PULLS = /^onair_media_viewers\{protocol="edge"\} (\d+)$/gm;

/** Player: one HTTP-FLV viewer read here; firstKeyMs is connect → first AVC keyframe tag. */
interface Player { socket: Socket; firstKeyMs: number; bytes: number }

function play(port: number): Player {
  const t0 = performance.now();
  const socket = connect(port, '127.0.0.1');
  const p: Player = { socket, firstKeyMs: 0, bytes: 0 };
  let scan = Buffer.alloc(0);
  socket.on('connect', () => socket.write(`GET /live/${CHANNEL}.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => {
    p.bytes += d.length;
    if (p.firstKeyMs) return;
    scan = Buffer.concat([scan.subarray(Math.max(0, scan.length - 16)), d]);
    // An FLV video tag (stream id 0) whose body starts with an AVC keyframe NALU packet.
    for (let i = 0; i + 13 <= scan.length; i++) {
      if (scan[i] === 0x09 && scan[i + 8] === 0 && scan[i + 9] === 0 && scan[i + 10] === 0 && scan[i + 11] === 0x17 && scan[i + 12] === 0x01) {
        p.firstKeyMs = performance.now() - t0;
        return;
      }
    }
  });
  return p;
}

async function until(f: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)]! : 0; };

const loadavgAtStart = readFileSync('/proc/loadavg', 'utf8').trim();

/** capacity: the origin's cost per edge, and an edge's cold start. */
async function capacity(db: string): Promise<void> {
  const rows: { edges: number; viewersPerEdge: number; served: number; originCpuPercent: number; originEgressKbps: number; originPulls: number }[] = [];
  const cold: number[] = [];
  const origin = await startNode(db, redis.url, CHANNEL);
  const edges: Node[] = [];
  for (let i = 0; i < Math.max(...EDGES); i++) edges.push(await startNode(db, redis.url));
  track(spawn('ffmpeg', ['-v', 'error', '-re', '-stream_loop', '-1', '-i', LOOP_FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${origin.rtmpPort}/live/${origin.streamKey!}`], { stdio: 'ignore' }));
  await until(async () => (await metric(origin.httpPort, /^onair_media_streams_live (\d+)$/gm)) === 1, STEP_TIMEOUT_MS, 'the channel live on the origin');
  await sleep(1500); // the live list names it within a refresh (0.5 s)

  for (const e of EDGES) {
    const players = edges.slice(0, e).flatMap((n) => Array.from({ length: VIEWERS }, () => play(n.httpPort)));
    await until(() => players.every((p) => p.firstKeyMs > 0), STEP_TIMEOUT_MS, `${e} edges × ${VIEWERS} players served`);
    const c0 = cpuSeconds(origin.pid);
    const b0 = await metric(origin.httpPort, BYTES_OUT);
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    const secs = (performance.now() - t0) / 1000;
    const row = {
      edges: e,
      viewersPerEdge: VIEWERS,
      served: players.filter((p) => p.firstKeyMs > 0).length,
      originCpuPercent: Math.round(((cpuSeconds(origin.pid) - c0) / secs) * 1000) / 10,
      originEgressKbps: Math.round(((await metric(origin.httpPort, BYTES_OUT)) - b0) * 8 / secs / 1000),
      originPulls: await metric(origin.httpPort, EDGE_PULLS),
    };
    rows.push(row);
    console.log(`${e} edge(s) × ${VIEWERS} players: origin CPU ${row.originCpuPercent}%, egress ${row.originEgressKbps} kbit/s, pulls at the origin ${row.originPulls}`);
    for (const p of players) p.socket.destroy();
    await until(async () => (await metric(origin.httpPort, EDGE_PULLS)) === 0, (GRACE_SECONDS + 10) * 1000, 'the pulls ended after the grace');
  }

  const edge = edges[0]!;
  for (let i = 0; i < COLD_RUNS; i++) {
    const p = play(edge.httpPort);
    await until(() => p.firstKeyMs > 0, STEP_TIMEOUT_MS, 'cold start keyframe');
    cold.push(Math.round(p.firstKeyMs));
    p.socket.destroy();
    await until(async () => (await metric(origin.httpPort, EDGE_PULLS)) === 0, (GRACE_SECONDS + 10) * 1000, 'the pull ended after the grace');
  }
  const warm = play(origin.httpPort);
  await until(() => warm.firstKeyMs > 0, STEP_TIMEOUT_MS, 'warm keyframe on the origin');
  warm.socket.destroy();
  console.log(`edge cold start (first player → first keyframe): p50 ${median(cold)} ms over ${cold.length} runs [${cold.join(', ')}]; a local player on the origin: ${Math.round(warm.firstKeyMs)} ms`);
  const out = writeResultJson(RESULTS, {
    scenario: 'cluster', at: new Date().toISOString(), viewersPerEdge: VIEWERS, windowSeconds: WINDOW_MS / 1000, graceSeconds: GRACE_SECONDS,
    steps: rows, coldStartMs: cold, coldStartP50Ms: median(cold), localFirstKeyframeMs: Math.round(warm.firstKeyMs),
    loadavgAtStart, loadavgAtEnd: readFileSync('/proc/loadavg', 'utf8').trim(),
  });
  console.log(`results: ${out}`);
}

/** failover: kill -9 of the primary's node → bytes again at a viewer on an edge (lib/cluster-failover.ts). */
async function failover(db: string): Promise<void> {
  const r = await runFailover({ runs: RUNS, channel: CHANNEL, startNode: (channel) => startNode(db, redis.url, channel), track });
  console.log(`failover (kill -9 of the primary → bytes at an edge viewer): p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms over ${r.resumeMs.length} runs [${r.resumeMs.join(', ')}]${r.failed ? `, ${r.failed} without bytes` : ''}; the viewer kept its connection: ${r.sameConnection}; load average ${r.loadavg.join(' ')}`);
  const out = writeResultJson(resultsPath('cluster-failover.json', argValue('out')), { scenario: 'cluster --failover', at: new Date().toISOString(), heartbeatTimeoutMs: 2000, ...r });
  console.log(`results: ${out}`);
}

const dir = mkdtempSync(join(tmpdir(), 'onair-bench-cluster-'));
const redis = await startRedis();
try {
  const db = `sqlite:${join(dir, 'cluster.db')}`;
  if (FAILOVER) await failover(db);
  else await capacity(db);
} finally {
  for (const c of [...children]) {
    if (c.pid && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(c.spawnfile === 'ffmpeg' ? 'SIGKILL' : 'SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
