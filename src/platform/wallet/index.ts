/**
 * The wallet: a KRW balance per user, kept as an immutable ledger.
 * Importing this module registers the wallet migrations.
 */
import type { Db } from '../db/connect.js';
import { AppError } from '../../http/errors.js';
import { newId } from '../ids.js';
import { WalletLedger, type PostResult } from './ledger.js';
import { ManualProvider, type PaymentProvider } from './providers.js';
import './db.js';

export * from './ledger.js';
export * from './providers.js';
export { walletMigrations, walletDb, type EntryKind, type WalletDatabase } from './db.js';

/** WalletService adds payment providers on top of the ledger. */
export class WalletService {
  readonly ledger: WalletLedger;
  private readonly providers = new Map<string, PaymentProvider>();

  constructor(readonly db: Db, opts: { providers?: PaymentProvider[]; maxCredit?: number } = {}) {
    this.ledger = new WalletLedger(db);
    this.maxCredit = opts.maxCredit ?? Number.MAX_SAFE_INTEGER;
    for (const p of [new ManualProvider(), ...(opts.providers ?? [])]) this.providers.set(p.name, p);
  }

  private readonly maxCredit: number;

  addProvider(p: PaymentProvider): void {
    this.providers.set(p.name, p);
  }

  /**
   * credit confirms a payment with its provider and records it once: the
   * payment id is the idempotency key, so a webhook or CLI retried with the
   * same id changes nothing.
   */
  async credit(input: { provider?: string; userId: string; amount: number; paymentId?: string; note?: string; actor?: string }): Promise<PostResult> {
    const provider = this.providers.get(input.provider ?? 'manual');
    if (!provider) throw new AppError('validation_failed', `provider: unknown payment provider "${input.provider}"`);
    if (!Number.isSafeInteger(input.amount) || input.amount <= 0 || input.amount > this.maxCredit) {
      throw new AppError('validation_failed', `amount: a whole number of won between 1 and ${this.maxCredit}`);
    }
    const paymentId = input.paymentId ?? newId();
    const paid = await provider.confirm({ userId: input.userId, amount: input.amount, paymentId, note: input.note, actor: input.actor });
    return this.ledger.credit({
      userId: input.userId,
      amount: paid.amount,
      idempotencyKey: `${provider.name}:${paymentId}`,
      provider: provider.name,
      reference: paid.reference,
      note: paid.note ?? input.note ?? null,
    });
  }
}
