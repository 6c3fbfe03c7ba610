// Cost of the chat proxies (docs/chat-proxy.md): sequential WebSocket connects (open, connect
// command, reply, close) against one chat node, anonymous vs JWT vs connect proxy (a node:http
// backend on the same machine), publishes with and without a publish proxy, and connect bursts.
// Usage: npm run bench -- chat-proxy [--connects 400] [--out DIR]
import { WebSocket } from 'ws';
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startChat, SECRET, type ChatServer } from '../testkit/chat-server.js';
import { Backend, chatConfig } from '../testkit/chat-proxy-backend.js';
import { signConnectionToken } from '../src/chat/index.js';
import { resultsPath, writeResultJson } from './lib/results.js';

const { values } = parseArgs({ options: { connects: { type: 'string', default: '400' }, out: { type: 'string' } } });
const N = Number(values.connects);
const WARMUP = 50;

async function connectOnce(s: ChatServer, params: Record<string, unknown>): Promise<number> {
  const ws = new WebSocket(s.wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const t0 = performance.now();
  const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  ws.send(JSON.stringify({ id: 1, connect: params }));
  const text = await reply;
  const ms = performance.now() - t0;
  if (!text.includes('"connect"')) throw new Error('connect failed: ' + text);
  ws.terminate();
  return ms;
}

interface Summary { n: number; meanMs: number; p50Ms: number; p90Ms: number; p99Ms: number }

function summary(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return { n: s.length, meanMs: r3(s.reduce((a, b) => a + b, 0) / s.length), p50Ms: r3(q(0.5)), p90Ms: r3(q(0.9)), p99Ms: r3(q(0.99)) };
}

function stats(xs: number[]): string {
  const m = summary(xs);
  return `mean ${m.meanMs.toFixed(3)} ms, p50 ${m.p50Ms.toFixed(3)}, p90 ${m.p90Ms.toFixed(3)}, p99 ${m.p99Ms.toFixed(3)}`;
}

async function run(name: string, s: ChatServer, params: () => Record<string, unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await connectOnce(s, params());
  const out: number[] = [];
  for (let i = 0; i < N; i++) out.push(await connectOnce(s, params()));
  console.log(`${name.padEnd(10)} connect command → reply: ${stats(out)} (n=${N})`);
  return out;
}

/** burst runs `total` connects, `parallel` at a time, and reports connects per second. */
async function burst(name: string, s: ChatServer, params: () => Record<string, unknown>, total: number, parallel: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      await connectOnce(s, params());
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const sec = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(10)} burst: ${total} connects, ${parallel} at a time: ${(total / sec).toFixed(0)} connects/s (open + connect + close)`);
  return Math.round(total / sec);
}

/** publishes measures sequential publish command → reply round trips on one connection. */
async function publishes(name: string, s: ChatServer, channel: string): Promise<number[]> {
  const ws = new WebSocket(s.wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waiting = new Map<number, () => void>();
  ws.on('message', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      const m = /^\{"id":(\d+)/.exec(line);
      if (m) waiting.get(Number(m[1]))?.();
    }
  });
  let id = 1;
  const call = (cmd: Record<string, unknown>): Promise<void> =>
    new Promise((resolve) => {
      const n = id++;
      waiting.set(n, resolve);
      ws.send(JSON.stringify({ id: n, ...cmd }));
    });
  await call({ connect: { token } });
  const out: number[] = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const t0 = performance.now();
    await call({ publish: { channel, data: { text: 'hello ' + i } } });
    if (i >= WARMUP) out.push(performance.now() - t0);
  }
  ws.terminate();
  console.log(`${name.padEnd(10)} publish command → reply: ${stats(out)} (n=${N})`);
  return out;
}

const backend = new Backend();
await backend.start();
backend.handlers.set('/connect', () => ({ result: { user: 'u1', info: { name: 'U1' } } }));
backend.handlers.set('/publish', () => ({ result: {} }));
const plain = await startChat({});
const proxied = await startChat({
  chat: chatConfig({
    'proxy.connect.endpoint': backend.url('/connect'),
    'proxy.publish.endpoint': backend.url('/publish'),
    'proxy.httpHeaders': ['Cookie'],
    // One user publishes back to back here: the per-user publish rate (chat.publishRate) would measure refusals.
    'publishRate.perSecond': 1_000_000,
    'publishRate.burst': 1_000_000,
    namespaces: { chat: { allowPublishForClient: true, historySize: 10, historyTtlSeconds: 60 }, px: { allowPublishForClient: true, historySize: 10, historyTtlSeconds: 60, proxyPublish: true } },
  }),
});
const token = await signConnectionToken(SECRET, { sub: 'u1', info: { name: 'U1' } }, 3600);
const BURST_PARALLEL = 32;
try {
  const load0 = loadavg()[0]!;
  const anon = await run('anonymous', plain, () => ({}));
  const jwt = await run('jwt', plain, () => ({ token }));
  const px = await run('proxy', proxied, () => ({}));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`proxy overhead over anonymous: ${(mean(px) - mean(anon)).toFixed(3)} ms per connect (mean)`);
  const m = (await proxied.registry.getSingleMetricAsString('onair_chat_proxy_call_seconds')).split('\n');
  const sum = Number(m.find((l) => l.startsWith('onair_chat_proxy_call_seconds_sum'))?.split(' ').pop());
  const count = Number(m.find((l) => l.startsWith('onair_chat_proxy_call_seconds_count'))?.split(' ').pop());
  const proxyCallMeanMs = Math.round((sum / count) * 1e6) / 1000;
  console.log(`proxy call (request → parsed answer) as the metric sees it: ${proxyCallMeanMs.toFixed(3)} ms mean over ${count} calls`);
  const pPlain = await publishes('plain', proxied, 'chat:bench');
  const pProxy = await publishes('proxy', proxied, 'px:bench');
  console.log(`publish proxy overhead: ${(mean(pProxy) - mean(pPlain)).toFixed(3)} ms per publish (mean)`);
  const bursts = {
    anonymous: await burst('anonymous', plain, () => ({}), N * 2, BURST_PARALLEL),
    jwt: await burst('jwt', plain, () => ({ token }), N * 2, BURST_PARALLEL),
    proxy: await burst('proxy', proxied, () => ({}), N * 2, BURST_PARALLEL),
  };
  const out = {
    date: new Date().toISOString(), node: process.version, connects: N, burstParallel: BURST_PARALLEL, loadavg: [load0, ...loadavg()],
    connect: { anonymous: summary(anon), jwt: summary(jwt), proxy: summary(px) },
    proxyCallMeanMs,
    publish: { plain: summary(pPlain), proxy: summary(pProxy) },
    burstConnectsPerSecond: bursts,
  };
  console.log(`written ${writeResultJson(resultsPath('chat-proxy.json', values.out), out)}`);
} finally {
  await plain.close();
  await proxied.close();
  await backend.close();
}
