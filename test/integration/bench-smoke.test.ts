// test-runs-alone: runs every benchmark: it loads the machine itself
/**
 * Smoke run of every benchmark scenario, so the scripts never rot: tiny counts, seconds, each
 * scenario a child process through `npm run bench` (scripts/bench.mjs) with BENCH_RESULTS_DIR
 * pointing at a temp directory, a hard time limit per scenario (its process group is stopped
 * by PID), exit code 0 and a result file of the expected shape with sane values. Then
 * `npm run bench -- report` over those results, into a copy of the page in the temp directory.
 * The committed bench/results and docs/benchmarks.md must not change.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { speechToolsMissing } from '../../testkit/espeak.js';
import { WHEP_NA } from '../../bench/report.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const RESULTS = mkdtempSync(join(tmpdir(), 'onair-bench-smoke-'));
const COMMITTED_RESULTS = join(ROOT, 'bench/results');
const COMMITTED_DOC = join(ROOT, 'docs/benchmarks.md');
const HAS_NGINX_RTMP = existsSync('/usr/sbin/nginx') && existsSync('/usr/lib/nginx/modules/ngx_rtmp_module.so');
const HAS_CHROMIUM = existsSync('/usr/bin/chromium');
const HAS_WHISPER = existsSync(join(ROOT, 'node_modules/smart-whisper/build/Release/smart-whisper.node'));
const HAS_REDIS = existsSync('/usr/bin/redis-server');
const HAS_CC = spawnSync('cc', ['--version']).status === 0;
const HAS_FFMPEG_SRT = /\bsrt\b/.test(spawnSync('ffmpeg', ['-hide_banner', '-protocols'], { encoding: 'utf8' }).stdout ?? '');
/** Why the pocketsphinx captions run cannot happen here (espeak-ng or pocketsphinx missing), if so. */
const NO_POCKETSPHINX = speechToolsMissing();
/** Grace between SIGTERM (the scenario stops what it started) and SIGKILL of its process group. */
const KILL_GRACE_MS = 5000;

/** Process groups of scenarios still running (each scenario runs as its own group leader). */
const running = new Set<number>();
function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // the group is gone
  }
}
after(() => {
  for (const pid of running) killGroup(pid, 'SIGKILL');
  rmSync(RESULTS, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  ms: number;
  /** The last few KiB of stdout and stderr, for the failure message. */
  tail: string;
}

/** bench runs `node scripts/bench.mjs ARGS` as its own process group, bounded by timeoutMs. */
function bench(args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<Run> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['scripts/bench.mjs', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BENCH_RESULTS_DIR: RESULTS, ONAIR_LOG_LEVEL: 'silent', ...env },
  });
  const pid = child.pid!;
  running.add(pid);
  let tail = '';
  const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-6000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      // whatever the scenario left behind in its group (it should have stopped everything)
      killGroup(pid, 'SIGKILL');
      running.delete(pid);
      resolve({ code, signal, timedOut, ms: Date.now() - t0, tail });
    });
  });
}

function assertRan(r: Run, what: string): void {
  assert.ok(!r.timedOut, `${what}: stopped after its time limit (${r.ms} ms)\n${r.tail}`);
  assert.equal(r.code, 0, `${what}: exit ${r.code ?? r.signal}\n${r.tail}`);
}

/**
 * resultFile: the one file a scenario wrote in the temp results directory (fixed or timestamped
 * name); after a second run of a scenario with timestamped files (`then`), the newer of two.
 */
function resultFile(scenario: string, runs = 1): any {
  const files = readdirSync(RESULTS).filter((f) => new RegExp(`^${scenario}(-\\d{10,})?\\.json$`).test(f)).sort();
  assert.ok(files.length === 1 || files.length === runs, `${scenario}: expected ${runs === 1 ? 'one result file' : `1 or ${runs} result files`} in ${RESULTS}, found ${files.join(', ') || 'none'}`);
  return JSON.parse(readFileSync(join(RESULTS, files[files.length - 1]!), 'utf8'));
}

const finite = (v: unknown, what: string) => assert.ok(typeof v === 'number' && Number.isFinite(v), `${what}: ${String(v)} is not a finite number`);
const positive = (v: unknown, what: string) => {
  finite(v, what);
  assert.ok((v as number) > 0, `${what}: ${String(v)} is not > 0`);
};

