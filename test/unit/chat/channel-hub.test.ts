// ChannelHub: a channel is subscribed at the broker while it has local subscribers; the
// publications of one turn become one batch whose bytes every subscriber of a transport kind
// shares; subscribing entries collect pushes in their buffer and go live after; offsets drop
// duplicates and a gap makes positioned subscribers resubscribe; a removed entry first gets
// what it was owed; join/leave reach only those that asked; connections with queued output
// are flushed once per listing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/observability/logger.js';
import { ChannelHub, type ChannelSink, type Flushable, type HubBroker, type SubEntry } from '../../../src/chat/channel-hub.js';
import type { SharedBatch, TransportKind } from '../../../src/chat/transport/types.js';
import type { ClientInfo } from '../../../src/chat/protocol/codec.js';
import { ChatError, UnsubscribeCode } from '../../../src/chat/protocol/codes.js';
import { at } from '../../../testkit/at.js';

/** RecordingSink keeps what the hub hands a connection: publication runs (with their bytes), other pushes, server unsubscribes. */
class RecordingSink implements ChannelSink {
  readonly runs: { data: unknown[]; bytes: Buffer; queued: boolean }[] = [];
  readonly pushes: any[] = [];
  readonly unsubscribed: { channel: string; code: number }[] = [];
  constructor(
    readonly id: string,
    readonly kind: TransportKind = 'websocket',
  ) {}

  takeRun(log: readonly SharedBatch[], from: number, to: number): void {
    this.record(log, from, to, false);
  }

  queueRun(log: readonly SharedBatch[], from: number, to: number): void {
    this.record(log, from, to, true);
  }

  private record(log: readonly SharedBatch[], from: number, to: number, queued: boolean): void {
    const data = log.slice(from, to + 1).flatMap((b) => b.pushes.map((p) => JSON.parse(p).pub.data));
    this.runs.push({ data, bytes: at(log, from).chainBytes(this.kind, log, from, to), queued });
  }

  sendPush(push: string): void {
    this.pushes.push(JSON.parse(push));
  }

  async unsubscribeChannel(channel: string, push: { code: number; reason: string } | null): Promise<void> {
    this.unsubscribed.push({ channel, code: push?.code ?? 0 });
  }

  clientInfo(): ClientInfo {
    return { user: '', client: this.id };
  }

  /** data is every publication's data in the order received. */
  data(): unknown[] {
    return this.runs.flatMap((r) => r.data);
  }
}

/** RecordingBroker records channel subscriptions; `failSubscribe` makes the next subscribe fail. */
class RecordingBroker implements HubBroker {
  readonly calls: string[] = [];
  failSubscribe = false;
  async subscribe(channel: string): Promise<void> {
    this.calls.push('sub ' + channel);
    if (this.failSubscribe) throw new Error('broker down');
  }
  async unsubscribe(channel: string): Promise<void> {
    this.calls.push('unsub ' + channel);
  }
}

function makeHub(broker = new RecordingBroker()) {
  const delays: number[] = [];
  const hub = new ChannelHub({ writeBatchMs: 0, broker, fanoutDelay: (s) => delays.push(s), logger: silentLogger() });
  return { hub, broker, delays };
}

function entry(client: ChannelSink, channel: string, o: Partial<SubEntry> = {}): SubEntry {
  return { client, channel, active: false, buffer: [], sent: 0, recoverable: false, positioned: false, joinLeave: false, presence: false, serverSide: false, expireAt: 0, expireTimer: null, ...o };
}

/** subscribe adds an entry and makes it live, as a connection does after its subscribe reply; returns what it buffered meanwhile. */
async function subscribe(hub: ChannelHub, e: SubEntry): Promise<{ push: string; offset: number }[]> {
  await hub.addSubscriber(e);
  hub.flushChannel(e.channel);
  const buf = e.buffer ?? [];
  e.buffer = null;
  hub.activateEntry(e);
  return buf;
}

