// Load generator process for chat benchmarks (forked with IPC, advanced serialization).
// Opens raw WebSocket clients (onair JSON protocol or socket.io/engine.io v4), keeps them
// alive (pongs), subscribes each to a channel/room, and counts deliveries that carry
// an embedded send timestamp ("ts":<epoch ms>), sampling publish-to-receive latency.
import { openRawWs, readStats, type RawWs } from './chat-rawws.js';
import { performance } from 'node:perf_hooks';

interface StartMsg {
  cmd: 'start';
  proto: 'onair' | 'sio';
  port: number;
  /** Several servers (multi-node runs): connection i goes to ports[i % ports.length]. */
  ports?: number[];
  n: number;
  addrs: string[];
  channelPattern: string;
  rooms: number;
  sampleEvery: number;
  concurrency: number;
  base: number;
}

const MARKER_TEXT = '"ts":';
const MARKER = Buffer.from(MARKER_TEXT);
/**
 * POLL_MS (env LOADGEN_POLL_MS, default 1; 0 = off) makes the event loop poll instead of sleeping
 * in epoll: each turn first sleeps POLL_MS in a futex (Atomics.wait), then takes every socket
 * that became readable meanwhile in one epoll pass. Without it a generator that reads faster
 * than the server writes is woken once per socket write — a cross-CPU wakeup that the server's
 * write syscall pays for (expensive in a VM), which real clients on other machines never cost
 * the server. Adds at most POLL_MS to measured latency.
 */
const POLL_MS = Number(process.env.LOADGEN_POLL_MS ?? 1);
const pollCell = new Int32Array(new SharedArrayBuffer(4));
function pollTurn(): void {
  Atomics.wait(pollCell, 0, 0, POLL_MS);
  setImmediate(pollTurn);
}
const now = () => performance.timeOrigin + performance.now();

let deliveries = 0;
let lastDeliveryAt = 0;
let latencies: number[] = [];
let closedCount = 0;
const closeCodes: Record<number, number> = {};
const clients: RawWs[] = [];

/**
 * countAndSample counts every push that carries a send timestamp (`"ts":<epoch ms>`) in one
 * frame and, on sampled connections, records publish-to-receive latency. One latin1 string per
 * frame and String.prototype.indexOf (a builtin, no native call per push) keep it cheap at
 * millions of deliveries per second.
 */
function countAndSample(payload: Buffer, sample: boolean): void {
  if (payload.indexOf(MARKER) < 0) return;
  const text = payload.toString('latin1');
  let i = text.indexOf(MARKER_TEXT);
  const t = sample ? now() : 0;
  while (i >= 0) {
    deliveries++;
    if (sample) {
      const j = i + MARKER_TEXT.length;
      let k = j;
      for (let c = text.charCodeAt(k); (c >= 48 && c <= 57) || c === 46; c = text.charCodeAt(++k));
      const ts = Number(text.slice(j, k));
      if (ts > 0) latencies.push(t - ts);
    }
    i = text.indexOf(MARKER_TEXT, i + MARKER_TEXT.length);
  }
  lastDeliveryAt = Date.now();
}

async function start(m: StartMsg): Promise<void> {
  let next = 0;
  let failed = 0;
  const open = async (): Promise<void> => {
    while (next < m.n) {
      const i = next++;
      const idx = m.base + i;
      const sample = m.sampleEvery > 0 && idx % m.sampleEvery === 0;
      const room = m.channelPattern.replace('{i}', String(m.rooms > 0 ? idx % m.rooms : 0));
      const path = m.proto === 'onair' ? '/connection/websocket' : '/socket.io/?EIO=4&transport=websocket';
      try {
        const ws = await openRawWs({
          host: '127.0.0.1',
          port: m.ports && m.ports.length > 0 ? m.ports[idx % m.ports.length]! : m.port,
          path,
          localAddress: m.addrs[idx % m.addrs.length],
          onText: (w, payload) => {
            if (m.proto === 'onair') {
              if (payload.length === 2 && payload[0] === 0x7b && payload[1] === 0x7d) {
                w.sendText('{}'); // pong
                return;
              }
            } else {
              if (payload.length === 1 && payload[0] === 0x32) {
                w.sendText('3'); // engine.io pong
                return;
              }
              if (payload[0] === 0x30) {
                w.sendText('40'); // connect to the default namespace
                return;
              }
              if (payload[0] === 0x34 && payload[1] === 0x30) {
                w.sendText('42' + JSON.stringify(['join', room]));
                return;
              }
            }
            countAndSample(payload, sample);
          },
          onClose: (_w, code) => {
            closedCount++;
            closeCodes[code] = (closeCodes[code] ?? 0) + 1;
          },
        });
        if (m.proto === 'onair') ws.sendText(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":${JSON.stringify(room)}}}`);
        clients.push(ws);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: m.concurrency }, open));
  process.send!({ type: 'ready', connected: clients.length, failed });
}

process.on('message', (msg: { cmd: string } & Record<string, unknown>) => {
  switch (msg.cmd) {
    case 'start':
      void start(msg as unknown as StartMsg);
      break;
    case 'reset':
      deliveries = 0;
      readStats.reads = 0;
      latencies = [];
      lastDeliveryAt = 0;
      process.send!({ type: 'reset' });
      break;
    case 'stats':
      process.send!({ type: 'stats', deliveries, reads: readStats.reads, lastDeliveryAt, latencies: Float64Array.from(latencies), closed: closedCount, closeCodes, open: clients.length - closedCount });
      latencies = [];
      break;
    case 'exit':
      for (const c of clients) c.socket.destroy();
      process.exit(0);
  }
});
process.send!({ type: 'hello' });
if (POLL_MS > 0) setImmediate(pollTurn);
