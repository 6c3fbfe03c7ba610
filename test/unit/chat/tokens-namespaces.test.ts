import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signConnectionToken, signSubscriptionToken, verifyConnectionToken, verifySubscriptionToken } from '../../../src/chat/tokens.js';
import { ChatError, DisconnectError } from '../../../src/chat/protocol/codes.js';
import { Namespaces } from '../../../src/chat/namespaces.js';
import { loadConfig } from '../../../src/config/index.js';

const SECRET = 'unit-secret-0123456789abcdef';

test('connection token claims: sub, info, b64info, channels, subs, expire_at', async () => {
  const now = Math.floor(Date.now() / 1000);
  const v = await verifyConnectionToken(SECRET, await signConnectionToken(SECRET, { sub: 'u', info: { name: 'U', roles: { 'chat:a': ['owner'] } }, channels: ['events:a'], subs: { 'chat:b': {} } }, 60));
  assert.equal(v.user, 'u');
  assert.equal(v.info, '{"name":"U","roles":{"chat:a":["owner"]}}');
  assert.deepEqual(v.infoValue, { name: 'U', roles: { 'chat:a': ['owner'] } });
  assert.deepEqual(v.channels, ['events:a', 'chat:b']);
  assert.ok(v.expireAt >= now + 59 && v.expireAt <= now + 61);
  const b = await verifyConnectionToken(SECRET, await signConnectionToken(SECRET, { sub: 'w', b64info: Buffer.from('{"x":1}').toString('base64'), expire_at: 0 }));
  assert.equal(b.info, '{"x":1}');
  assert.equal(b.expireAt, 0);
  const anon = await verifyConnectionToken(SECRET, await signConnectionToken(SECRET, { sub: '' }));
  assert.equal(anon.user, '');
});

test('expired tokens → 109; bad signature or garbage → invalid token disconnect', async () => {
  const expired = await signConnectionToken(SECRET, { sub: 'u', exp: Math.floor(Date.now() / 1000) - 1 });
  await assert.rejects(verifyConnectionToken(SECRET, expired), (e) => e instanceof ChatError && e.code === 109);
  const foreign = await signConnectionToken('other-secret-0123456789abc', { sub: 'u' }, 60);
  await assert.rejects(verifyConnectionToken(SECRET, foreign), (e) => e instanceof DisconnectError && e.disconnect.code === 3500);
  await assert.rejects(verifyConnectionToken(SECRET, 'not.a.jwt'), (e) => e instanceof DisconnectError);
  // A forged expired token is invalid, not expired.
  const forgedExpired = await signConnectionToken('other-secret-0123456789abc', { sub: 'u', exp: 1 });
  await assert.rejects(verifyConnectionToken(SECRET, forgedExpired), (e) => e instanceof DisconnectError);
});

test('subscription tokens must match user and channel', async () => {
  const t = await signSubscriptionToken(SECRET, { sub: 'u', channel: '$chat:x', info: { vip: true } }, 60);
  const v = await verifySubscriptionToken(SECRET, t, 'u', '$chat:x');
  assert.equal(v.info, '{"vip":true}');
  await assert.rejects(verifySubscriptionToken(SECRET, t, 'other', '$chat:x'), (e) => e instanceof ChatError && e.code === 103);
  await assert.rejects(verifySubscriptionToken(SECRET, t, 'u', '$chat:y'), (e) => e instanceof ChatError && e.code === 103);
  const exp = await signSubscriptionToken(SECRET, { sub: 'u', channel: '$chat:x', exp: Math.floor(Date.now() / 1000) - 5 });
  await assert.rejects(verifySubscriptionToken(SECRET, exp, 'u', '$chat:x'), (e) => e instanceof ChatError && e.code === 109);
});

test('namespaces: defaults, private prefix, user-limited channels, unknown namespaces', () => {
  const ns = new Namespaces(loadConfig({ env: {} }).chat.namespaces);
  const chat = ns.resolve('chat:demo')!;
  assert.equal(chat.namespace, 'chat');
  assert.equal(chat.options.historySize, 100);
  assert.equal(chat.options.historyTtlSeconds, 300);
  assert.equal(chat.options.presence, true);
  assert.equal(chat.private, false);
  assert.equal(ns.resolve('events:demo')!.options.allowPublishForClient, false);
  assert.equal(ns.resolve('captions:demo')!.options.allowPublishForClient, false);
  assert.equal(ns.resolve('effects:demo')!.options.allowPublishForClient, true);
  const priv = ns.resolve('$chat:secret')!;
  assert.equal(priv.private, true);
  assert.equal(priv.namespace, 'chat');
  assert.deepEqual(ns.resolve('chat:dialog#42,43')!.users, ['42', '43']);
  assert.equal(ns.resolve('nope:x'), null);
  assert.equal(ns.resolve('plain'), null, 'no default namespace configured');
  assert.equal(ns.resolve(''), null);
  assert.equal(ns.resolve('chat:' + 'x'.repeat(300)), null);
});
