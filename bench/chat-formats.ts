/**
 * Bytes on the wire and server CPU per delivery: the Centrifugo JSON and protobuf protocols,
 * each with and without Fossil delta subscriptions, side by side in one run, in two parts.
 *
 * Part 1, encoding:
 * Method: a 1 KiB state (20 rows, some Korean) of which a tenth (2 rows) is rewritten per
 * publication. Each publication goes through the server's own fan-out encoding, as the channel
 * hub and a WebSocket connection do it: the push built once, a shared batch per publication
 * (delta forms built once per publication when delta is on), and every subscriber handed the
 * batch's (or its delta variant's) WebSocket frame bytes for its transport kind — encoded on
 * first use, then shared. Measured: frame bytes per delivery, and process CPU per publication
 * and per delivery for all of that, without sockets.
 *
 * Part 2, sockets: an onair chat server as its own process (bench/chat-server.ts) and real
 * WebSocket subscribers on loopback (the `ws` client, in this process), JSON or protobuf
 * (`centrifuge-protobuf`), plain or negotiating Fossil deltas; the same states published through
 * the server API (`delta: true`) at a paced rate, so every format gets the same batching.
 * Measured: bytes the subscribers' sockets read per delivery (frames included) and the server
 * process's CPU (from /proc) per delivery, publication API calls included (the same for all four).
 *
 * Usage: node --import tsx bench/chat-formats.ts [--subscribers 1000] [--publications 200]
 *   [--socket-subscribers 1000] [--socket-publications 100] [--rate 20] [--out DIR]
 * (--socket-subscribers 0 skips part 2.) Writes chat-formats.json in the results directory
 * (--out DIR, $BENCH_RESULTS_DIR, bench/results).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { encodePublication, encodePush, type Publication } from '../src/chat/protocol/codec.js';
import { SharedBatch, type TransportKind } from '../src/chat/transport/types.js';
import { buildDeltaForms, type DeltaFormat } from '../src/chat/delta.js';
import { seededRandom } from '../testkit/prng.js';
import { resultsPath, writeResultJson } from './lib/results.js';
import { ProtoWriter, DelimitedSplitter } from '../src/chat/protocol/protobuf-wire.js';
import { startServer, cpuSeconds, sleep, type ServerProc } from './chat-lib.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    publications: { type: 'string', default: '200' },
    'socket-subscribers': { type: 'string', default: '1000' },
    'socket-publications': { type: 'string', default: '100' },
    rate: { type: 'string', default: '20' },
    out: { type: 'string' },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const PUBLICATIONS = Number(values.publications);
const SOCKET_SUBSCRIBERS = Number(values['socket-subscribers']);
const SOCKET_PUBLICATIONS = Number(values['socket-publications']);
const RATE = Number(values.rate);
if (!(SUBSCRIBERS > 0) || !(PUBLICATIONS > 1)) throw new Error('--subscribers must be > 0 and --publications > 1');
if (!(SOCKET_SUBSCRIBERS >= 0) || !(SOCKET_PUBLICATIONS > 1) || !(RATE > 0)) throw new Error('--socket-subscribers must be >= 0, --socket-publications > 1, --rate > 0');

const ROWS = 20;
const ROWS_CHANGED = 2;
const CHANNEL = 'state:board';

/** states makes the publications' data: ~1 KiB of rows, a tenth rewritten each time. */
function states(): string[] {
  const r = seededRandom(2026);
  const row = (i: number) => ({ rank: i + 1, name: r() < 0.3 ? `시청자${Math.floor(r() * 1000)}` : `viewer${Math.floor(r() * 100000)}`, score: Math.floor(r() * 1e6) });
  const rows = Array.from({ length: ROWS }, (_, i) => row(i));
  const out: string[] = [];
  for (let p = 0; p < PUBLICATIONS; p++) {
    for (let k = 0; k < ROWS_CHANGED; k++) {
      const i = Math.floor(r() * ROWS);
      rows[i] = row(i);
    }
    out.push(JSON.stringify({ board: rows }));
  }
  return out;
}

interface Row {
  format: DeltaFormat;
  delta: boolean;
  dataBytes: number;
  wireBytesPerDelivery: number;
  cpuUsPerPublication: number;
  cpuNsPerDelivery: number;
}

