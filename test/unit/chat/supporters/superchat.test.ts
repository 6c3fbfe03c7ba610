import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { WalletService } from '../../../../src/platform/wallet/index.js';
import { SuperChatService, gateFromPublishHook, type MessageGate, type SuperChat } from '../../../../src/chat/supporters/index.js';
import { createSupportersMetrics } from '../../../../src/chat/supporters/metrics.js';
import { ModerationEngine, ModerationStore, MemoryModerationState } from '../../../../src/chat/moderation/index.js';
import { loadConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { AppError } from '../../../../src/http/errors.js';
import { at } from '../../../../testkit/at.js';

const config = loadConfig({ env: {} }).supporters;

for (const eng of engines()) {
  test(`super chat service on ${eng.engine}`, { skip: eng.skip }, async (t) => {
    const h = await eng.open();
    t.after(() => h.dispose());
    const platform = createPlatform(h.db, TEST_STREAM_KEY_SECRET);
    const owner = await platform.users.create({ username: 'owner', password: 'password123' });
    const fan = await platform.users.create({ username: 'fan', password: 'password123', displayName: '팬' });
    const troll = await platform.users.create({ username: 'troll', password: 'password123' });
    await platform.channels.create({ name: 'stage', ownerId: owner.id });
    const channel = (await platform.channels.find('stage'))!;
    const wallet = new WalletService(h.db);
    const published: { channel: string; data: any }[] = [];
    let session: string | null = null;
    let gate: MessageGate | undefined;
    const checked: string[] = [];
    const svc = new SuperChatService({
      db: h.db, ledger: wallet.ledger, config, logger: silentLogger(), metrics: createSupportersMetrics(new Registry()),
      publisher: { publish: async (c, d) => { published.push({ channel: c, data: d }); return {}; } },
      gate: { check: async (c, u, text) => { checked.push(text); return gate ? gate.check(c, u, text) : { ok: true, text }; } },
      sessionOf: () => session,
    });
    const send = (amount: number, key: string, message = 'hi', who = fan) =>
      svc.send({ channel, user: { id: who.id, name: who.displayName }, amount, message, idempotencyKey: key });

    await t.test('100 concurrent super chats against a balance covering exactly 50', async () => {
      await wallet.credit({ userId: fan.id, amount: 50 * 1_000, paymentId: 'p1' });
      session = '1700000000000';
      const rs = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => send(1_000, `race-${i}`)));
      const ok = rs.filter((r) => r.status === 'fulfilled');
      assert.equal(ok.length, 50);
      for (const r of rs) if (r.status === 'rejected') assert.equal((r.reason as AppError).code, 'payment_required');
      assert.equal(await wallet.ledger.balance(fan.id), 0);
      assert.equal((await wallet.ledger.verify()).ok, true);
      assert.equal(published.filter((p) => p.channel === 'chat:stage').length, 50);
      assert.equal(published.filter((p) => p.channel === 'events:stage').length, 50);
      const lb = await svc.leaderboard(channel, { session });
      assert.deepEqual(lb.map((r) => [r.username, r.amount, r.count]), [['fan', 50_000, 50]]);
    });

    await t.test('the publication is typed; the tier is chosen by amount; a retry is not re-published', async () => {
      await wallet.credit({ userId: fan.id, amount: 200_000, paymentId: 'p2' });
      published.length = 0;
      const r = await send(20_000, 'big', '최고의 방송 👏');
      const pub = published.find((p) => p.channel === 'chat:stage')!.data as SuperChat;
      assert.deepEqual(Object.keys(pub).sort(), ['amount', 'channel', 'currency', 'id', 'message', 'pinnedUntil', 'session', 'tier', 'ts', 'tts', 'type', 'user']);
      assert.equal(pub.type, 'superchat');
      assert.deepEqual(pub.user, { id: fan.id, name: '팬' });
      assert.equal(pub.tier.name, 'orange');
      assert.equal(pub.tier.color, '#F57C00');
      assert.equal(pub.session, '1700000000000');
      assert.deepEqual(published.find((p) => p.channel === 'events:stage')!.data, pub);
      const again = await send(20_000, 'big', '최고의 방송 👏');
      assert.equal(again.replayed, true);
      assert.equal(again.superchat.id, r.superchat.id);
      assert.equal(published.length, 2, 'no second publication');
      assert.equal(await wallet.ledger.balance(fan.id), 180_000);
    });

    await t.test('pins expire by tier', async () => {
      const now = Date.now();
      const pins = await svc.pinned(channel, now);
      assert.deepEqual(pins.map((p) => p.amount), [20_000], '₩1,000 super chats are not pinned');
      assert.equal(at(pins, 0).pinnedUntil - at(pins, 0).ts, 600_000);
      assert.equal((await svc.pinned(channel, at(pins, 0).ts + 599_999)).length, 1);
      assert.equal((await svc.pinned(channel, at(pins, 0).ts + 600_000)).length, 0);
    });

    await t.test('a message the gate refuses is not charged; a rewritten one is published rewritten', async () => {
      gate = { check: async (_c, _u, text) => (text.includes('spam') ? { ok: false, code: 1003, message: 'blocked word' } : { ok: true, text: text.replace('darn', '***') }) };
      const before = await wallet.ledger.balance(fan.id);
      const e = await send(5_000, 'refused', 'buy spam now').catch((x) => x);
      assert.equal(e.code, 'forbidden');
      assert.equal(e.details.moderationCode, 1003);
      assert.equal(await wallet.ledger.balance(fan.id), before);
      assert.equal(await wallet.ledger.findByKey(fan.id, 'superchat:refused'), undefined);
      const ok = await send(5_000, 'masked', 'oh darn');
      assert.equal(ok.superchat.message, 'oh ***');
      assert.equal(await wallet.ledger.balance(fan.id), before - 5_000);
      gate = undefined;
    });

    await t.test('an amount-only super chat is still checked; a replay is not', async () => {
      checked.length = 0;
      const r = await send(1_000, 'empty', '   ');
      assert.equal(r.superchat.message, '');
      await send(1_000, 'empty', '   ');
      assert.deepEqual(checked, ['']);
    });

    await t.test('the real moderation engine: banned users and blocked words are refused and not charged', async () => {
      const engine = new ModerationEngine({ platform, store: new ModerationStore(h.db), state: new MemoryModerationState(), logger: silentLogger() });
      await engine.executeText({ id: owner.id }, 'stage', '/filter add 욕설 block');
      await engine.executeText({ id: owner.id }, 'stage', '/filter add 바보 mask');
      await engine.executeText({ id: owner.id }, 'stage', '/ban troll');
      gate = gateFromPublishHook(engine);
      await wallet.credit({ userId: troll.id, amount: 10_000, paymentId: 'p3' });
      const banned = await send(1_000, 'troll-1', 'hello', troll).catch((x) => x);
      assert.equal(banned.code, 'forbidden', String(banned));
      assert.match(banned.message, /banned/);
      const silent = await send(1_000, 'troll-2', '', troll).catch((x) => x);
      assert.equal(silent.code, 'forbidden', 'an amount-only super chat does not get around a ban');
      assert.equal(await wallet.ledger.balance(troll.id), 10_000);
      const before = await wallet.ledger.balance(fan.id);
      const blocked = await send(2_000, 'bad-1', '이 욕설 좀 봐').catch((x) => x);
      assert.equal(blocked.code, 'forbidden', String(blocked));
      assert.equal(await wallet.ledger.balance(fan.id), before);
      const masked = await send(2_000, 'mask-1', '바보 같은 날');
      assert.ok(!masked.superchat.message.includes('바보'), masked.superchat.message);
      assert.match(masked.superchat.message, /\*/);
      assert.equal(await wallet.ledger.balance(fan.id), before - 2_000);
      assert.equal((await send(1_000, 'quiet-1', '')).superchat.message, '', 'amount-only passes for others');
      gate = undefined;
    });

    await t.test('validation: limits, message length by tier, commands, conflicting retries', async () => {
      const code = async (p: Promise<unknown>) => ((await p.catch((e) => e)) as AppError).code;
      assert.equal(await code(send(999, 'v1')), 'validation_failed');
      assert.equal(await code(send(500_001, 'v2')), 'validation_failed');
      assert.equal(await code(send(1_000, 'v3', 'x'.repeat(51))), 'validation_failed');
      assert.equal((await send(100_000, 'v4', 'x'.repeat(290))).superchat.tier.name, 'red');
      assert.equal(await code(send(1_000, 'v5', '/ban owner')), 'validation_failed');
      assert.equal(await code(send(1_000, 'v4', 'other')), 'conflict');
      assert.equal(await code(send(1_000, '')), 'bad_request');
    });

    await t.test('leaderboard per session and overall; earnings per session and supporter', async () => {
      session = '1700000999000';
      const s2 = await send(3_000, 's2-fan', 'new stream');
      assert.equal(s2.superchat.session, '1700000999000');
      assert.equal(await svc.latestSession(channel), '1700000999000');
      const cur = await svc.leaderboard(channel, { session });
      assert.deepEqual(cur.map((r) => [r.rank, r.username, r.amount]), [[1, 'fan', 3_000]]);
      const all = await svc.leaderboard(channel);
      assert.equal(at(all, 0).username, 'fan');
      const e = await svc.earnings(channel);
      assert.equal(e.total, all.reduce((s, r) => s + r.amount, 0));
      assert.deepEqual(e.sessions.map((s) => s.session), ['1700000999000', '1700000000000']);
      assert.equal(at(e.sessions, 0).startedAt, 1700000999000);
      assert.equal(at(e.sessions, 0).amount, 3_000);
      session = null;
      assert.equal(await svc.latestSession(channel), '1700000999000', 'offline: the last session');
    });
  });
}
