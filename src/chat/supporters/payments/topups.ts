/**
 * TopupService moves money into wallets through a CheckoutProvider: create a
 * pending top-up with a checkout, then apply the provider's verified
 * confirmation exactly once. The ledger credit's idempotency key is the
 * provider's payment id, so concurrent or replayed confirmations credit once;
 * the confirmed amount must equal the amount the server created; every state
 * change (and every refused confirmation) is appended to wallet_topup_events
 * in the transaction that makes it.
 */
import { sql } from 'kysely';
import type { Db } from '../../../platform/db/connect.js';
import type { Logger } from '../../../observability/logger.js';
import type { OnairConfig } from '../../../config/schema.js';
import { AppError } from '../../../http/errors.js';
import { newId } from '../../../platform/ids.js';
import { writeTransaction, type WalletLedger, type WalletTx } from '../../../platform/wallet/index.js';
import { paymentsDb, type PaymentsDatabase, type TopupEventKind, type TopupStatus, type WalletTopupsTable } from './db.js';
import type { CheckoutProvider, Confirmation } from './provider.js';
import type { Kysely } from 'kysely';

/** DAY_MS is the window of payments.maxPerDay. */
const DAY_MS = 24 * 60 * 60 * 1000;

/** Topup is a top-up as the API shows it. */
export interface Topup {
  id: string;
  userId: string;
  status: TopupStatus;
  amount: number;
  currency: 'KRW';
  provider: string;
  paymentId: string;
  checkoutUrl: string;
  /** The wallet credit, once paid. */
  entryId: string | null;
  refundEntryId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** TopupEvent is one record of a top-up's audit trail. */
export interface TopupEvent {
  id: string;
  kind: TopupEventKind;
  detail: Record<string, unknown>;
  actor: string;
  createdAt: number;
}

export interface ConfirmResult {
  topup: Topup;
  /** True when this confirmation changed nothing (already applied). */
  replayed: boolean;
}

const toTopup = (r: WalletTopupsTable): Topup => ({
  id: r.id, userId: r.user_id, status: r.status, amount: Number(r.amount), currency: 'KRW', provider: r.provider, paymentId: r.payment_id,
  checkoutUrl: r.checkout_url, entryId: r.entry_id, refundEntryId: r.refund_entry_id, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

const asPayments = (trx: WalletTx): Kysely<PaymentsDatabase> => trx as unknown as Kysely<PaymentsDatabase>;

export interface TopupServiceDeps {
  db: Db;
  ledger: WalletLedger;
  provider: CheckoutProvider;
  limits: Pick<OnairConfig['payments'], 'minAmount' | 'maxAmount' | 'maxPerDay'>;
  logger: Logger;
}

export class TopupService {
  constructor(private readonly deps: TopupServiceDeps) {}

  get provider(): CheckoutProvider {
    return this.deps.provider;
  }

  private get k(): Kysely<PaymentsDatabase> {
    return paymentsDb(this.deps.db);
  }

  /** create opens a pending top-up and its checkout, within the per-top-up and per-day limits. */
  async create(userId: string, amount: number): Promise<Topup> {
    const { minAmount, maxAmount, maxPerDay } = this.deps.limits;
    if (!Number.isSafeInteger(amount) || amount < minAmount || amount > maxAmount) {
      throw new AppError('validation_failed', `amount: a whole number of won from ${minAmount} to ${maxAmount}`, { minAmount, maxAmount });
    }
    const id = newId();
    const checkout = await this.deps.provider.createCheckout({ id, userId, amount });
    return writeTransaction(this.deps.db, async (wtrx) => {
      const trx = asPayments(wtrx);
      // PostgreSQL: lock the user so concurrent creations see each other's rows in the daily sum.
      if (this.deps.db.engine === 'postgres') await sql`SELECT id FROM users WHERE id = ${userId} FOR UPDATE`.execute(trx);
      const now = Date.now();
      const day = await trx.selectFrom('wallet_topups').select(sql<string | null>`sum(amount)`.as('total'))
        .where('user_id', '=', userId).where('created_at', '>', now - DAY_MS).where('status', 'in', ['pending', 'paid']).executeTakeFirst();
      const used = Number(day?.total ?? 0);
      if (used + amount > maxPerDay) {
        throw new AppError('validation_failed', `amount: at most ₩${maxPerDay.toLocaleString('en-US')} of top-ups within 24 hours (₩${used.toLocaleString('en-US')} used)`, { maxPerDay, used });
      }
      const row: WalletTopupsTable = {
        id, user_id: userId, amount, status: 'pending', provider: this.deps.provider.name, payment_id: checkout.paymentId,
        checkout_url: checkout.checkoutUrl, entry_id: null, refund_entry_id: null, created_at: now, updated_at: now,
      };
      await trx.insertInto('wallet_topups').values(row).execute();
      await this.record(trx, id, 'created', { amount }, `user:${userId}`, now);
      return toTopup(row);
    });
  }

  async get(id: string): Promise<Topup | undefined> {
    const r = await this.k.selectFrom('wallet_topups').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toTopup(r) : undefined;
  }

  async require(id: string): Promise<Topup> {
    const t = await this.get(id);
    if (!t) throw new AppError('not_found', 'no such top-up');
    return t;
  }

  /** list gives a user's top-ups, newest first. */
  async list(userId: string, limit = 50): Promise<Topup[]> {
    const rows = await this.k.selectFrom('wallet_topups').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toTopup);
  }

  /** events gives a top-up's audit trail, oldest first. */
  async events(topupId: string): Promise<TopupEvent[]> {
    const rows = await this.k.selectFrom('wallet_topup_events').selectAll().where('topup_id', '=', topupId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, kind: r.kind, detail: JSON.parse(r.detail) as Record<string, unknown>, actor: r.actor, createdAt: Number(r.created_at) }));
  }

