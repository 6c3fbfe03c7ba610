// The bounded structures behind chat abuse resistance (issue 19 #5, #17): LruMap, the channel
// existence cache, the per-publisher token bucket and the token revocation table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LruMap } from '../../../src/chat/lru.js';
import { ChannelDirectory, onairChannelOf } from '../../../src/chat/channel-directory.js';
import { PublishRateLimiter, publisherKey } from '../../../src/chat/publish-rate.js';
import { TokenRevocations } from '../../../src/chat/revocations.js';
import { Namespaces, requiresChannel } from '../../../src/chat/namespaces.js';
import { namespaceSchema } from '../../../src/config/schema.js';

test('LruMap: bounded, forgets the least recently used first', () => {
  const m = new LruMap<string, number>(3);
  m.set('a', 1).set('b', 2).set('c', 3);
  assert.equal(m.get('a'), 1); // a is now the youngest
  m.set('d', 4);
  assert.deepEqual([...m.keys()], ['c', 'a', 'd']);
  for (let i = 0; i < 1000; i++) m.set('k' + i, i);
  assert.equal(m.size, 3);
  assert.throws(() => new LruMap(0), /positive integer/);
});

test('ChannelDirectory: one lookup per name within the TTL, both answers cached, invalidate drops one, bounded', async () => {
  let now = 0;
  const asked: string[] = [];
  const existing = new Set(['demo']);
  const dir = new ChannelDirectory(async (name) => { asked.push(name); return existing.has(name); }, { maxEntries: 100, ttlMs: 1000, now: () => now });
  assert.deepEqual(await Promise.all([dir.exists('demo'), dir.exists('demo'), dir.exists('zz')]), [true, true, false]);
  assert.deepEqual(asked, ['demo', 'zz'], 'concurrent callers share one lookup');
  await dir.exists('demo');
  await dir.exists('zz');
  assert.equal(asked.length, 2, 'positive and negative answers are cached');
  existing.add('zz');
  dir.invalidate('zz');
  assert.equal(await dir.exists('zz'), true, 'a create on this node is seen at once');
  existing.delete('demo');
  now += 1000;
  assert.equal(await dir.exists('demo'), false, 'other nodes\' changes are seen after the TTL');
  for (let i = 0; i < 1000; i++) await dir.exists('made-up-' + i);
  assert.ok(dir.size <= 100);
});

test('onairChannelOf: the onair channel of a chat channel name', () => {
  assert.equal(onairChannelOf('chat:demo', 'chat'), 'demo');
  assert.equal(onairChannelOf('$chat:demo', 'chat'), 'demo');
  assert.equal(onairChannelOf('chat:demo#u1,u2', 'chat'), 'demo');
  assert.equal(onairChannelOf('effects:a:b', 'effects'), 'a:b');
});

test('requireChannel: on by default for chat, effects, captions; the option wins', () => {
  const ns = (o: object) => namespaceSchema.parse(o);
  assert.equal(requiresChannel('chat', ns({})), true);
  assert.equal(requiresChannel('effects', ns({})), true);
  assert.equal(requiresChannel('captions', ns({})), true);
  assert.equal(requiresChannel('events', ns({})), false);
  assert.equal(requiresChannel('chat', ns({ requireChannel: false })), false);
  assert.equal(requiresChannel('rooms', ns({ requireChannel: true })), true);
  // Parsed names are cached in a bounded map: a flood of names does not grow it.
  const n = new Namespaces({ chat: ns({}) });
  for (let i = 0; i < 20_000; i++) n.resolve('chat:x' + i);
  assert.equal(n.resolve('chat:x1')?.namespace, 'chat');
});

test('PublishRateLimiter: burst, then the refill rate, per publisher, bounded', () => {
  let now = 0;
  const r = new PublishRateLimiter({ perSecond: 2, burst: 3, maxTracked: 100, now: () => now });
  const a = publisherKey('alice', 'c1');
  assert.deepEqual([r.take(a), r.take(a), r.take(a), r.take(a)], [true, true, true, false]);
  assert.equal(r.take(publisherKey('', 'c2')), true, 'another publisher has its own bucket');
  now += 500;
  assert.deepEqual([r.take(a), r.take(a)], [true, false], 'one token per 500 ms at 2/s');
  assert.notEqual(publisherKey('u', 'c'), publisherKey('', 'u'), 'users and anonymous clients never share a bucket');
  for (let i = 0; i < 1000; i++) r.take('c:' + i);
  assert.equal(r.size, 100);
});

test('TokenRevocations: tokens issued before the time are revoked, later ones and other users not; entries expire', () => {
  let now = 1_000_000;
  const rev = new TokenRevocations(60, 100, () => now);
  rev.revoke('u1', 500);
  assert.equal(rev.isRevoked('u1', 499), true);
  assert.equal(rev.isRevoked('u1', 0), true, 'a token without iat is revoked');
  assert.equal(rev.isRevoked('u1', 500), false);
  assert.equal(rev.isRevoked('u2', 1), false);
  assert.equal(rev.isRevoked('', 1), false);
  rev.revoke('u1', 400);
  assert.equal(rev.isRevoked('u1', 450), true, 'an earlier revocation never shortens a later one');
  now += 60_000;
  assert.equal(rev.isRevoked('u1', 1), false, 'forgotten after keepSeconds');
  for (let i = 0; i < 1000; i++) rev.revoke('x' + i, 1);
  assert.equal(rev.size, 100);
});