function run(data: string[], format: DeltaFormat, delta: boolean): Row {
  const kind: TransportKind = format === 'json' ? 'websocket' : 'websocket_protobuf';
  let wire = 0;
  let dataBytes = 0;
  let prev: Buffer | null = null;
  const t0 = process.cpuUsage();
  for (let p = 0; p < data.length; p++) {
    const pub: Publication = { data: data[p] ?? '{}', offset: p + 1, deltaWanted: true };
    dataBytes += Buffer.byteLength(pub.data);
    const batch = new SharedBatch([encodePush(CHANNEL, 'pub', encodePublication(pub))]);
    if (delta) {
      const built = buildDeltaForms(CHANNEL, [pub], batch.pushes, prev);
      batch.delta = built.forms;
      prev = built.last;
    }
    for (let s = 0; s < SUBSCRIBERS; s++) {
      // Every subscriber joined before the first publication: that one goes in full.
      const b = delta ? batch.variant(format, p === 0) : batch;
      wire += b.bytes(kind).length;
    }
  }
  const used = process.cpuUsage(t0);
  const cpuUs = used.user + used.system;
  const deliveries = data.length * SUBSCRIBERS;
  return {
    format,
    delta,
    dataBytes: Math.round(dataBytes / data.length),
    wireBytesPerDelivery: Math.round((wire / deliveries) * 10) / 10,
    cpuUsPerPublication: Math.round((cpuUs / data.length) * 10) / 10,
    cpuNsPerDelivery: Math.round((cpuUs * 1000) / deliveries),
  };
}

// ---- part 2: real sockets ----

/** The namespace of part 2: history (deltas need a positioned stream) and Fossil deltas allowed. */
const SOCKET_NAMESPACE = { historySize: 10, historyTtlSeconds: 300, allowedDeltaTypes: ['fossil'], allowSubscribeForAnonymous: true };
const API_KEY = 'bench-api-key-0123456789';

interface SocketRow {
  format: DeltaFormat;
  delta: boolean;
  subscribers: number;
  publications: number;
  deliveries: number;
  wireBytesPerDelivery: number;
  serverCpuUsPerDelivery: number;
  serverCpuMsTotal: number;
}

/** protoCommand is one length-delimited protobuf Command: id and one method field holding `body`. */
function protoCommand(id: number, method: number, body: Uint8Array): Buffer {
  const cmd = new ProtoWriter().tag(1, 0).varint(id).tag(method, 2).bytes(body).finish();
  return Buffer.from(new ProtoWriter().bytes(cmd).finish());
}

/** subscribeBody is a protobuf SubscribeRequest: channel (1), positioned (9), delta (12). */
function subscribeBody(channel: string, delta: boolean): Uint8Array {
  const w = new ProtoWriter().tag(1, 2).bytes(Buffer.from(channel));
  if (delta) w.tag(9, 0).varint(1).tag(12, 2).bytes(Buffer.from('fossil'));
  return Buffer.from(w.finish());
}

/** Subscriber is one WebSocket subscriber: the publications it got and the bytes its socket read. */
interface Subscriber {
  ws: WebSocket;
  pubs: number;
  subscribed: boolean;
  bytesRead(): number;
}

function openSubscriber(port: number, channel: string, format: DeltaFormat, delta: boolean): Promise<Subscriber> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/connection/websocket`, format === 'protobuf' ? 'centrifuge-protobuf' : undefined);
  const sub: Subscriber = {
    ws,
    pubs: 0,
    subscribed: false,
    bytesRead: () => (ws as unknown as { _socket?: { bytesRead: number } })._socket?.bytesRead ?? 0,
  };
  ws.on('message', (m: Buffer, binary) => {
    if (format === 'json' && !binary) {
      for (const line of m.toString().split('\n')) {
        if (line === '{}') ws.send('{}'); // pong
        else if (line.includes('"pub":')) sub.pubs++;
        else if (line.startsWith('{"id":2,"subscribe"')) sub.subscribed = true;
      }
      return;
    }
    // Protobuf: length-delimited Replies; the push field is 4 (key 0x22), the subscribe result 6 (0x32).
    for (const r of new DelimitedSplitter(1 << 20).push(m)) {
      if (r.length === 0) ws.send(Buffer.from([0])); // pong: an empty Command
      else if (r[0] === 0x22) sub.pubs++;
      else if (r[0] === 0x08 && r[1] === 2 && r[2] === 0x32) sub.subscribed = true;
    }
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      if (format === 'json') {
        const subscribe = delta ? { channel, positioned: true, delta: 'fossil' } : { channel };
        ws.send(JSON.stringify({ id: 1, connect: {} }) + '\n' + JSON.stringify({ id: 2, subscribe }));
      } else {
        ws.send(Buffer.concat([protoCommand(1, 4, new Uint8Array(0)), protoCommand(2, 5, subscribeBody(channel, delta))]));
      }
      resolve(sub);
    });
  });
}

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`chat-formats: timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function publish(port: number, channel: string, data: string, delta: boolean): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: `{"channel":${JSON.stringify(channel)},"data":${data}${delta ? ',"delta":true' : ''}}`,
  });
  const body = (await res.json()) as { error?: unknown };
  if (body.error !== undefined) throw new Error(`publish: ${JSON.stringify(body.error)}`);
}

