import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { createSupporters, sessionId } from '../../../../src/chat/supporters/index.js';
import { effectsInText, MAX_EMOJI_PER_MESSAGE } from '../../../../src/chat/supporters/effects.js';
import type { PublishHook, RpcHandler } from '../../../../src/chat/hooks.js';
import { loadConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { at } from '../../../../testkit/at.js';

test('chat attachment: RPCs, forged super chats refused, raw effects publications counted', async (t) => {
  const h = await engines()[0]!.open();
  t.after(() => h.dispose());
  const platform = createPlatform(h.db, TEST_STREAM_KEY_SECRET);
  await platform.channels.create({ name: 'stage' });
  const config = loadConfig({ env: {}, overrides: { 'supporters.effects.burst': 3, 'supporters.effects.ratePerSecond': 1 } });
  const s = createSupporters({ config, platform, logger: silentLogger(), registry: new Registry() });
  const hooks: PublishHook[] = [];
  const rpcs = new Map<string, RpcHandler>();
  const published: { channel: string; data: any }[] = [];
  s.attachChat({ publisher: { publish: async (channel, data) => { published.push({ channel, data }); return {}; } }, addPublishHook: (x) => hooks.push(x), registerRpc: (m, f) => rpcs.set(m, f) });
  t.after(() => s.stop());
  assert.deepEqual([...rpcs.keys()].sort(), ['effects.react', 'superchat.pinned', 'superchat.send']);
  const hook = at(hooks, 0);
  const pub = (channel: string, data: unknown, user = 'u1') => hook.onPublish({ channel, clientId: 'c1', user, info: undefined, data });

  const forged = await pub('chat:stage', { type: 'superchat', amount: 1_000_000, message: 'free money' });
  assert.equal(forged.action, 'reject');
  assert.equal((await pub('chat:stage', { type: 'superchat.refunded', id: 'x' })).action, 'reject');
  assert.deepEqual(await pub('chat:stage', { text: '안녕하세요' }), { action: 'allow' });
  assert.deepEqual(await pub('captions:stage', { text: 'x' }), { action: 'allow' });

  assert.deepEqual(await pub('effects:stage', { effect: '🎉', count: 2 }), { action: 'handled', reply: { accepted: 2 } });
  const rpc = (m: string, data: unknown, user = 'u1'): Promise<any> => rpcs.get(m)!({ clientId: 'c1', user, info: undefined, data }).catch((e) => e);
  assert.deepEqual(await rpc('effects.react', { channel: 'stage', effect: 'rocket' }), { accepted: 1 });
  const limited = await rpc('effects.react', { channel: 'stage', effect: 'rocket' });
  assert.equal(limited.code, 111, 'burst of 3 used up');
  assert.equal((await pub('effects:stage', { effect: 'party' })).action, 'reject');
  assert.equal((await rpc('effects.react', { channel: 'stage', effect: 'nuke' }, 'u2')).code, 400);
  assert.equal((await rpc('effects.react', { channel: 'nowhere', effect: 'party' }, 'u2')).code, 404);
  assert.equal((await rpc('effects.react', { channel: 'stage', effect: 'party', count: 99 }, 'u2')).code, 400);
  assert.equal((await rpc('effects.react', 'party', 'u2')).code, 400);
  assert.deepEqual(await rpc('effects.react', { channel: 'stage', effect: 'party' }, ''), { accepted: 1 }, 'anonymous viewers react, keyed by connection');
  await s.effects.flush();
  const eff = published.filter((p) => p.channel === 'effects:stage');
  assert.equal(eff.length, 1);
  assert.deepEqual(at(eff, 0).data.counts, { party: 3, rocket: 1 });

  assert.equal((await rpc('superchat.send', { channel: 'stage', amount: 1000, idempotencyKey: 'k' }, '')).code, 401);
  assert.equal((await rpc('superchat.send', { channel: 'stage', amount: 1000, idempotencyKey: 'k' }, 'ghost')).code, 401, 'a token without an account');
  assert.equal((await rpc('superchat.send', { channel: 'stage', amount: 1000 }, 'u1')).code, 400);
  assert.deepEqual(await rpc('superchat.pinned', { channel: 'stage' }).then((r: any) => r.pinned), []);
  assert.equal((await rpc('superchat.pinned', { channel: 'none' })).code, 404);
});

test('effect emoji in chat messages fire effects through the same buckets; the message always passes', async (t) => {
  const h = await engines()[0]!.open();
  t.after(() => h.dispose());
  const platform = createPlatform(h.db, TEST_STREAM_KEY_SECRET);
  await platform.channels.create({ name: 'stage' });
  const config = loadConfig({ env: {}, overrides: { 'supporters.effects.burst': 4, 'supporters.effects.ratePerSecond': 1 } });
  const s = createSupporters({ config, platform, logger: silentLogger(), registry: new Registry() });
  const hooks: PublishHook[] = [];
  const published: { channel: string; data: any }[] = [];
  s.attachChat({ publisher: { publish: async (channel, data) => { published.push({ channel, data }); return {}; } }, addPublishHook: (x) => hooks.push(x), registerRpc: () => undefined });
  t.after(() => s.stop());
  const hook = at(hooks, 0);
  const say = (text: unknown, user = 'u1', channel = 'chat:stage') => hook.onPublish({ channel, clientId: 'c1', user, info: undefined, data: text });
  // As moderation stamps it, as `{text}`, and as a bare string.
  assert.deepEqual(await say({ type: 'message', id: 'x', text: '🎉🎉 축하해요', user: { id: 'u1' }, ts: 1 }), { action: 'allow' });
  assert.deepEqual(await say({ text: '❤️' }, 'u2'), { action: 'allow' });
  assert.deepEqual(await say('👏 🚀', 'u3'), { action: 'allow' });
  assert.deepEqual(await say({ text: '그냥 인사 😀' }, 'u4'), { action: 'allow' });
  // Over the bucket (burst 4): the message passes, the extra emoji fire nothing.
  assert.deepEqual(await say({ text: '💰💰💰💰💰💰' }, 'u1'), { action: 'allow' });
  // Channels that do not exist fire nothing.
  assert.deepEqual(await say({ text: '🎉' }, 'u5', 'chat:nowhere'), { action: 'allow' });
  await s.effects.flush();
  const eff = published.filter((p) => p.channel.startsWith('effects:'));
  assert.deepEqual(eff.map((p) => p.channel), ['effects:stage']);
  assert.deepEqual(at(eff, 0).data.counts, { party: 2, hearts: 1, clap: 1, rocket: 1, money: 2 });
});

test('effectsInText counts effect emoji, at most MAX_EMOJI_PER_MESSAGE per message', () => {
  assert.deepEqual([...effectsInText('🎉🎉 ❤ ❤️ 👏')], [['party', 2], ['hearts', 2], ['clap', 1]]);
  assert.equal(effectsInText('no emoji 😀 here').size, 0);
  assert.equal(effectsInText('🚀'.repeat(50)).get('rocket'), MAX_EMOJI_PER_MESSAGE);
});

test('stream sessions are named by their start in ms, from an ISO time or ms', () => {
  assert.equal(sessionId('2026-11-26T23:00:00.000Z'), String(Date.UTC(2026, 10, 26, 23)));
  assert.equal(sessionId(1764198000000), '1764198000000');
  assert.equal(sessionId(undefined), null);
  assert.equal(sessionId('garbage'), null);
});
