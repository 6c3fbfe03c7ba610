// One contract suite for every Broker/PresenceManager implementation: memory and Redis
// (a real redis-server on a random port, started here).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Broker, BrokerEventHandler, ControlMessage, PresenceManager } from '../../src/chat/broker/types.js';
import { MemoryBroker, MemoryPresenceManager } from '../../src/chat/broker/memory.js';
import { RedisBroker, RedisPresenceManager } from '../../src/chat/broker/redis.js';
import type { ClientInfo, Publication } from '../../src/chat/protocol/codec.js';
import { startRedis, waitFor, sleep } from '../../testkit/chat-server.js';

interface Recorder extends BrokerEventHandler {
  pubs: { channel: string; pub: Publication; epoch: string }[];
  joins: { channel: string; info: ClientInfo }[];
  leaves: { channel: string; info: ClientInfo }[];
  controls: ControlMessage[];
}

function recorder(): Recorder {
  const r: Recorder = {
    pubs: [],
    joins: [],
    leaves: [],
    controls: [],
    onPublication: (channel, pub, epoch) => r.pubs.push({ channel, pub, epoch }),
    onJoin: (channel, info) => r.joins.push({ channel, info }),
    onLeave: (channel, info) => r.leaves.push({ channel, info }),
    onControl: (m) => r.controls.push(m),
  };
  return r;
}

const H = { size: 3, ttlSeconds: 60, metaTtlSeconds: 3600 };
const META = 3600;
const data = (n: number): Publication => ({ data: JSON.stringify({ n }) });
const ns = (pubs: Publication[]) => pubs.map((p) => (JSON.parse(p.data) as { n: number }).n);

