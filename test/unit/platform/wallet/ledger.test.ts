import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform, openDatabase } from '../../../../src/platform/index.js';
import { migrateAll } from '../../../../src/features.js';
import { WalletLedger, WalletService, walletDb, type PaymentProvider } from '../../../../src/platform/wallet/index.js';
import { AppError } from '../../../../src/http/errors.js';

for (const eng of engines()) {
  test(`wallet ledger on ${eng.engine}`, { skip: eng.skip }, async (t) => {
    const h = await eng.open();
    t.after(() => h.dispose());
    const platform = createPlatform(h.db, TEST_STREAM_KEY_SECRET);
    const alice = await platform.users.create({ username: `alice`, password: 'password123' });
    const bob = await platform.users.create({ username: `bob`, password: 'password123' });
    const wallet = new WalletService(h.db);
    const ledger = wallet.ledger;

    await t.test('credit, replayed credit, balance and entries', async () => {
      const r = await wallet.credit({ userId: alice.id, amount: 50_000, paymentId: 'p1', actor: 'test' });
      assert.equal(r.balance, 50_000);
      assert.equal(r.replayed, false);
      assert.equal(r.entry.kind, 'credit');
      assert.equal(r.entry.provider, 'manual');
      const again = await wallet.credit({ userId: alice.id, amount: 50_000, paymentId: 'p1', actor: 'test' });
      assert.equal(again.replayed, true);
      assert.equal(again.entry.id, r.entry.id);
      assert.equal(await ledger.balance(alice.id), 50_000);
      const diff = await wallet.credit({ userId: alice.id, amount: 7, paymentId: 'p1' }).catch((e) => e);
      assert.ok(diff instanceof AppError && diff.code === 'conflict', 'same key, different amount → conflict');
      assert.equal((await ledger.entries(alice.id)).length, 1);
    });

    await t.test('100 concurrent debits against a balance covering exactly 50', async () => {
      // alice holds 50,000: 100 debits of 1,000 race for it.
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) => ledger.debit({ userId: alice.id, amount: 1_000, idempotencyKey: `sc-${i}`, provider: 'superchat' })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 50);
      assert.equal(refused.length, 50);
      for (const r of refused) assert.equal((r.reason as AppError).code, 'payment_required', String(r.reason));
      assert.equal(await ledger.balance(alice.id), 0);
      const v = await ledger.verify();
      assert.equal(v.ok, true, JSON.stringify(v.mismatches));
      const entries = await ledger.entries(alice.id, { limit: 500 });
      assert.equal(entries.length, 51);
      assert.equal(entries.reduce((s, e) => s + e.amount, 0), 0);
      // balance_after of each debit is distinct: no two debits saw the same balance.
      const afters = new Set(entries.filter((e) => e.kind === 'debit').map((e) => e.balanceAfter));
      assert.equal(afters.size, 50);
      assert.equal(Math.min(...afters), 0);
    });

    await t.test('concurrent retries with one idempotency key charge once', async () => {
      await wallet.credit({ userId: bob.id, amount: 10_000, paymentId: 'b1' });
      const rs = await Promise.all(Array.from({ length: 20 }, () => ledger.debit({ userId: bob.id, amount: 3_000, idempotencyKey: 'same-key' })));
      assert.equal(new Set(rs.map((r) => r.entry.id)).size, 1);
      assert.equal(rs.filter((r) => !r.replayed).length, 1);
      assert.equal(await ledger.balance(bob.id), 7_000);
      const later = await ledger.debit({ userId: bob.id, amount: 3_000, idempotencyKey: 'same-key' });
      assert.equal(later.replayed, true);
      assert.equal(later.balance, 7_000);
    });

    await t.test('a failure inside the debit transaction undoes the debit', async () => {
      await assert.rejects(ledger.debit({ userId: bob.id, amount: 1_000, idempotencyKey: 'boom' }, async () => { throw new Error('boom'); }), /boom/);
      assert.equal(await ledger.balance(bob.id), 7_000);
      assert.equal(await ledger.findByKey(bob.id, 'boom'), undefined);
    });

    await t.test('refund once', async () => {
      const d = await ledger.debit({ userId: bob.id, amount: 2_000, idempotencyKey: 'to-refund' });
      assert.equal(d.balance, 5_000);
      const r1 = await ledger.refund(d.entry.id, 'stream cancelled');
      assert.equal(r1.balance, 7_000);
      assert.equal(r1.entry.kind, 'refund');
      assert.equal(r1.entry.reference, d.entry.id);
      const r2 = await ledger.refund(d.entry.id);
      assert.equal(r2.replayed, true);
      assert.equal(await ledger.balance(bob.id), 7_000);
      await assert.rejects(ledger.refund(r1.entry.id), (e: AppError) => e.code === 'conflict');
    });

    await t.test('validation and unknown users', async () => {
      for (const amount of [0, -5, 1.5, Number.NaN]) {
        await assert.rejects(ledger.debit({ userId: bob.id, amount, idempotencyKey: `v${amount}` }), (e: AppError) => e.code === 'validation_failed');
      }
      await assert.rejects(ledger.debit({ userId: bob.id, amount: 1, idempotencyKey: '' }), (e: AppError) => e.code === 'validation_failed');
      await assert.rejects(ledger.credit({ userId: 'nobody', amount: 1, idempotencyKey: 'x' }), (e: AppError) => e.code === 'not_found');
      await assert.rejects(wallet.credit({ provider: 'stripe', userId: bob.id, amount: 1 }), (e: AppError) => e.code === 'validation_failed');
      const pr = await ledger.debit({ userId: bob.id, amount: 1_000_000, idempotencyKey: 'too-much' }).catch((e) => e);
      assert.equal(pr.code, 'payment_required');
      assert.deepEqual(pr.details, { balance: 7_000, amount: 1_000_000 });
    });

    await t.test('entries are immutable in the database', async () => {
      const k = walletDb(h.db);
      await assert.rejects(k.updateTable('wallet_entries').set({ amount: 1 }).where('user_id', '=', bob.id).execute(), /immutable/);
      await assert.rejects(k.deleteFrom('wallet_entries').where('user_id', '=', bob.id).execute(), /immutable/);
      await assert.rejects(sql`update wallet_balances set balance = -1 where user_id = ${bob.id}`.execute(k));
    });

    await t.test('a custom payment provider records what it confirms', async () => {
      const paid: PaymentProvider = { name: 'fake-pg', confirm: async (r) => ({ amount: r.amount - 100, reference: `pg:${r.paymentId}` }) };
      wallet.addProvider(paid);
      const r = await wallet.credit({ provider: 'fake-pg', userId: bob.id, amount: 1_100, paymentId: 'order-9' });
      assert.equal(r.entry.amount, 1_000);
      assert.equal(r.entry.reference, 'pg:order-9');
      assert.equal(r.entry.idempotencyKey, 'fake-pg:order-9');
    });

    await t.test('restart: a reopened database has the same balances and sums', async () => {
      const before = { a: await ledger.balance(alice.id), b: await ledger.balance(bob.id) };
      const db2 = await openDatabase(h.url);
      try {
        await migrateAll(db2);
        const l2 = new WalletLedger(db2);
        assert.deepEqual({ a: await l2.balance(alice.id), b: await l2.balance(bob.id) }, before);
        assert.equal((await l2.verify()).ok, true);
        const replay = await l2.debit({ userId: bob.id, amount: 3_000, idempotencyKey: 'same-key' });
        assert.equal(replay.replayed, true, 'idempotency survives a restart');
        // Two handles on one database (two processes, or server + CLI) still never overspend.
        const both = await Promise.allSettled([
          ...Array.from({ length: 10 }, (_, i) => ledger.debit({ userId: bob.id, amount: 1_000, idempotencyKey: `two-${i}` })),
          ...Array.from({ length: 10 }, (_, i) => l2.debit({ userId: bob.id, amount: 1_000, idempotencyKey: `two-b-${i}` })),
        ]);
        assert.equal(both.filter((r) => r.status === 'fulfilled').length, before.b / 1_000);
        assert.equal(await l2.balance(bob.id), 0);
        assert.equal((await l2.verify()).ok, true);
      } finally {
        await db2.close();
      }
    });
  });
}
