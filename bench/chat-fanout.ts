// Fan-out benchmark: one channel, SUBS subscribers (raw WebSocket clients in LOADGENS processes),
// publications through the server API at rising rates; deliveries/s and publish-to-receive
// latency (p50/p99); the highest rate whose p99 stays under 200 ms. onair vs socket.io (room broadcast).
// Usage: node --import tsx bench/chat-fanout.ts [onair|sio|both]   env: SUBS, LOADGENS, LOADGEN (node|c), STEP_SECONDS, RATES
import { writeFileSync, mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { startServer, startRedis, startLoadgen, publishOnce, percentile, bucketQuantile, PIN, LOADGEN, sleep, sourceAddrs, cpuSeconds, type Mode, type Loadgen } from './chat-lib.js';

const SUBS = Number(process.env.SUBS ?? 10000);
/**
 * One generator process by default: it reads on one core while the server writes on the other
 * (two generators competed with the server for both cores and measured worse on 2 CPUs).
 */
const LOADGENS = Number(process.env.LOADGENS ?? 1);
/** WARMUP_SECONDS of publishing at the first rate before the measured steps (JIT, first GCs); not recorded. */
const WARMUP_SECONDS = Number(process.env.WARMUP_SECONDS ?? 2);
const STEP_SECONDS = Number(process.env.STEP_SECONDS ?? 4);
const RATES = (process.env.RATES ?? '10,25,50,100,200,400,800').split(',').map(Number);
const P99_LIMIT_MS = 200;
/** onair's chat.writeBatchMs for the run (env ONAIR_CHAT_WRITE_BATCH_MS, passed to the server process); null = the config default. */
const WRITE_BATCH_MS = process.env.ONAIR_CHAT_WRITE_BATCH_MS === undefined ? null : Number(process.env.ONAIR_CHAT_WRITE_BATCH_MS);
/**
 * NODES=N (onair only, default 1) runs N onair server processes on one Redis broker (a
 * throwaway redis-server), subscribers spread over them round-robin, publications through node
 * 0's API: fan-out spread over processes. Server CPU is then the sum of the nodes and Redis.
 */
const NODES = Number(process.env.NODES ?? 1);
/** KEEP_GOING=1 runs every rate even past the p99 limit (to see server CPU per delivery on a busy machine). */
const KEEP_GOING = process.env.KEEP_GOING === '1';
const MAX_INFLIGHT = 2000;
const DRAIN_MS = 3000;
/** MAX_DRAIN_MS bounds how long a step waits for late deliveries. */
const MAX_DRAIN_MS = Number(process.env.MAX_DRAIN_SECONDS ?? 30) * 1000;
const TOTAL_BUDGET_MS = Number(process.env.BUDGET_SECONDS ?? 300) * 1000;
const CHANNEL = 'chat:bench';
const now = () => performance.timeOrigin + performance.now();

interface Step {
  rate: number;
  sent: number;
  dropped: number;
  expected: number;
  delivered: number;
  deliveriesPerSec: number;
  /** Socket reads per second over all subscribers: a floor for the server's writes per second. */
  readsPerSec: number;
  p50: number;
  p99: number;
  max: number;
  samples: number;
  serverCpuSeconds: number;
  deliveriesPerServerCpuSecond: number;
  /** onair only: upper bound (ms) of the server-side fan-out delay bucket holding the batches' p99 (arrival → written to every socket). */
  serverFanoutP99Ms: number | string | null;
  /** CPU seconds of all load-generator processes in the step (to show they are not the bottleneck). */
  loadgenCpuSeconds: number;
  /** Wall seconds of the step (publishing + drain), the denominator of the CPU shares. */
  wallSeconds: number;
  loadavg: number;
}

const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? 'bench/results';
const FILE = `${RESULTS_DIR}/chat-fanout-${Date.now()}.json`;
const partial: Record<string, Step[]> = {};
/** writePartial keeps the results file current after every step, so a killed run still leaves its numbers. */
function writePartial(): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(FILE, JSON.stringify({ bench: 'chat-fanout', partial: true, subscribers: SUBS, loadgen: LOADGEN, stepSeconds: STEP_SECONDS, steps: partial }, null, 2));
}