  /** confirm applies a confirmation the provider has verified: it credits once, or records the decline. */
  async confirm(c: Confirmation): Promise<ConfirmResult> {
    const provider = this.deps.provider;
    const actor = `provider:${provider.name}`;
    const topup = await this.require(c.topupId);
    if (topup.provider !== provider.name || topup.paymentId !== c.paymentId) throw new AppError('conflict', 'this confirmation is for another payment');
    if (c.amount !== topup.amount) {
      // A confirmation must carry the amount the server created: anything else is refused, logged and kept in the trail.
      this.deps.logger.warn({ topupId: topup.id, userId: topup.userId, expected: topup.amount, confirmed: c.amount, provider: provider.name }, 'top-up confirmation refused: the amount differs from the checkout');
      await writeTransaction(this.deps.db, (trx) => this.record(asPayments(trx), topup.id, 'amount_mismatch', { expected: topup.amount, confirmed: c.amount, outcome: c.outcome }, actor));
      throw new AppError('conflict', `the confirmed amount (₩${c.amount}) differs from the top-up's (₩${topup.amount})`, { expected: topup.amount, confirmed: c.amount });
    }
    if (c.outcome === 'failed') return this.fail(topup, c.reason ?? 'failed', actor);
    if (topup.status === 'failed') throw new AppError('conflict', 'this top-up failed; start a new one');
    const r = await this.deps.ledger.credit(
      { userId: topup.userId, amount: topup.amount, idempotencyKey: `topup:${provider.name}:${topup.paymentId}`, provider: provider.name, reference: topup.id, note: 'top-up' },
      async (wtrx, entry) => {
        const trx = asPayments(wtrx);
        const now = Date.now();
        const u = await trx.updateTable('wallet_topups').set({ status: 'paid', entry_id: entry.id, updated_at: now })
          .where('id', '=', topup.id).where('status', '=', 'pending').executeTakeFirst();
        // Declined meanwhile: undo the credit (the whole transaction rolls back).
        if (Number(u.numUpdatedRows) !== 1) throw new AppError('conflict', 'this top-up failed; start a new one');
        await this.record(trx, topup.id, 'paid', { amount: topup.amount, entryId: entry.id, balance: entry.balanceAfter }, actor, now);
      },
    );
    return { topup: await this.require(topup.id), replayed: r.replayed };
  }

  private async fail(topup: Topup, reason: string, actor: string): Promise<ConfirmResult> {
    const changed = await writeTransaction(this.deps.db, async (wtrx) => {
      const trx = asPayments(wtrx);
      const now = Date.now();
      const u = await trx.updateTable('wallet_topups').set({ status: 'failed', updated_at: now }).where('id', '=', topup.id).where('status', '=', 'pending').executeTakeFirst();
      if (Number(u.numUpdatedRows) !== 1) return false;
      await this.record(trx, topup.id, 'failed', { reason }, actor, now);
      return true;
    });
    const now = await this.require(topup.id);
    if (!changed && now.status !== 'failed') throw new AppError('conflict', `this top-up is already ${now.status}`);
    return { topup: now, replayed: !changed };
  }

  /**
   * refund gives a paid top-up back: a ledger debit of its amount (402 when the money was
   * spent) and the provider's refund commit together; the provider is asked inside the
   * transaction so a refusal there undoes the debit.
   */
  async refund(id: string, actor: string): Promise<{ topup: Topup; balance: number; replayed: boolean }> {
    const topup = await this.require(id);
    if (topup.status !== 'paid' && topup.status !== 'refunded') throw new AppError('conflict', `only paid top-ups can be refunded; this one is ${topup.status}`);
    const r = await this.deps.ledger.debit(
      { userId: topup.userId, amount: topup.amount, idempotencyKey: `topup-refund:${topup.id}`, provider: topup.provider, reference: topup.id, note: 'top-up refund' },
      async (wtrx, entry) => {
        const trx = asPayments(wtrx);
        const now = Date.now();
        const u = await trx.updateTable('wallet_topups').set({ status: 'refunded', refund_entry_id: entry.id, updated_at: now })
          .where('id', '=', topup.id).where('status', '=', 'paid').executeTakeFirst();
        if (Number(u.numUpdatedRows) !== 1) throw new AppError('conflict', 'this top-up is not paid');
        await this.record(trx, topup.id, 'refunded', { amount: topup.amount, entryId: entry.id, balance: entry.balanceAfter }, actor, now);
        await this.deps.provider.refund({ paymentId: topup.paymentId, amount: topup.amount });
      },
    );
    return { topup: await this.require(id), balance: r.balance, replayed: r.replayed };
  }

  private async record(trx: Kysely<PaymentsDatabase>, topupId: string, kind: TopupEventKind, detail: Record<string, unknown>, actor: string, at = Date.now()): Promise<void> {
    await trx.insertInto('wallet_topup_events').values({ id: newId(), topup_id: topupId, kind, detail: JSON.stringify(detail), actor, created_at: at }).execute();
  }
}
