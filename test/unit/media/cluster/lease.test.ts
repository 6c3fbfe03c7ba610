// ChannelLease against a real redis-server: acquire, renew, release, expiry, and fencing (a
// stale holder can neither renew nor release the lease another node took after it expired).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../../../../testkit/redis.js';
import { ChannelLease, compareTokens, parseHolder } from '../../../../src/media/cluster/lease.js';

const TTL_MS = 300;
let server: RedisServer;
let redis: Redis;
const leaseFor = (nodeId: string, ttlMs = TTL_MS) => new ChannelLease({ redis: () => redis, nodeId, ttlMs, prefix: 'test' });

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});

after(async () => {
  redis.disconnect();
  await server.stop();
});

test('the first node takes a free lease; the second sees who holds it', async () => {
  const a = leaseFor('node-a');
  const b = leaseFor('node-b');
  const ra = await a.acquire('cam1');
  assert.equal(ra.acquired, true);
  const rb = await b.acquire('cam1');
  assert.equal(rb.acquired, false);
  assert.deepEqual(!rb.acquired && rb.holder, { node: 'node-a', token: ra.acquired ? ra.token : '' });
  assert.deepEqual(await b.holder('cam1'), { node: 'node-a', token: ra.acquired ? ra.token : '' });
  assert.ok((await redis.pttl('test:cluster:lease:cam1')) <= TTL_MS);
});

test('two nodes racing for a free lease: exactly one wins', async () => {
  const nodes = ['n1', 'n2', 'n3', 'n4'].map((n) => leaseFor(n));
  const results = await Promise.all(nodes.map((l) => l.acquire('race')));
  assert.equal(results.filter((r) => r.acquired).length, 1);
});

test('renewing keeps the lease past its lifetime; without renewal it expires and another node takes it with a larger token', async () => {
  const a = leaseFor('node-a');
  const b = leaseFor('node-b');
  const ra = await a.acquire('cam2');
  assert.ok(ra.acquired);
  for (let i = 0; i < 4; i++) {
    await sleep(TTL_MS / 3);
    assert.equal(await a.renew('cam2', ra.token), true);
  }
  assert.equal((await b.acquire('cam2')).acquired, false, 'renewed: still held');
  await sleep(TTL_MS + 100);
  assert.equal(await a.holder('cam2'), null, 'expired');
  const rb = await b.acquire('cam2');
  assert.ok(rb.acquired);
  assert.ok(compareTokens(rb.token, ra.token) > 0, 'the fencing token grew');
});

test('a stale holder can neither renew nor release the lease another node took', async () => {
  const a = leaseFor('node-a');
  const b = leaseFor('node-b');
  const ra = await a.acquire('cam3');
  assert.ok(ra.acquired);
  await sleep(TTL_MS + 100);
  const rb = await b.acquire('cam3');
  assert.ok(rb.acquired);
  assert.equal(await a.renew('cam3', ra.token), false);
  assert.equal(await a.release('cam3', ra.token), false);
  assert.deepEqual(await a.holder('cam3'), { node: 'node-b', token: rb.token });
  // Node b's own token from another node's id does not work either: the value is token and node.
  assert.equal(await a.release('cam3', rb.token), false);
  assert.equal(await b.release('cam3', rb.token), true);
  assert.equal(await b.holder('cam3'), null);
  assert.equal(await b.release('cam3', rb.token), false, 'released once');
});

test('the fencing token only grows, even when Redis lost its data', async () => {
  const a = leaseFor('node-a');
  const first = await a.acquire('cam4');
  assert.ok(first.acquired);
  assert.ok(await a.release('cam4', first.token));
  const second = await a.acquire('cam4');
  assert.ok(second.acquired && compareTokens(second.token, first.token) > 0);
  await redis.flushall();
  const third = await a.acquire('cam4');
  assert.ok(third.acquired && compareTokens(third.token, second.token) > 0, `${third.acquired ? third.token : ''} > ${second.token}`);
});

test('lease values that are not "{token}:{node}" read as no holder', () => {
  assert.equal(parseHolder(null), null);
  assert.equal(parseHolder('garbage'), null);
  assert.equal(parseHolder(':node'), null);
  assert.equal(parseHolder('12:'), null);
  assert.equal(parseHolder('x1:node'), null);
  assert.deepEqual(parseHolder('17:node:with:colons'), { token: '17', node: 'node:with:colons' });
  assert.ok(compareTokens('9007199254740993', '9007199254740992') > 0, 'compared as big integers');
});