async function runMode(mode: Mode, deadline: number) {
  const nodes = mode === 'onair' ? Math.max(1, NODES) : 1;
  const redis = nodes > 1 ? await startRedis() : null;
  const servers = [];
  for (let i = 0; i < nodes; i++) servers.push(await startServer(mode, redis ? { ONAIR_REDIS_URL: redis.url } : {}));
  const server = servers[0]!;
  const serverCpu = () => servers.reduce((a, x) => a + cpuSeconds(x.pid), 0) + (redis ? cpuSeconds(redis.pid) : 0);
  const fanoutDelay = async () => {
    const all = await Promise.all(servers.map((x) => x.fanoutDelay()));
    const sum = new Map<string, number>();
    for (const buckets of all) for (const b of buckets) sum.set(String(b.le), (sum.get(String(b.le)) ?? 0) + b.count);
    return [...sum].map(([le, count]) => ({ le, count }));
  };
  const gens: Loadgen[] = [];
  try {
    for (let i = 0; i < LOADGENS; i++) gens.push(await startLoadgen());
    const per = Math.ceil(SUBS / LOADGENS);
    const t0 = Date.now();
    const ready = await Promise.all(
      gens.map((g, i) =>
        g.start({ proto: mode, port: server.port, ports: servers.map((x) => x.port), n: Math.min(per, SUBS - i * per), base: i * per, addrs: sourceAddrs(4), channelPattern: CHANNEL, rooms: 0, sampleEvery: 10, concurrency: 200 }),
      ),
    );
    const connected = ready.reduce((a, r) => a + r.connected, 0);
    await sleep(2000);
    const sts = await Promise.all(servers.map((x) => x.stats()));
    const st = { clients: sts.reduce((a, x) => a + x.clients, 0), rss: sts.reduce((a, x) => a + x.rss, 0) };
    console.log(`[${mode}] ${connected} subscribers connected in ${Date.now() - t0} ms (server${nodes > 1 ? `s (${nodes} nodes on Redis)` : ''} see ${st.clients}); rss ${(st.rss / 1048576).toFixed(0)} MiB`);
    const steps: Step[] = [];
    let seq = 0;
    if (WARMUP_SECONDS > 0 && RATES.length > 0) {
      const wEnd = Date.now() + WARMUP_SECONDS * 1000;
      const wStart = Date.now();
      let wSent = 0;
      let wInflight = 0;
      while (Date.now() < wEnd) {
        const due = Math.floor(((Date.now() - wStart) / 1000) * RATES[0]!);
        while (wSent < due && wInflight < MAX_INFLIGHT) {
          wSent++;
          wInflight++;
          publishOnce(mode, server.port, CHANNEL, { ts: now(), seq: ++seq, text: 'warm-up publication of the benchmark, not counted' })
            .catch(() => undefined)
            .finally(() => wInflight--);
        }
        await sleep(2);
      }
      while (wInflight > 0) await sleep(5);
      await sleep(1000);
      console.log(`[${mode}] warm-up: ${wSent} publications in ${WARMUP_SECONDS} s (not recorded)`);
    }
    for (const rate of RATES) {
      if (Date.now() + STEP_SECONDS * 1000 + DRAIN_MS > deadline) {
        console.log(`[${mode}] time budget reached`);
        break;
      }
      await Promise.all(gens.map((g) => g.reset()));
      const start = Date.now();
      const cpu0 = serverCpu();
      const gcpu0 = gens.reduce((a, g) => a + cpuSeconds(g.proc.pid!), 0);
      const fd0 = await fanoutDelay();
      let sent = 0;
      let dropped = 0;
      let inflight = 0;
      const end = start + STEP_SECONDS * 1000;
      while (Date.now() < end) {
        const due = Math.floor(((Date.now() - start) / 1000) * rate);
        while (sent + dropped < due) {
          if (inflight >= MAX_INFLIGHT) {
            dropped++;
            continue;
          }
          inflight++;
          sent++;
          publishOnce(mode, server.port, CHANNEL, { ts: now(), seq: ++seq, text: 'hello from the benchmark, a typical chat line' })
            .catch(() => undefined)
            .finally(() => inflight--);
        }
        await sleep(2);
      }
      while (inflight > 0) await sleep(5);
      const expected = sent * connected;
      let delivered = 0;
      let reads = 0;
      let lastAt = 0;
      const lat: number[] = [];
      let lastProgress = Date.now();
      const drainEnd = Date.now() + MAX_DRAIN_MS;
      let prev = -1;
      for (;;) {
        const stats = await Promise.all(gens.map((g) => g.stats()));
        delivered = stats.reduce((a, s) => a + s.deliveries, 0);
        reads = stats.reduce((a, s) => a + s.reads, 0);
        lastAt = Math.max(lastAt, ...stats.map((s) => s.lastDeliveryAt));
        for (const s of stats) for (const v of s.latencies) lat.push(v);
        if (delivered >= expected) break;
        if (delivered !== prev) {
          prev = delivered;
          lastProgress = Date.now();
        } else if (Date.now() - lastProgress > DRAIN_MS) break;
        if (Date.now() > drainEnd) break;
        await sleep(100);
      }
      const cpu = serverCpu() - cpu0;
      const gcpu = gens.reduce((a, g) => a + cpuSeconds(g.proc.pid!), 0) - gcpu0;
      const wall = (Date.now() - start) / 1000;
      const fdP99 = bucketQuantile(fd0, await fanoutDelay(), 0.99);
      const sorted = Float64Array.from(lat).sort();
      const secs = Math.max(0.001, (lastAt - start) / 1000);
      const step: Step = {
        rate,
        sent,
        dropped,
        expected,
        delivered,
        deliveriesPerSec: Math.round(delivered / secs),
        readsPerSec: Math.round(reads / secs),
        p50: +percentile(sorted, 50).toFixed(1),
        p99: +percentile(sorted, 99).toFixed(1),
        max: +(sorted[sorted.length - 1] ?? NaN).toFixed(1),
        samples: sorted.length,
        serverCpuSeconds: +cpu.toFixed(2),
        deliveriesPerServerCpuSecond: Math.round(delivered / Math.max(cpu, 0.01)),
        serverFanoutP99Ms: fdP99 === null ? null : Number.isFinite(fdP99) ? fdP99 : '>2500',
        loadgenCpuSeconds: +gcpu.toFixed(2),
        wallSeconds: +wall.toFixed(2),
        loadavg: +(await import('node:os')).loadavg()[0]!.toFixed(1),
      };
      steps.push(step);
      partial[mode] = steps;
      writePartial();
      console.log(`[${mode}] rate ${rate}/s: sent ${sent} (dropped ${dropped}), delivered ${delivered}/${expected}, ${step.deliveriesPerSec} deliveries/s in ${step.readsPerSec} reads/s, p50 ${step.p50} ms, p99 ${step.p99} ms${step.serverFanoutP99Ms !== null ? ` (server-side fan-out p99 ≤ ${step.serverFanoutP99Ms} ms)` : ''}; server CPU ${step.serverCpuSeconds} s → ${step.deliveriesPerServerCpuSecond} deliveries per server CPU-second; loadgen CPU ${step.loadgenCpuSeconds} s over ${step.wallSeconds} s; load ${step.loadavg}`);
      if (!KEEP_GOING && (step.p99 > P99_LIMIT_MS || delivered < expected * 0.99 || dropped > 0)) break;
      await sleep(500);
    }
    const ok = steps.filter((s) => s.p99 <= P99_LIMIT_MS && s.delivered >= s.expected * 0.99 && s.dropped === 0);
    const best = ok.reduce<Step | null>((a, s) => (a === null || s.deliveriesPerSec > a.deliveriesPerSec ? s : a), null);
    const closed = (await Promise.all(gens.map((g) => g.stats()))).reduce((a, s) => a + s.closed, 0);
    const bestEfficiency = steps.reduce((a, s) => Math.max(a, s.deliveriesPerServerCpuSecond), 0);
    return { mode, nodes, subscribers: connected, closedDuringRun: closed, steps, best, bestDeliveriesPerServerCpuSecond: bestEfficiency };
  } finally {
    for (const g of gens) await g.stop();
    for (const x of servers) await x.stop();
    await redis?.stop();
  }
}

