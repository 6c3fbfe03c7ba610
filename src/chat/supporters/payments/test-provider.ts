/**
 * TestCheckoutProvider is the built-in provider for development and tests: its
 * checkout page (/pay/test/{id}) takes a test card number or a "fail" click,
 * and the server signs the resulting confirmation with a key that lives only
 * in this process. No money moves; `payments.provider: test` turns it on and
 * the server warns at start while it is on.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../../http/errors.js';
import { newId } from '../../../platform/ids.js';
import type { Checkout, CheckoutProvider, Confirmation } from './provider.js';

/** TEST_CARD_PAID is the card number the test checkout accepts. */
export const TEST_CARD_PAID = '4242424242424242';
/** TEST_CARD_DECLINED is the card number the test checkout declines. */
export const TEST_CARD_DECLINED = '4000000000000002';
/** TEST_CHECKOUT_PATH is the web page of a test checkout; the top-up id follows. */
export const TEST_CHECKOUT_PATH = '/pay/test/';

/** SignedConfirmation is the body the test provider posts to the confirmation route. */
export interface SignedConfirmation extends Confirmation {
  signature: string;
}

const canonical = (c: Confirmation): string => [c.topupId, c.paymentId, String(c.amount), c.outcome, c.reason ?? ''].join('\n');

export class TestCheckoutProvider implements CheckoutProvider {
  readonly name = 'test';
  private readonly key = randomBytes(32);

  async createCheckout(topup: { id: string }): Promise<Checkout> {
    return { paymentId: `test_${newId()}`, checkoutUrl: `${TEST_CHECKOUT_PATH}${encodeURIComponent(topup.id)}` };
  }

  /** sign makes the confirmation the test gateway would send (tests sign altered ones too). */
  sign(c: Confirmation): SignedConfirmation {
    return { ...c, signature: createHmac('sha256', this.key).update(canonical(c)).digest('hex') };
  }

  /** pay plays the gateway for a card number typed into the test checkout page. */
  pay(topup: { id: string; paymentId: string; amount: number }, card: string): SignedConfirmation {
    const digits = card.replace(/[\s-]/g, '');
    if (digits === TEST_CARD_PAID) return this.sign({ topupId: topup.id, paymentId: topup.paymentId, amount: topup.amount, outcome: 'paid' });
    if (digits === TEST_CARD_DECLINED) return this.sign({ topupId: topup.id, paymentId: topup.paymentId, amount: topup.amount, outcome: 'failed', reason: 'card_declined' });
    throw new AppError('validation_failed', `cardNumber: use the test card ${TEST_CARD_PAID} (or ${TEST_CARD_DECLINED} to be declined)`);
  }

  /** decline plays the gateway when the payer presses "fail". */
  decline(topup: { id: string; paymentId: string; amount: number }): SignedConfirmation {
    return this.sign({ topupId: topup.id, paymentId: topup.paymentId, amount: topup.amount, outcome: 'failed', reason: 'payer_cancelled' });
  }

  async verify(body: unknown): Promise<Confirmation> {
    const b = body as Partial<SignedConfirmation> | null;
    if (!b || typeof b !== 'object' || typeof b.topupId !== 'string' || typeof b.paymentId !== 'string' || typeof b.amount !== 'number'
      || (b.outcome !== 'paid' && b.outcome !== 'failed') || typeof b.signature !== 'string' || (b.reason !== undefined && typeof b.reason !== 'string')) {
      throw new AppError('bad_request', 'a test confirmation is {topupId, paymentId, amount, outcome: "paid"|"failed", reason?, signature}');
    }
    const c: Confirmation = { topupId: b.topupId, paymentId: b.paymentId, amount: b.amount, outcome: b.outcome, ...(b.reason !== undefined ? { reason: b.reason } : {}) };
    const want = Buffer.from(this.sign(c).signature, 'hex');
    const got = Buffer.from(b.signature, 'hex');
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new AppError('unauthorized', 'the confirmation signature does not match');
    return c;
  }

  async refund(): Promise<void> {
    // The test gateway holds no money: a refund always succeeds.
  }
}