/** settle lets the hub's scheduled passes run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

const pub = (n: number, offset?: number) => ({ data: JSON.stringify({ n }), ...(offset !== undefined ? { offset } : {}) });

test('the broker subscription follows the first and the last local subscriber; after stop the last leaves it alone', async () => {
  const { hub, broker } = makeHub();
  const a = entry(new RecordingSink('a'), 'chat:x');
  const b = entry(new RecordingSink('b'), 'chat:x');
  await subscribe(hub, a);
  await subscribe(hub, b);
  assert.deepEqual(broker.calls, ['sub chat:x']);
  assert.deepEqual([hub.numChannels(), hub.numSubscriptions()], [1, 2]);
  assert.deepEqual(hub.channelCounts(), { 'chat:x': 2 });
  hub.removeSubscriber(a);
  hub.removeSubscriber(a); // twice is harmless
  assert.deepEqual(broker.calls, ['sub chat:x']);
  hub.removeSubscriber(b);
  assert.deepEqual(broker.calls, ['sub chat:x', 'unsub chat:x']);
  assert.deepEqual([hub.numChannels(), hub.numSubscriptions()], [0, 0]);

  await subscribe(hub, entry(new RecordingSink('c'), 'chat:y'));
  const d = [...hub.subscriptions()][0]!;
  hub.stop();
  hub.removeSubscriber(d);
  assert.deepEqual(broker.calls, ['sub chat:x', 'unsub chat:x', 'sub chat:y'], 'no unsubscribe while stopping');
});

test('a failed broker subscribe is an internal error and leaves no channel behind', async () => {
  const { hub, broker } = makeHub();
  broker.failSubscribe = true;
  await assert.rejects(hub.addSubscriber(entry(new RecordingSink('a'), 'chat:x')), (e: unknown) => e instanceof ChatError && e.code === 100);
  assert.equal(hub.numChannels(), 0);
});

test("one turn's publications are one batch, encoded once per transport kind and shared by every subscriber", async () => {
  const { hub, delays } = makeHub();
  const ws = [new RecordingSink('w1'), new RecordingSink('w2'), new RecordingSink('w3')];
  const sse = [new RecordingSink('s1', 'uni_sse'), new RecordingSink('s2', 'uni_sse')];
  for (const s of [...ws, ...sse]) await subscribe(hub, entry(s, 'chat:x'));
  hub.publish('chat:x', pub(1), '');
  hub.publish('chat:x', pub(2), '');
  hub.publish('chat:other', pub(9), ''); // no local subscribers: ignored
  await settle();
  for (const s of [...ws, ...sse]) {
    assert.equal(s.runs.length, 1, s.id + ': one write');
    assert.deepEqual(s.data(), [{ n: 1 }, { n: 2 }]);
  }
  assert.ok(ws.every((s) => at(s.runs, 0).bytes === at(ws, 0).runs[0]!.bytes), 'same Buffer for every WebSocket');
  assert.ok(sse.every((s) => at(s.runs, 0).bytes === at(sse, 0).runs[0]!.bytes), 'same Buffer for every SSE stream');
  assert.notEqual(at(ws, 0).runs[0]!.bytes, at(sse, 0).runs[0]!.bytes, 'each kind its own framing');
  assert.equal(delays.length, 1, 'one fan-out delay observation per batch');

  hub.publish('chat:x', pub(3), '');
  await settle();
  for (const s of ws) assert.deepEqual(s.data(), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.equal(delays.length, 2);
});

test('a subscribing entry buffers pushes (with offsets) and, once live, gets only later batches', async () => {
  const { hub } = makeHub();
  const live = new RecordingSink('live');
  await subscribe(hub, entry(live, 'chat:x'));
  const late = new RecordingSink('late');
  const e = entry(late, 'chat:x');
  await hub.addSubscriber(e);
  hub.publish('chat:x', pub(1, 1), 'ep');
  hub.flushChannel('chat:x');
  assert.deepEqual(e.buffer!.map((b) => [JSON.parse(b.push).pub.data, b.offset]), [[{ n: 1 }, 1]]);
  e.buffer = null;
  hub.activateEntry(e);
  hub.publish('chat:x', pub(2, 2), 'ep');
  await settle();
  assert.deepEqual(live.data(), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(late.data(), [{ n: 2 }], 'the buffered one is not written again');
});

test('offsets: a duplicate is dropped; a gap or a new epoch makes positioned subscribers resubscribe', async () => {
  const { hub } = makeHub();
  const positioned = new RecordingSink('p');
  const plain = new RecordingSink('q');
  await subscribe(hub, entry(positioned, 'chat:x', { positioned: true }));
  await subscribe(hub, entry(plain, 'chat:x'));
  hub.publish('chat:x', pub(1, 1), 'ep');
  hub.publish('chat:x', pub(1, 1), 'ep'); // duplicate
  hub.publish('chat:x', pub(2, 2), 'ep');
  await settle();
  assert.deepEqual(plain.data(), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(positioned.unsubscribed, []);
  hub.publish('chat:x', pub(4, 4), 'ep'); // 3 is missing
  assert.deepEqual(positioned.unsubscribed, [{ channel: 'chat:x', code: UnsubscribeCode.insufficientState }]);
  assert.deepEqual(plain.unsubscribed, []);
  hub.publish('chat:x', pub(5, 5), 'other epoch');
  assert.equal(positioned.unsubscribed.length, 2);
  hub.resync();
  assert.equal(positioned.unsubscribed.length, 3, 'resync: positioned subscribers recover');
  assert.equal(plain.unsubscribed.length, 0);
});

test('a removed subscription first gets, queued, the batches it was owed', async () => {
  const { hub } = makeHub();
  const a = new RecordingSink('a');
  const ea = entry(a, 'chat:x');
  await subscribe(hub, ea);
  await subscribe(hub, entry(new RecordingSink('b'), 'chat:x'));
  hub.publish('chat:x', pub(1), '');
  hub.removeSubscriber(ea); // before the pass that would write it
  assert.deepEqual(a.runs.map((r) => [r.data, r.queued]), [[[{ n: 1 }], true]]);
  await settle();
  assert.equal(a.runs.length, 1, 'not written twice');
});

test('join and leave go to the subscriptions that asked for them; a subscribing one buffers them', async () => {
  const { hub } = makeHub();
  const asked = new RecordingSink('asked');
  const notAsked = new RecordingSink('not');
  await subscribe(hub, entry(asked, 'chat:x', { joinLeave: true }));
  await subscribe(hub, entry(notAsked, 'chat:x'));
  const pending = entry(new RecordingSink('pending'), 'chat:x', { joinLeave: true });
  await hub.addSubscriber(pending);
  hub.joinLeave('chat:x', 'join', { user: 'u', client: 'c' });
  hub.joinLeave('chat:x', 'leave', { user: 'u', client: 'c' });
  assert.deepEqual(asked.pushes, [
    { channel: 'chat:x', join: { info: { user: 'u', client: 'c' } } },
    { channel: 'chat:x', leave: { info: { user: 'u', client: 'c' } } },
  ]);
  assert.deepEqual(notAsked.pushes, []);
  assert.equal(pending.buffer!.length, 2);
});

test('a connection with queued output is flushed once per listing, in a later turn; flushNow writes at once', async () => {
  const { hub } = makeHub();
  let flushes = 0;
  const conn: Flushable = { flushListed: false, flush: () => { flushes++; } };
  hub.markDirty(conn);
  hub.markDirty(conn);
  assert.equal(flushes, 0, 'not in the same turn');
  assert.equal(conn.flushListed, true);
  await settle();
  assert.equal(flushes, 1);
  assert.equal(conn.flushListed, false);
  hub.markDirty(conn);
  hub.flushNow();
  assert.equal(flushes, 2);
});