function contract(name: string, make: () => Promise<{ broker: Broker; presence: PresenceManager; cleanup(): Promise<void> }>): void {
  describe(`broker contract: ${name}`, () => {
    let broker: Broker;
    let presence: PresenceManager;
    let cleanup: () => Promise<void>;
    let rec: Recorder;
    let seq = 0;
    const chan = () => `chat:c${++seq}-${name}`;

    before(async () => {
      ({ broker, presence, cleanup } = await make());
      rec = recorder();
      await broker.start(rec);
    });
    after(async () => {
      await broker.close();
      await presence.close();
      await cleanup();
    });

    test('offsets start at 1 and grow by one; subscribers get publications in order with offset and epoch', async () => {
      const ch = chan();
      await broker.subscribe(ch);
      const positions: { offset: number; epoch: string }[] = [];
      for (let n = 1; n <= 5; n++) positions.push(await broker.publish(ch, data(n), H));
      assert.deepEqual(positions.map((p) => p.offset), [1, 2, 3, 4, 5]);
      assert.equal(new Set(positions.map((p) => p.epoch)).size, 1);
      await waitFor(() => rec.pubs.filter((p) => p.channel === ch).length === 5, 3000, 'deliveries');
      const got = rec.pubs.filter((p) => p.channel === ch);
      assert.deepEqual(got.map((p) => p.pub.offset), [1, 2, 3, 4, 5]);
      assert.deepEqual(ns(got.map((p) => p.pub)), [1, 2, 3, 4, 5]);
      assert.ok(got.every((p) => p.epoch === positions[0]!.epoch));
    });

    test('history keeps the last `size` publications and supports since, reverse and limit', async () => {
      const ch = chan();
      let epoch = '';
      for (let n = 1; n <= 5; n++) epoch = (await broker.publish(ch, data(n), H)).epoch;
      const all = await broker.history(ch, { limit: -1, metaTtlSeconds: META });
      assert.deepEqual(ns(all.publications), [3, 4, 5]);
      assert.deepEqual(all.publications.map((p) => p.offset), [3, 4, 5]);
      assert.deepEqual(all.position, { offset: 5, epoch });
      assert.deepEqual(ns((await broker.history(ch, { limit: 2, metaTtlSeconds: META })).publications), [3, 4]);
      assert.deepEqual(ns((await broker.history(ch, { since: { offset: 3, epoch }, limit: -1, metaTtlSeconds: META })).publications), [4, 5]);
      assert.deepEqual(ns((await broker.history(ch, { since: { offset: 3, epoch: '' }, limit: -1, metaTtlSeconds: META })).publications), [4, 5]);
      assert.deepEqual((await broker.history(ch, { since: { offset: 3, epoch: 'other' }, limit: -1, metaTtlSeconds: META })).publications, []);
      assert.deepEqual(ns((await broker.history(ch, { reverse: true, limit: -1, metaTtlSeconds: META })).publications), [5, 4, 3]);
      assert.deepEqual(ns((await broker.history(ch, { reverse: true, since: { offset: 5, epoch }, limit: 1, metaTtlSeconds: META })).publications), [4]);
      const pos = await broker.history(ch, { limit: 0, metaTtlSeconds: META });
      assert.deepEqual(pos, { publications: [], position: { offset: 5, epoch } });
    });

    test('publications keep info, tags and the delta wish through history and delivery', async () => {
      const ch = chan();
      await broker.subscribe(ch);
      const pub: Publication = { data: '{"t":"hi"}', info: { user: 'u', client: 'c', connInfo: '{"name":"U"}', chanInfo: '{"r":1}' }, tags: { k: 'v' }, deltaWanted: true };
      await broker.publish(ch, pub, H);
      const h = await broker.history(ch, { limit: -1, metaTtlSeconds: META });
      assert.deepEqual(h.publications[0], { ...pub, offset: 1 });
      await waitFor(() => rec.pubs.some((p) => p.channel === ch), 3000, 'delivery');
      assert.deepEqual(rec.pubs.find((p) => p.channel === ch)!.pub, { ...pub, offset: 1 });
    });

    test('reading an empty stream fixes its epoch; the first publication continues it', async () => {
      const ch = chan();
      const first = await broker.history(ch, { limit: 0, metaTtlSeconds: META });
      assert.equal(first.position.offset, 0);
      assert.ok(first.position.epoch.length > 0);
      const p = await broker.publish(ch, data(1), H);
      assert.deepEqual(p, { offset: 1, epoch: first.position.epoch });
    });

    test('removeHistory is idempotent and keeps epoch and offset', async () => {
      const ch = chan();
      await broker.publish(ch, data(1), H);
      const { epoch } = await broker.publish(ch, data(2), H);
      await broker.removeHistory(ch);
      await broker.removeHistory(ch);
      await broker.removeHistory('chat:never-' + name);
      const h = await broker.history(ch, { limit: -1, metaTtlSeconds: META });
      assert.deepEqual(h, { publications: [], position: { offset: 2, epoch } });
      assert.deepEqual(await broker.publish(ch, data(3), H), { offset: 3, epoch });
    });

    test('history TTL drops publications but keeps the position; meta TTL starts a new epoch', async () => {
      const ch = chan();
      const { epoch } = await broker.publish(ch, data(1), { size: 10, ttlSeconds: 1, metaTtlSeconds: 2 });
      await sleep(1300);
      const h = await broker.history(ch, { limit: -1, metaTtlSeconds: 0 });
      assert.deepEqual(h.publications, []);
      assert.deepEqual(h.position, { offset: 1, epoch });
      await sleep(1200);
      const p = await broker.publish(ch, data(2), { size: 10, ttlSeconds: 1, metaTtlSeconds: 2 });
      assert.equal(p.offset, 1);
      assert.notEqual(p.epoch, epoch);
    });

    test('without history there are no offsets; unsubscribed channels are not delivered', async () => {
      const ch = chan();
      await broker.subscribe(ch);
      assert.deepEqual(await broker.publish(ch, data(1), { size: 0, ttlSeconds: 0, metaTtlSeconds: META }), { offset: 0, epoch: '' });
      await waitFor(() => rec.pubs.some((p) => p.channel === ch), 3000, 'delivery');
      assert.equal(rec.pubs.find((p) => p.channel === ch)!.pub.offset, undefined);
      await broker.unsubscribe(ch);
      await broker.publish(ch, data(2), H);
      const other = chan();
      await broker.publish(other, data(3), H);
      await sleep(150);
      assert.equal(rec.pubs.filter((p) => p.channel === ch).length, 1);
      assert.equal(rec.pubs.filter((p) => p.channel === other).length, 0);
    });

    test('join, leave and control messages are delivered', async () => {
      const ch = chan();
      await broker.subscribe(ch);
      const info: ClientInfo = { user: 'u1', client: 'c1', connInfo: '{"name":"x"}' };
      await broker.publishJoin(ch, info);
      await broker.publishLeave(ch, info);
      await broker.publishControl({ type: 'disconnect', user: 'u1', code: 3503, reason: 'bye' });
      await waitFor(() => rec.joins.some((j) => j.channel === ch) && rec.leaves.some((l) => l.channel === ch) && rec.controls.length > 0, 3000, 'messages');
      assert.deepEqual(rec.joins.find((j) => j.channel === ch)!.info, info);
      assert.deepEqual(rec.leaves.find((j) => j.channel === ch)!.info, info);
      assert.deepEqual(rec.controls.find((c) => c.type === 'disconnect'), { type: 'disconnect', user: 'u1', code: 3503, reason: 'bye' });
    });

    test('presence: add replaces, stats count distinct users, removal is idempotent, entries expire', async () => {
      const ch = chan();
      await presence.addPresence(ch, 'c1', { user: 'u1', client: 'c1' }, 60);
      await presence.addPresence(ch, 'c2', { user: 'u1', client: 'c2' }, 60);
      await presence.addPresence(ch, 'c3', { user: 'u2', client: 'c3', connInfo: '{"a":1}' }, 60);
      await presence.addPresence(ch, 'c3', { user: 'u2', client: 'c3', connInfo: '{"a":2}' }, 60);
      const p = await presence.presence(ch);
      assert.deepEqual(Object.keys(p).sort(), ['c1', 'c2', 'c3']);
      assert.equal(p.c3!.connInfo, '{"a":2}');
      assert.deepEqual(await presence.presenceStats(ch), { numClients: 3, numUsers: 2 });
      await presence.removePresence(ch, 'c1');
      await presence.removePresence(ch, 'c1');
      await presence.removePresence('chat:none', 'c1');
      assert.deepEqual(await presence.presenceStats(ch), { numClients: 2, numUsers: 2 });
      await presence.addPresence(ch, 'c4', { user: 'u4', client: 'c4' }, 1);
      assert.equal(Object.keys(await presence.presence(ch)).length, 3);
      await sleep(1100);
      assert.deepEqual(Object.keys(await presence.presence(ch)).sort(), ['c2', 'c3']);
    });
  });
}

contract('memory', async () => ({ broker: new MemoryBroker(), presence: new MemoryPresenceManager(), cleanup: async () => undefined }));

contract('redis', async () => {
  const redis = await startRedis();
  return {
    broker: new RedisBroker({ url: redis.url, prefix: 'test' }),
    presence: new RedisPresenceManager({ url: redis.url, prefix: 'test' }),
    cleanup: () => redis.stop(),
  };
});