/** The committed page and charts, byte for byte. */
function docSnapshot(): Map<string, string> {
  const charts = join(ROOT, 'docs/benchmarks');
  const files = [COMMITTED_DOC, ...(existsSync(charts) ? readdirSync(charts).map((f) => join(charts, f)) : [])];
  return new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
}

/** Modification times of the committed result files. */
function resultTimes(): Map<string, number> {
  return new Map(readdirSync(COMMITTED_RESULTS).map((f) => [f, statSync(join(COMMITTED_RESULTS, f)).mtimeMs]));
}

/**
 * smokeLike: whether a result file carries this smoke run's tiny parameters. Someone else's full
 * run may legitimately write bench/results while the smoke test runs on a shared machine; a
 * scenario that ignored BENCH_RESULTS_DIR would leave a file with the smoke's counts there.
 */
function smokeLike(dir: string, file: string): boolean {
  let d: any;
  try {
    d = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch {
    return false;
  }
  const name = /^([a-z-]+?)(-\d+)?\.json$/.exec(file)?.[1];
  switch (name) {
    case 'flv-fanout': return Array.isArray(d.rows) && d.rows.length > 0 && d.rows.every((r: any) => r.viewers === FANOUT_VIEWERS);
    case 'hls-serve': return d.connections === 4 && d.secondsPerRun === 1;
    case 'hls-cluster': return Array.isArray(d.rows) && d.rows.length === 1 && d.rows[0]?.viewers === 5 && d.rows[0]?.seconds === 3;
    case 'cluster': return d.viewersPerEdge === 3 && Array.isArray(d.steps) && d.steps.length === 1;
    case 'latency': return d.seconds === 2;
    case 'srt-ingest': return d.seconds === 2 && d.streams === 1;
    case 'chat-proxy': return d.connects === 20;
    case 'chat-formats': return d.subscribers === 20 && d.socketSubscribers === 10;
    case 'chat-conn': return (d.results ?? []).some((x: any) => (x.points ?? []).some((p: any) => p.target === 20));
    case 'chat-fanout': return d.subscribers === 20;
    case 'socket-write-floor': return d.sockets === 50 && d.passes === 3;
    case 'moderation': return (d.results ?? []).some((r: any) => r.messages === 500);
    case 'effects': return d.aggregator?.viewers === 100 && d.endToEnd?.clients === 5;
    case 'captions': return d.windowMs === 4000 || (d.pocketsphinx?.audioSeconds ?? 99) < 12;
    default: return false;
  }
}

interface Scenario {
  name: string;
  args: string[];
  env?: Record<string, string>;
  timeoutMs: number;
  skip?: string | false;
  check: (json: any) => void;
  /** A second run of the same scenario (another mode), after the first one's check. */
  then?: { args: string[]; env?: Record<string, string>; skip?: string | false; check: (json: any) => void };
}

const FANOUT_VIEWERS = 5;
const FANOUT_SERVERS = HAS_NGINX_RTMP ? 'all' : 'both';

const SCENARIOS: Scenario[] = [
  // the longest first (flv-fanout, latency, captions): three run at a time
  {
    name: 'flv-fanout',
    args: ['--viewers', String(FANOUT_VIEWERS), '--window', '2', '--warmup', '1', '--settle', '2', '--cooldown', '0.5', '--connect-timeout', '30', '--server', FANOUT_SERVERS],
    timeoutMs: 150_000,
    check: (d) => {
      assert.equal(d.partial, false);
      const steps = (d.rows as any[]).map((r) => `${r.server}/${r.protocol}`);
      assert.deepEqual(steps, ['onair/flv', 'onair/rtmp', 'nms/flv', 'nms/rtmp', ...(HAS_NGINX_RTMP ? ['nginx-rtmp/rtmp'] : [])]);
      assert.equal(d.stepsPlanned, steps.length);
      for (const r of d.rows) {
        const at = `${r.server}/${r.protocol}`;
        assert.equal(r.viewers, FANOUT_VIEWERS);
        positive(r.served, `${at} served`);
        assert.ok(r.served <= r.viewers);
        finite(r.cpuPercent, `${at} cpuPercent`);
        assert.ok(r.cpuPercent >= 0 && r.cpuPercent <= 200, `${at} cpuPercent ${r.cpuPercent}`);
        positive(r.rssMiB, `${at} rssMiB`);
        positive(r.firstKeyP50Ms, `${at} firstKeyP50Ms`);
        finite(r.loadgenCpuPercent, `${at} loadgenCpuPercent`);
        finite(r.loadgenLagP99Ms, `${at} loadgenLagP99Ms`);
        positive(r.loadgenReadsPerSecond, `${at} loadgenReadsPerSecond`);
        positive(r.windowKbitP50, `${at} windowKbitP50`);
        assert.equal(r.serverProcesses, r.server === 'nginx-rtmp' ? 2 : 1, `${at} processes measured`);
      }
      if (HAS_NGINX_RTMP) assert.match(d.versions['nginx-rtmp'], /nginx\/[\d.]+ \+ libnginx-mod-rtmp/);
      for (const r of d.rows) assert.equal(r.loadgenReadBatchMs, 0);
    },
    then: {
      // the generator's batched reads (the file is rewritten by this run)
      args: ['--viewers', String(FANOUT_VIEWERS), '--window', '2', '--warmup', '1', '--settle', '2', '--cooldown', '0.5', '--server', HAS_NGINX_RTMP ? 'nginx,onair' : 'onair', '--protocol', 'rtmp', '--read-batch-ms', '100'],
      check: (d) => {
        assert.equal(d.rows.length, HAS_NGINX_RTMP ? 2 : 1);
        for (const r of d.rows) {
          assert.equal(r.loadgenReadBatchMs, 100);
          positive(r.served, `${r.server} batched: viewers served`);
          positive(r.loadgenReadsPerSecond, `${r.server} batched reads/s`);
          // at most one read per batch tick per viewer, plus slack for the resume itself
          assert.ok(r.loadgenReadsPerSecond <= FANOUT_VIEWERS * (1000 / 100) * 3, `${r.server} batched reads/s ${r.loadgenReadsPerSecond}`);
        }
      },
    },
  },
  {
    name: 'latency',
    args: ['--seconds', '2', '--protocols', HAS_CHROMIUM ? 'rtmp,flv,ll-hls,hls.js,whep,rtsp,rtsp-in' : 'rtmp,flv,ll-hls,rtsp,rtsp-in'],
    timeoutMs: 180_000,
    check: (d) => {
      for (const p of HAS_CHROMIUM ? ['rtmp', 'flv', 'll-hls', 'hls.js', 'whep', 'rtsp', 'rtsp-in'] : ['rtmp', 'flv', 'll-hls', 'rtsp', 'rtsp-in']) {
        const x = d.results[p];
        assert.ok(x, `latency: no ${p} result`);
        positive(x.n, `latency ${p} samples (${(x.errors ?? []).join('; ')})`);
        for (const k of ['p50', 'p95', 'min', 'max']) finite(x[k], `latency ${p} ${k}`);
        // same-machine clock: a frame cannot arrive before it was sent, nor a minute later
        assert.ok(x.min >= 0 && x.p50 <= x.p95 && x.max < 60_000, `latency ${p}: ${JSON.stringify(x)}`);
        finite(x.benchLoopLagP99Ms, `latency ${p} benchLoopLagP99Ms`);
      }
    },
  },
  {
    name: 'captions',
    args: ['--windows', '2', '--seconds', '8', '--length', '4000', '--step', '1000'],
    timeoutMs: 90_000,
    skip: !HAS_WHISPER && 'smart-whisper is not built on this machine (optional dependency)',
    check: (d) => {
      positive(d.whisper.medianInferMs, 'whisper ms per window');
      positive(d.whisper.realtimeFactor, 'real-time factor');
      positive(d.delayWithFastRecogniser.phrases, 'phrases spoken');
      positive(d.delayWithFastRecogniser.finals, 'captions finalised');
      finite(d.delayWithFastRecogniser.p50Ms, 'caption delay p50');
    },
    then: {
      // the live pocketsphinx engine on espeak-ng speech; its section joins the whisper one
      args: ['--engine', 'pocketsphinx', '--seconds', '8'],
      skip: NO_POCKETSPHINX,
      check: (d) => {
        const p = d.pocketsphinx;
        assert.ok(p, 'captions.json: pocketsphinx section');
        positive(p.audioSeconds, 'pocketsphinx audio seconds');
        positive(p.live.cues, 'pocketsphinx live cues');
        positive(p.live.realtimeFactor, 'pocketsphinx real-time factor');
        finite(p.live.delayP50Ms, 'pocketsphinx caption delay p50');
        positive(p.file.speedup, 'pocketsphinx file-mode speed-up');
        assert.ok(d.whisper, 'the whisper section of the first run is kept');
      },
    },
  },
  {
    name: 'hls-cluster',
    args: ['--viewers', '5', '--seconds', '3'],
    timeoutMs: 90_000,
    skip: HAS_REDIS ? false : 'redis-server is not installed',
    check: (d) => {
      assert.equal(d.rows.length, 1);
      const [r] = d.rows;
      assert.equal(r.viewers, 5);
      positive(r.parts, 'parts');
      positive(r.viewerRequests, 'viewer requests');
      assert.equal(r.failures, 0);
      assert.equal(r.jumps, 0);
      positive(r.originPlaylistPerPart, 'origin playlist requests per part');
      finite(r.nginxHitRatio, 'nginx hit ratio');
    },
  },
  {
    name: 'cluster',
    args: ['--edges', '1', '--viewers', '3', '--window', '1', '--cold', '1', '--grace', '1'],
    timeoutMs: 120_000,
    skip: HAS_REDIS ? false : 'redis-server is not installed',
    check: (d) => {
      assert.equal(d.steps.length, 1);
      const [s] = d.steps;
      assert.equal(s.edges, 1);
      assert.equal(s.served, 3, 'every player on the edge got a keyframe');
      assert.equal(s.originPulls, 1, 'one pull at the origin for the edge');
      positive(s.originEgressKbps, 'origin egress');
      finite(s.originCpuPercent, 'origin CPU');
      assert.equal(d.coldStartMs.length, 1);
      positive(d.coldStartP50Ms, 'edge cold start');
      positive(d.localFirstKeyframeMs, 'first keyframe on the origin');
    },
  },
  {
    name: 'hls-serve',
    args: ['--seconds', '1', '--rounds', '1', '--connections', '4'],
    timeoutMs: 90_000,
    check: (d) => {
      assert.deepEqual(d.rows.map((r: any) => r.kind), ['playlist', 'part', 'segment']);
      for (const r of d.rows) {
        positive(r.bytes, `${r.kind} bytes`);
        for (const side of ['onair', 'nginx']) {
          positive(r[side].rps, `${r.kind} ${side} req/s`);
          positive(r[side].ok, `${r.kind} ${side} ok`);
          assert.equal(r[side].errors, 0, `${r.kind} ${side} errors`);
          finite(r[side].p99ms, `${r.kind} ${side} p99`);
          finite(r[side].cpuPercent, `${r.kind} ${side} loadgen CPU %`);
        }
        positive(r.onairCpuUsPerRequest + r.nginxCpuUsPerRequest, `${r.kind} CPU per request`);
        finite(r.onairServerCpuPercent, `${r.kind} onair server CPU %`);
      }
    },
  },
  {
    name: 'chat-conn',
    args: ['both'],
    env: { CONNS: '20', LOADGENS: '1' },
    timeoutMs: 90_000,
    check: (d) => {
      assert.deepEqual(d.results.map((x: any) => x.mode), ['onair', 'sio']);
      for (const x of d.results) {
        positive(x.baselineRssMiB, `${x.mode} baseline RSS`);
        assert.equal(x.points.length, 1);
        const p = x.points[0];
        assert.equal(p.clients, 20, `${x.mode}: connections open`);
        positive(p.rssMiB, `${x.mode} RSS`);
        finite(p.rssPerConnKiB, `${x.mode} KiB/conn`);
        assert.equal(p.closedByServer, 0);
      }
    },
  },
  {
    name: 'chat-fanout',
    args: ['both'],
    env: { SUBS: '20', LOADGENS: '1', RATES: '10', STEP_SECONDS: '1', MAX_DRAIN_SECONDS: '5', BUDGET_SECONDS: '60' },
    timeoutMs: 90_000,
    check: (d) => {
      assert.notEqual(d.partial, true);
      assert.deepEqual(d.results.map((x: any) => x.mode), ['onair', 'sio']);
      for (const x of d.results) {
        assert.ok(x.steps.length >= 1, `${x.mode}: no step`);
        const s = x.steps[0];
        assert.equal(s.rate, 10);
        positive(s.delivered, `${x.mode} delivered`);
        assert.ok(s.delivered <= s.expected);
        positive(s.deliveriesPerSec, `${x.mode} deliveries/s`);
        finite(s.p50, `${x.mode} p50`);
        finite(s.p99, `${x.mode} p99`);
      }
    },
    // The C load generator (LOADGEN=c) against onair: same stats, same checks.
    then: {
      args: ['onair'],
      env: { LOADGEN: 'c' },
      skip: !HAS_CC && 'no C compiler',
      check: (d) => {
        assert.equal(d.loadgen, 'c');
        const s = d.results[0].steps[0];
        assert.equal(s.expected, s.sent * 20);
        assert.equal(s.delivered, s.expected, 'the C generator counts every delivery');
        finite(s.p99, 'C generator p99');
        assert.ok(s.samples > 0, 'latency samples');
      },
    },
  },
  {
    name: 'srt-ingest',
    args: ['--seconds', '2', '--streams', '1'],
    timeoutMs: 90_000,
    skip: !HAS_FFMPEG_SRT && 'ffmpeg without SRT',
    check: (d) => {
      assert.equal(d.streams, 1);
      assert.equal(d.live, 1, 'the publisher went live');
      positive(d.addedLatencyMs.samples, 'latency samples');
      positive(d.addedLatencyMs.p50, 'added latency p50');
      assert.ok(d.addedLatencyMs.p50 >= d.latencyMs * 0.5, `p50 ${d.addedLatencyMs.p50} ms includes the SRT latency of ${d.latencyMs} ms`);
      finite(d.cpu.perStreamPercent, 'CPU per stream');
      assert.equal(d.sessions.reduce((a: number, x: any) => a + x.dropped, 0), 0, 'no packet given up on loopback');
    },
  },
  {
    name: 'chat-proxy',
    args: ['--connects', '20'],
    timeoutMs: 60_000,
    check: (d) => {
      assert.equal(d.connects, 20);
      for (const k of ['anonymous', 'jwt', 'proxy']) {
        assert.equal(d.connect[k].n, 20, `${k} connects`);
        positive(d.connect[k].p50Ms, `${k} connect p50`);
        positive(d.burstConnectsPerSecond[k], `${k} burst`);
      }
      positive(d.proxyCallMeanMs, 'proxy call mean');
      positive(d.publish.proxy.p50Ms, 'publish proxy p50');
    },
  },
  {
    name: 'moderation',
    args: ['--messages', '500', '--entries', '100', '--users', '20', ...(HAS_REDIS ? ['--redis'] : [])],
    timeoutMs: 60_000,
    check: (d) => {
      assert.ok(d.entries >= 100);
      positive(d.filterOnly.medianUs, 'filter median');
      assert.equal(d.results.length, HAS_REDIS ? 2 : 1);
      for (const r of d.results) {
        assert.equal(r.messages, 500);
        positive(r.medianUs, `${r.label} median`);
        assert.ok(r.medianUs <= r.p99Us && r.p99Us <= r.maxUs);
        // the lines include filtered words: some are masked or refused
        positive(r.masked + r.refused, `${r.label} masked + refused`);
      }
    },
  },
  {
    name: 'chat-formats',
    args: ['--subscribers', '20', '--publications', '10', '--socket-subscribers', '10', '--socket-publications', '5', '--rate', '50'],
    timeoutMs: 60_000,
    check: (d) => {
      assert.equal(d.rows.length, 4);
      assert.equal(d.sockets.length, 4);
      for (const x of [...d.rows, ...d.sockets]) positive(x.wireBytesPerDelivery, `${x.format} delta=${x.delta} bytes`);
      for (const x of d.sockets) {
        assert.equal(x.deliveries, 50, `${x.format} delta=${x.delta}: every subscriber got every publication`);
        finite(x.serverCpuUsPerDelivery, `${x.format} delta=${x.delta} server CPU`);
      }
      const bytes = (rows: any[], format: string, delta: boolean) => rows.find((x) => x.format === format && x.delta === delta).wireBytesPerDelivery;
      for (const rows of [d.rows, d.sockets]) {
        for (const f of ['json', 'protobuf']) assert.ok(bytes(rows, f, true) < bytes(rows, f, false), `${f}: deltas are smaller`);
      }
    },
  },
  {
    name: 'socket-write-floor',
    args: ['--sockets', '50', '--passes', '3'],
    timeoutMs: 60_000,
    check: (d) => {
      assert.equal(d.sockets, 50);
      const node = d.rows.find((r: any) => r.writer === 'node socket.write');
      positive(node.wallMsPerPass, 'node ms per pass');
      finite(node.userUsPerWrite, 'node user µs');
      finite(node.sysUsPerWrite, 'node sys µs');
      assert.equal(node.failed, 0);
      const c = d.rows.find((r: any) => r.writer === 'C write(2)');
      assert.ok(c, 'a C row (measured, or skipped with the reason)');
      if (!c.skipped) {
        finite(c.totalUsPerWrite, 'C µs per write');
        assert.equal(c.failed, 0);
      }
    },
  },
  {
    name: 'effects',
    args: ['--viewers', '100', '--clients', '5', '--rate', '5', '--seconds', '1'],
    timeoutMs: 60_000,
    check: (d) => {
      const a = d.aggregator;
      assert.equal(a.reactCalls, 500);
      positive(a.accepted, 'aggregator accepted');
      positive(a.publications, 'aggregator publications');
      assert.ok(a.publications < a.accepted, 'aggregation: fewer publications than reactions');
      positive(a.nsPerReact, 'ns per reaction');
      const b = d.endToEnd;
      assert.equal(b.sent, 25);
      positive(b.accepted, 'end-to-end accepted');
      positive(b.publications, 'end-to-end publications');
      assert.equal(b.countsExact, true);
      finite(b.rttMsP99, 'RTT p99');
    },
  },
];

const docsBefore = docSnapshot();
const resultsBefore = resultTimes();

test('bench smoke: every scenario runs with tiny counts and writes a sane result', { concurrency: 3 }, async (t) => {
  await Promise.all(
    SCENARIOS.map((s) =>
      t.test(s.name, { skip: s.skip || false }, async () => {
        const r = await bench([s.name, ...s.args], s.timeoutMs, s.env);
        t.diagnostic(`${s.name}: ${(r.ms / 1000).toFixed(1)} s`);
        assertRan(r, s.name);
        s.check(resultFile(s.name));
        if (s.then && !s.then.skip) {
          const r2 = await bench([s.name, ...s.then.args], s.timeoutMs, { ...s.env, ...s.then.env });
          t.diagnostic(`${s.name} ${s.then.args.join(' ')}: ${(r2.ms / 1000).toFixed(1)} s`);
          assertRan(r2, `${s.name} ${s.then.args.join(' ')}`);
          s.then.check(resultFile(s.name, 2));
        } else if (s.then?.skip) {
          t.diagnostic(`${s.name} ${s.then.args.join(' ')}: skipped (${s.then.skip})`);
        }
      }),
    ),
  );
});

test('bench smoke: the report reads the smoke results and writes its own copy of the page', async () => {
  const r = await bench(['report'], 60_000);
  assertRan(r, 'report');
  assert.doesNotMatch(r.tail, /could not read/);
  const page = readFileSync(join(RESULTS, 'benchmarks.md'), 'utf8');
  const ran = SCENARIOS.filter((s) => !s.skip);
  for (const s of ran) {
    const section = new RegExp(`<!-- results:${s.name} -->\\n_Source: \`[^\`]*${RESULTS.split('/').pop()}/${s.name}(-\\d+)?\\.json\``);
    assert.ok(section.test(page), `${s.name}: no section built from the smoke result in ${join(RESULTS, 'benchmarks.md')}`);
  }
  // WHEP is measured where Chromium runs; otherwise its row says it was not.
  assert.ok(HAS_CHROMIUM ? /\| whep \| \d/.test(page) : page.includes(`| whep | ${WHEP_NA} |`), 'latency table: WHEP row');
  const charts = readdirSync(join(RESULTS, 'benchmarks'));
  for (const c of ['flv-fanout-cpu.svg', 'flv-fanout-rss.svg', 'hls-serve-rps.svg', 'latency.svg', 'chat-conn.svg', 'chat-fanout-p99.svg']) {
    assert.ok(charts.includes(c), `chart ${c}`);
    assert.match(readFileSync(join(RESULTS, 'benchmarks', c), 'utf8'), /^<svg /);
  }
});

test('bench smoke: the committed results and docs/benchmarks.md were not touched', () => {
  // the detector recognises what this run wrote to its own directory
  const ours = readdirSync(RESULTS).filter((f) => f.endsWith('.json'));
  assert.ok(ours.length >= SCENARIOS.filter((s) => !s.skip).length);
  for (const f of ours) assert.ok(smokeLike(RESULTS, f), `${f} not recognised as a smoke result`);
  for (const [file, text] of docsBefore) assert.ok(existsSync(file) && readFileSync(file, 'utf8') === text, `${file} changed during the smoke run`);
  const written = [...resultTimes()].filter(([f, t]) => resultsBefore.get(f) !== t).map(([f]) => f);
  const polluted = written.filter((f) => smokeLike(COMMITTED_RESULTS, f));
  assert.deepEqual(polluted, [], `smoke results written into bench/results/ (a scenario ignored BENCH_RESULTS_DIR): ${polluted.join(', ')}`);
});
