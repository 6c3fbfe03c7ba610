// Overhead of proxies: sequential WebSocket connects (open, connect command, reply,
// close) against one chat node, anonymous vs JWT vs connect proxy (a node:http backend on the
// same machine), publishes with and without a publish proxy, and connect bursts. Not part
// of the test suite; run:
//   node --import tsx test/integration/chat-proxy-bench.ts [connects per mode, default 400]
import { WebSocket } from 'ws';
import { performance } from 'node:perf_hooks';
import { startChat, SECRET, type ChatServer } from './chat-helpers.js';
import { Backend, chatConfig } from './chat-proxy-backend.js';
import { signConnectionToken } from '../../src/chat/index.js';

const N = Number(process.argv[2] ?? 400);
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

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `mean ${mean.toFixed(3)} ms, p50 ${q(0.5).toFixed(3)}, p90 ${q(0.9).toFixed(3)}, p99 ${q(0.99).toFixed(3)}`;
}

async function run(name: string, s: ChatServer, params: () => Record<string, unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await connectOnce(s, params());
  const out: number[] = [];
  for (let i = 0; i < N; i++) out.push(await connectOnce(s, params()));
  console.log(`${name.padEnd(10)} connect command → reply: ${stats(out)} (n=${N})`);
  return out;
}

/** burst runs `total` connects, `parallel` at a time, and reports connects per second. */
async function burst(name: string, s: ChatServer, params: () => Record<string, unknown>, total: number, parallel: number): Promise<void> {
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
    namespaces: { chat: { allowPublishForClient: true, historySize: 10, historyTtlSeconds: 60 }, px: { allowPublishForClient: true, historySize: 10, historyTtlSeconds: 60, proxyPublish: true } },
  }),
});
const token = await signConnectionToken(SECRET, { sub: 'u1', info: { name: 'U1' } }, 3600);
try {
  const anon = await run('anonymous', plain, () => ({}));
  await run('jwt', plain, () => ({ token }));
  const px = await run('proxy', proxied, () => ({}));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`proxy overhead over anonymous: ${(mean(px) - mean(anon)).toFixed(3)} ms per connect (mean)`);
  const m = (await proxied.registry.getSingleMetricAsString('onair_chat_proxy_call_seconds')).split('\n');
  const sum = Number(m.find((l) => l.startsWith('onair_chat_proxy_call_seconds_sum'))?.split(' ').pop());
  const count = Number(m.find((l) => l.startsWith('onair_chat_proxy_call_seconds_count'))?.split(' ').pop());
  console.log(`proxy call (request → parsed answer) as the metric sees it: ${((sum / count) * 1000).toFixed(3)} ms mean over ${count} calls`);
  const pPlain = await publishes('plain', proxied, 'chat:bench');
  const pProxy = await publishes('proxy', proxied, 'px:bench');
  console.log(`publish proxy overhead: ${(mean(pProxy) - mean(pPlain)).toFixed(3)} ms per publish (mean)`);
  await burst('anonymous', plain, () => ({}), N * 2, 32);
  await burst('jwt', plain, () => ({ token }), N * 2, 32);
  await burst('proxy', proxied, () => ({}), N * 2, 32);
} finally {
  await plain.close();
  await proxied.close();
  await backend.close();
}
