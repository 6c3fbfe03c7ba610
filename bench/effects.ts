/**
 * Emoji effects: what aggregation saves, and what a reaction costs.
 *
 * Part A (CPU, simulated clock): V viewers on one channel each react R times
 * a second for S seconds through EffectsAggregator.react(); the window timer
 * is driven by hand; one untimed warm-up run first. Reported: ns per react() call, reactions accepted, and
 * publications made (one per window, instead of one per reaction).
 *
 * Part B (end to end, loopback): a whole onair (chat + api roles) on port 0,
 * C centrifuge SDK clients each sending `effects.react` RPCs at R/s for S
 * seconds, one subscriber on effects:{channel}. Reported: reactions sent,
 * accepted, publications received, largest publication per window, exactness
 * of the summed counts, RPC round-trip p50/p99.
 *
 * Usage: node --import tsx bench/effects.ts [--viewers 10000] [--clients 100] [--rate 5] [--seconds 5] [--window 200] [--out DIR]
 * Writes effects.json in the results directory (--out DIR, $BENCH_RESULTS_DIR, bench/results).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import { Centrifuge } from 'centrifuge';
import { EffectsAggregator, BUILTIN_EFFECTS, type EffectsPublication } from '../src/chat/supporters/effects.js';
import { createSupportersMetrics } from '../src/chat/supporters/metrics.js';
import { silentLogger } from '../src/observability/logger.js';
import { loadConfig } from '../src/config/index.js';
import { LOOPBACK_LIMITS } from './lib/loopback-limits.js';
import { startServer } from '../src/server.js';
import { resultsPath, writeResultJson } from './lib/results.js';

const { values } = parseArgs({ options: {
  viewers: { type: 'string', default: '10000' }, clients: { type: 'string', default: '100' }, rate: { type: 'string', default: '5' },
  seconds: { type: 'string', default: '5' }, window: { type: 'string', default: '200' }, out: { type: 'string' },
} });
const VIEWERS = Number(values.viewers);
const CLIENTS = Math.min(Number(values.clients), 500);
const RATE = Number(values.rate);
const SECONDS = Math.min(Number(values.seconds), 30);
const WINDOW = Number(values.window);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

async function partA(): Promise<Record<string, number>> {
  await simulate(); // warm-up: JIT and bucket maps, not reported
  return simulate();
}

async function simulate() {
  let now = 0;
  let pubs = 0;
  let maxBytes = 0;
  const agg = new EffectsAggregator({
    publisher: { publish: async (_c, d) => { pubs++; maxBytes = Math.max(maxBytes, JSON.stringify(d).length); return {}; } },
    logger: silentLogger(), metrics: createSupportersMetrics(new Registry()), windowMs: WINDOW, ratePerSecond: 10, burst: 10, now: () => now,
  });
  const keys = Array.from({ length: VIEWERS }, (_, v) => `u${v}`);
  const stepMs = 1000 / RATE;
  let calls = 0;
  let accepted = 0;
  const t0 = process.hrtime.bigint();
  for (let t = 0; t < SECONDS * 1000; t += stepMs) {
    // Every viewer reacts once per step, spread evenly across the step.
    for (let v = 0; v < VIEWERS; v++) {
      now = Math.floor(t + (v / VIEWERS) * stepMs);
      accepted += agg.react('demo', keys[v]!, BUILTIN_EFFECTS[v % BUILTIN_EFFECTS.length]!).accepted;
      calls++;
      if (now >= (pubs + 1) * WINDOW) await agg.flush();
    }
  }
  await agg.flush();
  const ns = Number(process.hrtime.bigint() - t0) / calls;
  await agg.stop();
  return { viewers: VIEWERS, ratePerViewer: RATE, seconds: SECONDS, windowMs: WINDOW, reactCalls: calls, accepted, publications: pubs, maxPublicationBytes: maxBytes, nsPerReact: Math.round(ns) };
}

async function partB() {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-bench-effects-'));
  const config = loadConfig({ env: {}, file: '/dev/null', overrides: { dataDir, host: '127.0.0.1', 'http.port': 0, roles: ['chat', 'api'], 'log.level': 'silent', 'supporters.effects.windowMs': WINDOW, ...LOOPBACK_LIMITS } });
  const server = await startServer(config, { logger: silentLogger() });
  const clients: Centrifuge[] = [];
  try {
    const base = `http://127.0.0.1:${server.httpPort}`;
    const url = `ws://127.0.0.1:${server.httpPort}/connection/websocket`;
    const token = async () => ((await (await fetch(`${base}/api/v1/chat/token`, { method: 'POST' })).json()) as { token: string }).token;
    const connect = async () => {
      const c = new Centrifuge(url, { websocket: WebSocket, token: await token() });
      clients.push(c);
      const ok = new Promise((r) => c.once('connected', r));
      c.connect();
      await ok;
      return c;
    };
    const viewer = await connect();
    const got: EffectsPublication[] = [];
    const sub = viewer.newSubscription('effects:demo');
    sub.on('publication', (ctx) => got.push(ctx.data as EffectsPublication));
    const subscribed = new Promise((r) => sub.once('subscribed', r));
    sub.subscribe();
    await subscribed;
    const reactors = await Promise.all(Array.from({ length: CLIENTS }, connect));
    const rtts: number[] = [];
    let sent = 0;
    let accepted = 0;
    let limited = 0;
    const t0 = Date.now();
    await Promise.all(reactors.map(async (c, i) => {
      const step = 1000 / RATE;
      await new Promise((r) => setTimeout(r, (i / CLIENTS) * step));
      for (let k = 0; k < RATE * SECONDS; k++) {
        const due = t0 + (i / CLIENTS) * step + k * step;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const s = performance.now();
        sent++;
        try {
          const r = await c.rpc('effects.react', { channel: 'demo', effect: BUILTIN_EFFECTS[(i + k) % BUILTIN_EFFECTS.length] });
          accepted += (r.data as { accepted: number }).accepted;
        } catch {
          limited++;
        }
        rtts.push(performance.now() - s);
      }
    }));
    await new Promise((r) => setTimeout(r, WINDOW * 3));
    const elapsed = Date.now() - t0;
    const total = got.reduce((s, p) => s + p.total, 0);
    return {
      clients: CLIENTS, ratePerClient: RATE, seconds: SECONDS, windowMs: WINDOW, elapsedMs: elapsed, sent, accepted, rateLimited: limited,
      publications: got.length, windows: Math.ceil(elapsed / WINDOW), maxPerPublication: Math.max(...got.map((p) => p.total)), countsExact: total === accepted,
      rttMsP50: Number(pct(rtts, 50).toFixed(2)), rttMsP99: Number(pct(rtts, 99).toFixed(2)),
    };
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const a = await partA();
console.log('A. aggregator (simulated clock)');
console.table([a]);
const b = await partB();
console.log('B. end to end over WebSocket (centrifuge SDK, loopback)');
console.table([b]);
console.log(`written ${writeResultJson(resultsPath('effects.json', values.out), { at: new Date().toISOString(), node: process.version, aggregator: a, endToEnd: b })}`);
process.exit(0);
