// The node writes subscribers a time slice per event-loop turn: a long fan-out leaves the event
// loop free in between, a publication made mid-round joins the queues of the subscribers not yet
// written (one write for both) and reaches the others in the next round, each subscriber gets
// every publication once and in order, and the fan-out delay is observed once per batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ChatNode } from '../../../src/chat/node.js';
import { acceptClient } from '../../../src/chat/client.js';
import { MemoryBroker, MemoryPresenceManager, signConnectionToken } from '../../../src/chat/index.js';
import { createChatMetrics } from '../../../src/chat/metrics.js';
import { encodeItems, type OutItem, type Transport } from '../../../src/chat/transport/types.js';
import type { Disconnect } from '../../../src/chat/protocol/codes.js';

const SECRET = 'unit-secret-0123456789abcdef';
const CLIENTS = 2000;
/** Busy time per write, like a loopback socket write (~10 µs): 2000 clients take ~40 ms a round. */
const WRITE_COST_MS = 0.02;

/** RecordingTransport keeps every write's frames (as JSON lines) and costs CPU like a socket write. */
class RecordingTransport implements Transport {
  readonly kind = 'websocket' as const;
  readonly unidirectional = false;
  readonly writes: { at: number; lines: any[] }[] = [];

  writeText(messages: readonly string[]): void {
    this.writes.push({ at: performance.now(), lines: messages.map((m) => JSON.parse(m)) });
  }

  writeItems(items: readonly OutItem[], n: number): void {
    const bufs: Buffer[] = [];
    encodeItems(this.kind, items, n, bufs);
    this.record(bufs);
  }

  writeShared(bytes: Buffer): void {
    this.record([bytes]);
  }

  private record(bufs: Buffer[]): void {
    const lines: any[] = [];
    for (const b of bufs) {
      // Unmasked server frames: 2-byte header (or 4 with a 16-bit length), payload of '\n'-joined JSON.
      let off = 0;
      while (off < b.length) {
        let len = b[off + 1]! & 0x7f;
        let head = 2;
        if (len === 126) {
          len = b.readUInt16BE(off + 2);
          head = 4;
        }
        for (const l of b.subarray(off + head, off + head + len).toString().split('\n')) lines.push(JSON.parse(l));
        off += head + len;
      }
    }
    const end = performance.now() + WRITE_COST_MS;
    while (performance.now() < end);
    this.writes.push({ at: performance.now(), lines });
  }

  bufferedBytes(): number {
    return 0;
  }

  close(_d: Disconnect): void {}

  pubs(): number[] {
    return this.writes.flatMap((w) => w.lines.filter((l) => l.push?.pub).map((l) => l.push.pub.data.n));
  }

  /** writesWithPubs is how many writes carried publications. */
  writesWithPubs(): number {
    return this.writes.filter((w) => w.lines.some((l) => l.push?.pub)).length;
  }
}

test('a fan-out to many subscribers is written a slice per turn; a mid-round publication rides along or follows in order', async () => {
  const base = loadConfig({ env: {} });
  const registry = new Registry();
  const node = new ChatNode({
    config: { ...base.chat, writeBatchMs: 0 },
    logger: silentLogger(),
    broker: new MemoryBroker(),
    presence: new MemoryPresenceManager(),
    metrics: createChatMetrics(registry, { connections: () => 0, subscriptions: () => 0 }),
    tokenSecret: SECRET,
  });
  await node.start();
  try {
    const transports: RecordingTransport[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const t = new RecordingTransport();
      transports.push(t);
      const token = await signConnectionToken(SECRET, { sub: 'u' + i }, 3600);
      acceptClient(node, t).onFrame(JSON.stringify({ id: 1, connect: { token } }) + '\n' + JSON.stringify({ id: 2, subscribe: { channel: 'chat:roll' } }));
    }
    const subscribed = () => transports.every((t) => t.writes.some((w) => w.lines.some((l) => l.id === 2 && l.subscribe)));
    for (let i = 0; i < 500 && !subscribed(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(subscribed(), 'every client subscribed');

    const received = (n: number) => transports.filter((t) => t.pubs().includes(n)).length;
    // In the first turn after the publication reached the node, a slice of clients has it; a
    // timer then runs before the round is over (the event loop was not held for the whole round).
    let seenByTimer = -1;
    const timerRan = new Promise<void>((resolve) => {
      const check = () => {
        const got = received(1);
        if (got === 0) {
          setImmediate(check);
          return;
        }
        seenByTimer = got;
        // Publish the second message mid-round.
        void node.publish('chat:roll', { data: '{"n":2}' });
        resolve();
      };
      setImmediate(check);
    });
    await node.publish('chat:roll', { data: '{"n":1}' });
    await timerRan;
    assert.ok(seenByTimer > 0 && seenByTimer < CLIENTS, `a turn between slices saw ${seenByTimer} of ${CLIENTS} written`);

    for (let i = 0; i < 500 && received(2) < CLIENTS; i++) await new Promise((r) => setTimeout(r, 10));
    for (const t of transports) assert.deepEqual(t.pubs(), [1, 2], 'each publication once, in order');
    // Clients not yet written when n=2 arrived got both in one write; the rest got two writes.
    const oneWrite = transports.filter((t) => t.writesWithPubs() === 1).length;
    const twoWrites = transports.filter((t) => t.writesWithPubs() === 2).length;
    assert.equal(oneWrite + twoWrites, CLIENTS);
    assert.ok(oneWrite > 0, 'some subscribers got both publications in one write');
    assert.ok(twoWrites >= seenByTimer, 'the subscribers written before n=2 got it in a later write');

    const delay = (await registry.getSingleMetric('onair_chat_fanout_delay_seconds')!.get()).values;
    const count = delay.find((v) => v.metricName === 'onair_chat_fanout_delay_seconds_count')!.value;
    assert.equal(count, 2, 'one fan-out delay observation per batch, when its last subscriber was written');
  } finally {
    await node.stop();
  }
});
