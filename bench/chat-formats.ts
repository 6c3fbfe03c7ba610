/**
 * Bytes on the wire and server encoding CPU per delivery: the Centrifugo JSON and protobuf
 * protocols, each with and without Fossil delta subscriptions, side by side in one run.
 *
 * Method: a 1 KiB state (20 rows, some Korean) of which a tenth (2 rows) is rewritten per
 * publication. Each publication goes through the server's own fan-out encoding, as the channel
 * hub and a WebSocket connection do it: the push built once, a shared batch per publication
 * (delta forms built once per publication when delta is on), and every subscriber handed the
 * batch's (or its delta variant's) WebSocket frame bytes for its transport kind — encoded on
 * first use, then shared. Measured: frame bytes per delivery, and process CPU per publication
 * and per delivery for all of that. Not measured: the socket write per delivery, which is the
 * same count for all four and whose cost grows with the bytes (see chat-fanout for writes).
 *
 * Usage: node --import tsx bench/chat-formats.ts [--subscribers 1000] [--publications 200] [--out DIR]
 * Writes chat-formats.json in the results directory (--out DIR, $BENCH_RESULTS_DIR, bench/results).
 */
import { parseArgs } from 'node:util';
import { encodePublication, encodePush, type Publication } from '../src/chat/protocol/codec.js';
import { SharedBatch, type TransportKind } from '../src/chat/transport/types.js';
import { buildDeltaForms, type DeltaFormat } from '../src/chat/delta.js';
import { seededRandom } from '../testkit/prng.js';
import { resultsPath, writeResultJson } from './lib/results.js';

const { values } = parseArgs({ options: { subscribers: { type: 'string', default: '1000' }, publications: { type: 'string', default: '200' }, out: { type: 'string' } } });
const SUBSCRIBERS = Number(values.subscribers);
const PUBLICATIONS = Number(values.publications);
if (!(SUBSCRIBERS > 0) || !(PUBLICATIONS > 1)) throw new Error('--subscribers must be > 0 and --publications > 1');

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
const path = writeResultJson(resultsPath('chat-formats.json', values.out), {
  scenario: 'chat-formats',
  subscribers: SUBSCRIBERS,
  publications: PUBLICATIONS,
  note: 'server-side encoding and hand-out only; socket writes not included',
  rows,
});
console.log(`wrote ${path}`);