const which = process.argv[2] ?? 'both';
const modes: Mode[] = which === 'both' ? ['onair', 'sio'] : [which as Mode];
const deadline = Date.now() + TOTAL_BUDGET_MS;
const results = [];
for (const m of modes) {
  const perModeDeadline = Math.min(deadline, Date.now() + TOTAL_BUDGET_MS / modes.length);
  results.push(await runMode(m, perModeDeadline));
}
const out = { bench: 'chat-fanout', date: new Date().toISOString(), cpus: (await import('node:os')).cpus().length, subscribers: SUBS, writeBatchMs: WRITE_BATCH_MS, loadgens: LOADGENS, loadgen: LOADGEN, pinned: PIN, stepSeconds: STEP_SECONDS, warmupSeconds: WARMUP_SECONDS, p99LimitMs: P99_LIMIT_MS, results };
mkdirSync(RESULTS_DIR, { recursive: true });
const file = FILE;
writeFileSync(file, JSON.stringify(out, null, 2));
for (const r of results) {
  console.log(`${r.mode}: best ${r.best ? `${r.best.deliveriesPerSec} deliveries/s at ${r.best.rate} pub/s (p50 ${r.best.p50} ms, p99 ${r.best.p99} ms)` : 'none under the p99 limit'}`);
}
console.log('wrote ' + file);
