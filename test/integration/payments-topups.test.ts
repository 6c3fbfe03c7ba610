import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startTestServer } from '../../testkit/server.js';
import { engines } from '../../testkit/db.js';
import { TestCheckoutProvider, TEST_CARD_DECLINED, TEST_CARD_PAID } from '../../src/chat/supporters/payments/index.js';

/** capturingLogger keeps the server's log lines so the test can look for its warnings. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
  return { logger, lines, warned: (re: RegExp) => lines.some((l) => l.level === 40 && re.test(l.msg)) };
}

for (const eng of engines()) {
  test(`wallet top-ups through the test provider on ${eng.engine}`, { skip: eng.skip }, async (t) => {
    const h = await eng.open();
    t.after(() => h.dispose());
    const log = capturingLogger();
    const s = await startTestServer({ 'database.url': h.url, 'payments.provider': 'test', 'payments.maxAmount': 100_000, 'payments.maxPerDay': 150_000 }, {}, { logger: log.logger });
    t.after(() => s.close());
    const admin = s.secrets.adminToken;
    const mk = async (username: string) => {
      assert.equal((await s.api('POST', '/api/v1/users', { username, password: 'password123' }, admin)).status, 201);
      return (await s.api('POST', '/api/v1/auth/login', { username, password: 'password123' })).body.token as string;
    };
    const fan = await mk('fan');
    const other = await mk('other');
    const provider = s.app.supporters?.topups?.provider;
    assert.ok(provider instanceof TestCheckoutProvider);
    const balance = async () => (await s.api('GET', '/api/v1/wallet', undefined, fan)).body.balance as number;

    await t.test('the server warns at start while the test provider is on', () => {
      assert.ok(log.warned(/payments\.provider is "test"/), 'a warning names the test provider');
    });

    await t.test('config for the 충전 page', async () => {
      const c = await s.api('GET', '/api/v1/payments/config');
      assert.deepEqual(c.body, { provider: 'test', currency: 'KRW', minAmount: 1000, maxAmount: 100_000, maxPerDay: 150_000, presets: [1000, 5000, 10_000, 30_000, 50_000, 100_000] });
    });

    let paidId = '';
    await t.test('create, complete with the test card, replay credits once', async () => {
      assert.equal((await s.api('POST', '/api/v1/wallet/topups', { amount: 10_000 })).status, 401);
      for (const amount of [999, 100_001]) {
        const bad = await s.api('POST', '/api/v1/wallet/topups', { amount }, fan);
        assert.equal(bad.status, 400);
        assert.equal(bad.body.error.code, 'validation_failed');
      }
      const r = await s.api('POST', '/api/v1/wallet/topups', { amount: 10_000 }, fan);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const topup = r.body.topup;
      assert.equal(topup.status, 'pending');
      assert.equal(topup.amount, 10_000);
      assert.equal(topup.checkoutUrl, `/pay/test/${topup.id}`);
      paidId = topup.id;
      assert.equal((await s.api('GET', `/api/v1/wallet/topups/${topup.id}`, undefined, other)).status, 404, 'another user sees nothing');
      assert.equal((await s.api('POST', `/api/v1/wallet/topups/${topup.id}/test-complete`, { cardNumber: TEST_CARD_PAID }, other)).status, 404);

      const wrongCard = await s.api('POST', `/api/v1/wallet/topups/${topup.id}/test-complete`, { cardNumber: '1234 5678 9012 3456' }, fan);
      assert.equal(wrongCard.status, 400);
      assert.equal(await balance(), 0);
      const paid = await s.api('POST', `/api/v1/wallet/topups/${topup.id}/test-complete`, { cardNumber: '4242 4242 4242 4242' }, fan);
      assert.equal(paid.status, 201, JSON.stringify(paid.body));
      assert.equal(paid.body.topup.status, 'paid');
      assert.equal(paid.body.balance, 10_000);
      const again = await s.api('POST', `/api/v1/wallet/topups/${topup.id}/test-complete`, { cardNumber: TEST_CARD_PAID }, fan);
      assert.equal(again.status, 200);
      assert.equal(again.body.replayed, true);
      assert.equal(await balance(), 10_000);

      const w = await s.api('GET', '/api/v1/wallet', undefined, fan);
      assert.equal(w.body.entries.length, 1);
      assert.equal(w.body.entries[0].kind, 'credit');
      assert.equal(w.body.entries[0].provider, 'test');
      assert.equal(w.body.entries[0].reference, topup.id);
      const got = await s.api('GET', `/api/v1/wallet/topups/${topup.id}`, undefined, fan);
      assert.equal(got.body.topup.entryId, w.body.entries[0].id);
      assert.deepEqual(got.body.events.map((e: { kind: string }) => e.kind), ['created', 'paid']);
    });

    let pendingId = '';
    await t.test('a confirmation with another amount is refused, logged and audited; a forged one is 401', async () => {
      const r = await s.api('POST', '/api/v1/wallet/topups', { amount: 5_000 }, fan);
      const topup = r.body.topup;
      pendingId = topup.id;
      const tampered = provider.sign({ topupId: topup.id, paymentId: topup.paymentId, amount: 50_000, outcome: 'paid' });
      const refused = await s.api('POST', '/api/v1/payments/test/confirm', tampered);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.deepEqual(refused.body.error.details, { expected: 5_000, confirmed: 50_000 });
      assert.ok(log.warned(/amount differs/), 'the refusal is logged');
      const got = await s.api('GET', `/api/v1/wallet/topups/${topup.id}`, undefined, fan);
      assert.equal(got.body.topup.status, 'pending');
      assert.deepEqual(got.body.events.map((e: { kind: string }) => e.kind), ['created', 'amount_mismatch']);
      assert.deepEqual(got.body.events[1].detail, { expected: 5_000, confirmed: 50_000, outcome: 'paid' });

      const good = provider.sign({ topupId: topup.id, paymentId: topup.paymentId, amount: 5_000, outcome: 'paid' });
      const forged = await s.api('POST', '/api/v1/payments/test/confirm', { ...good, signature: good.signature.replace(/^./, (c) => (c === '0' ? '1' : '0')) });
      assert.equal(forged.status, 401);
      assert.equal((await s.api('POST', '/api/v1/payments/toss/confirm', good)).status, 404);
      assert.equal(await balance(), 10_000);
    });

    await t.test('20 concurrent confirmations of one top-up credit once', async () => {
      const topup = (await s.api('GET', `/api/v1/wallet/topups/${pendingId}`, undefined, fan)).body.topup;
      const body = provider.sign({ topupId: topup.id, paymentId: topup.paymentId, amount: 5_000, outcome: 'paid' });
      const rs = await Promise.all(Array.from({ length: 20 }, () => s.api('POST', '/api/v1/payments/test/confirm', body)));
      assert.deepEqual(rs.map((r) => r.status).sort(), [...Array(19).fill(200), 201].sort(), JSON.stringify(rs.map((r) => r.body)));
      assert.equal(await balance(), 15_000);
      const w = await s.api('GET', '/api/v1/wallet', undefined, fan);
      assert.equal(w.body.entries.filter((e: { reference: string }) => e.reference === topup.id).length, 1);
      const events = (await s.api('GET', `/api/v1/wallet/topups/${topup.id}`, undefined, fan)).body.events;
      assert.equal(events.filter((e: { kind: string }) => e.kind === 'paid').length, 1);
      assert.equal((await s.api('GET', '/api/v1/wallet/verify', undefined, admin)).body.ok, true);
    });

    await t.test('the fail button and the declined card fail the top-up; a failed one cannot be paid', async () => {
      const a = (await s.api('POST', '/api/v1/wallet/topups', { amount: 1_000 }, fan)).body.topup;
      const failed = await s.api('POST', `/api/v1/wallet/topups/${a.id}/test-complete`, { outcome: 'fail' }, fan);
      assert.equal(failed.status, 201);
      assert.equal(failed.body.topup.status, 'failed');
      assert.equal((await s.api('POST', `/api/v1/wallet/topups/${a.id}/test-complete`, { cardNumber: TEST_CARD_PAID }, fan)).status, 409);
      const b = (await s.api('POST', '/api/v1/wallet/topups', { amount: 1_000 }, fan)).body.topup;
      const declined = await s.api('POST', `/api/v1/wallet/topups/${b.id}/test-complete`, { cardNumber: TEST_CARD_DECLINED }, fan);
      assert.equal(declined.body.topup.status, 'failed');
      const events = (await s.api('GET', `/api/v1/wallet/topups/${b.id}`, undefined, fan)).body.events;
      assert.deepEqual(events[1].detail, { reason: 'card_declined' });
      assert.equal(await balance(), 15_000);
    });

    await t.test('the daily limit counts pending and paid top-ups', async () => {
      // 15,000 paid so far (failed ones do not count): 100,000 fits under 150,000, 50,000 more does not.
      assert.equal((await s.api('POST', '/api/v1/wallet/topups', { amount: 100_000 }, fan)).status, 201);
      const over = await s.api('POST', '/api/v1/wallet/topups', { amount: 50_000 }, fan);
      assert.equal(over.status, 400);
      assert.deepEqual(over.body.error.details, { maxPerDay: 150_000, used: 115_000 });
      assert.equal((await s.api('POST', '/api/v1/wallet/topups', { amount: 50_000 }, other)).status, 201, 'the limit is per user');
    });

    await t.test('an admin refund reverses the credit through the ledger, once', async () => {
      assert.equal((await s.api('POST', `/api/v1/wallet/topups/${paidId}/refund`, undefined, fan)).status, 403);
      const r = await s.api('POST', `/api/v1/wallet/topups/${paidId}/refund`, undefined, admin);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.topup.status, 'refunded');
      assert.equal(r.body.balance, 5_000);
      const again = await s.api('POST', `/api/v1/wallet/topups/${paidId}/refund`, undefined, admin);
      assert.equal(again.body.replayed, true);
      assert.equal(await balance(), 5_000);
      const w = await s.api('GET', '/api/v1/wallet', undefined, fan);
      const debit = w.body.entries[0];
      assert.equal(debit.kind, 'debit');
      assert.equal(debit.amount, -10_000);
      assert.equal(debit.reference, paidId);
      const events = (await s.api('GET', `/api/v1/wallet/topups/${paidId}`, undefined, fan)).body.events;
      assert.deepEqual(events.map((e: { kind: string }) => e.kind), ['created', 'paid', 'refunded']);
      const pending = (await s.api('GET', '/api/v1/wallet/topups', undefined, fan)).body.topups.find((x: { status: string }) => x.status === 'pending');
      assert.equal((await s.api('POST', `/api/v1/wallet/topups/${pending.id}/refund`, undefined, admin)).status, 409);
      assert.equal((await s.api('GET', '/api/v1/wallet/verify', undefined, admin)).body.ok, true);
    });
  });
}

test('with payments.provider none (the default) top-ups answer 404 and the page config says so', async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  assert.equal(s.app.supporters?.topups, undefined);
  assert.equal((await s.api('GET', '/api/v1/payments/config')).body.provider, 'none');
  const r = await s.api('POST', '/api/v1/wallet/topups', { amount: 10_000 }, s.secrets.adminToken);
  assert.equal(r.status, 404);
  assert.match(r.body.error.message, /payments\.provider is none/);
});
