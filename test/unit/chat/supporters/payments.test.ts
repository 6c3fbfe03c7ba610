import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../../../../src/config/index.js';
import { AppError } from '../../../../src/http/errors.js';
import { TestCheckoutProvider, TEST_CARD_PAID, createTopups } from '../../../../src/chat/supporters/payments/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import type { Db } from '../../../../src/platform/db/connect.js';
import { WalletLedger } from '../../../../src/platform/wallet/index.js';

test('payments config: none by default, env sets the provider, bad values name their key', () => {
  const c = loadConfig({ env: {} });
  assert.deepEqual(c.payments, { provider: 'none', minAmount: 1000, maxAmount: 1_000_000, maxPerDay: 2_000_000 });
  assert.equal(loadConfig({ env: { ONAIR_PAYMENTS_PROVIDER: 'test', ONAIR_PAYMENTS_MAX_PER_DAY: '50000', ONAIR_PAYMENTS_MAX_AMOUNT: '50000' } }).payments.provider, 'test');
  assert.throws(() => loadConfig({ env: { ONAIR_PAYMENTS_PROVIDER: 'toss' } }), (e: unknown) => e instanceof ConfigError && e.key === 'payments.provider');
  assert.throws(() => loadConfig({ env: {}, overrides: { 'payments.minAmount': 5000, 'payments.maxAmount': 1000 } }), (e: unknown) => e instanceof ConfigError && e.key === 'payments.minAmount');
  assert.throws(() => loadConfig({ env: {}, overrides: { 'payments.maxPerDay': 1000 } }), (e: unknown) => e instanceof ConfigError && e.key === 'payments.maxAmount');
});

test('the test provider signs what it pays and refuses forged, altered and malformed confirmations', async () => {
  const p = new TestCheckoutProvider();
  const topup = { id: 't1', paymentId: 'test_1', amount: 10_000 };
  const paid = p.pay(topup, '4242-4242-4242-4242');
  assert.deepEqual(await p.verify(paid), { topupId: 't1', paymentId: 'test_1', amount: 10_000, outcome: 'paid' });
  assert.equal((await p.verify(p.decline(topup))).outcome, 'failed');
  const code = async (body: unknown) => (await p.verify(body).then(() => 'ok', (e: unknown) => (e instanceof AppError ? e.code : String(e))));
  assert.equal(await code({ ...paid, amount: 100_000 }), 'unauthorized', 'an altered amount breaks the signature');
  assert.equal(await code({ ...paid, signature: 'ab' }), 'unauthorized');
  assert.equal(await code(p.sign.call(new TestCheckoutProvider(), { topupId: 't1', paymentId: 'test_1', amount: 10_000, outcome: 'paid' })), 'unauthorized', 'another process key');
  assert.equal(await code({ topupId: 't1' }), 'bad_request');
  assert.equal(await code(null), 'bad_request');
  assert.throws(() => p.pay(topup, '1234'), (e: unknown) => e instanceof AppError && e.code === 'validation_failed' && e.message.includes(TEST_CARD_PAID));
});

test('createTopups: nothing for none; the test provider warns', () => {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
  // Neither is touched until a top-up is made.
  const db = {} as Db;
  const deps = { db, ledger: new WalletLedger(db) };
  assert.equal(createTopups({ ...deps, config: loadConfig({ env: {} }).payments, logger: silentLogger() }), undefined);
  const s = createTopups({ ...deps, config: loadConfig({ env: { ONAIR_PAYMENTS_PROVIDER: 'test' } }).payments, logger });
  assert.ok(s?.provider instanceof TestCheckoutProvider);
  assert.ok(lines.some((l) => l.level === 40 && /payments\.provider is "test"/.test(l.msg)));
});