async function runSockets(server: ServerProc, data: string[], format: DeltaFormat, delta: boolean): Promise<SocketRow> {
  const channel = `bench:${format}-${delta ? 'delta' : 'plain'}`;
  const subs: Subscriber[] = [];
  // Connect in small waves so the accept queue never overflows.
  for (let i = 0; i < SOCKET_SUBSCRIBERS; i += 100) {
    const wave = await Promise.all(Array.from({ length: Math.min(100, SOCKET_SUBSCRIBERS - i) }, () => openSubscriber(server.port, channel, format, delta)));
    subs.push(...wave);
  }
  await waitUntil(() => subs.every((x) => x.subscribed), 30_000, 'subscriptions');
  const bytes0 = subs.reduce((a, x) => a + x.bytesRead(), 0);
  const cpu0 = cpuSeconds(server.pid);
  const gapMs = 1000 / RATE;
  const t0 = Date.now();
  for (let p = 0; p < data.length; p++) {
    await publish(server.port, channel, data[p] ?? '{}', true);
    const wait = t0 + (p + 1) * gapMs - Date.now();
    if (wait > 0) await sleep(wait);
  }
  await waitUntil(() => subs.every((x) => x.pubs >= data.length), 60_000, 'deliveries');
  const cpu = cpuSeconds(server.pid) - cpu0;
  const bytes = subs.reduce((a, x) => a + x.bytesRead(), 0) - bytes0;
  const deliveries = subs.reduce((a, x) => a + x.pubs, 0);
  for (const x of subs) x.ws.terminate();
  return {
    format,
    delta,
    subscribers: subs.length,
    publications: data.length,
    deliveries,
    wireBytesPerDelivery: Math.round((bytes / deliveries) * 10) / 10,
    serverCpuUsPerDelivery: Math.round(((cpu * 1e6) / deliveries) * 100) / 100,
    serverCpuMsTotal: Math.round(cpu * 1000),
  };
}

async function socketRows(all: string[]): Promise<SocketRow[]> {
  if (SOCKET_SUBSCRIBERS === 0) return [];
  const server = await startServer('onair', { CHAT_BENCH_NAMESPACES: JSON.stringify({ bench: SOCKET_NAMESPACE }) });
  try {
    const data = all.slice(0, SOCKET_PUBLICATIONS);
    const out: SocketRow[] = [];
    for (const f of ['json', 'protobuf'] as const) for (const d of [false, true]) out.push(await runSockets(server, data, f, d));
    return out;
  } finally {
    await server.stop();
  }
}

const data = states();
// A warm-up pass so the JIT has compiled the encoders before anything is measured.
for (const f of ['json', 'protobuf'] as const) for (const d of [false, true]) run(data.slice(0, 20), f, d);
const rows: Row[] = [];
for (const f of ['json', 'protobuf'] as const) for (const d of [false, true]) rows.push(run(data, f, d));

console.log(`chat-formats: ${PUBLICATIONS} publications of ~${rows[0]?.dataBytes ?? 0} B (a tenth rewritten each), ${SUBSCRIBERS} subscribers, WebSocket frames`);
console.log('format    delta  wire B/delivery  CPU µs/publication  CPU ns/delivery');
for (const r of rows) {
  console.log(`${r.format.padEnd(9)} ${String(r.delta).padEnd(6)} ${String(r.wireBytesPerDelivery).padStart(15)} ${String(r.cpuUsPerPublication).padStart(19)} ${String(r.cpuNsPerDelivery).padStart(16)}`);
}
const sockets = await socketRows(data);
if (sockets.length > 0) {
  console.log(`\nsockets: ${SOCKET_SUBSCRIBERS} WebSocket subscribers on loopback, ${SOCKET_PUBLICATIONS} publications at ${RATE}/s, server process CPU`);
  console.log('format    delta  wire B/delivery  server CPU µs/delivery');
  for (const r of sockets) console.log(`${r.format.padEnd(9)} ${String(r.delta).padEnd(6)} ${String(r.wireBytesPerDelivery).padStart(15)} ${String(r.serverCpuUsPerDelivery).padStart(22)}`);
}
const path = writeResultJson(resultsPath('chat-formats.json', values.out), {
  scenario: 'chat-formats',
  at: new Date().toISOString(),
  loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
  node: process.version,
  subscribers: SUBSCRIBERS,
  publications: PUBLICATIONS,
  note: 'rows: server-side encoding and hand-out only; sockets: real WebSocket subscribers, socket bytes and server process CPU',
  rows,
  socketSubscribers: SOCKET_SUBSCRIBERS,
  socketPublications: SOCKET_PUBLICATIONS,
  rate: RATE,
  sockets,
});
console.log(`wrote ${path}`);
