/**
 * Payment providers turn money received outside onair into wallet credits.
 * A provider confirms a payment; the ledger records it once per payment id.
 */

/** PaymentRequest asks a provider to confirm money for a user. */
export interface PaymentRequest {
  userId: string;
  /** KRW the caller expects to credit. */
  amount: number;
  /** Provider-side payment id (order id, receipt), also the credit's idempotency key. */
  paymentId: string;
  note?: string;
  /** Who asked for it (admin user id, "cli"); manual grants record it. */
  actor?: string;
}

/** PaymentConfirmation is what a provider vouches for. */
export interface PaymentConfirmation {
  /** KRW actually paid (a real gateway reports what it captured). */
  amount: number;
  /** Provider reference stored on the ledger entry. */
  reference: string;
  note?: string;
}

/** PaymentProvider is the narrow interface a payment gateway implements. */
export interface PaymentProvider {
  /** name is stored on each credit entry ("manual", "toss", ...). */
  readonly name: string;
  /** confirm verifies the payment with the provider; it throws when it is not paid. */
  confirm(req: PaymentRequest): Promise<PaymentConfirmation>;
}

/** ManualProvider is the built-in provider: an admin's word is the payment (tests, events, comps). */
export class ManualProvider implements PaymentProvider {
  readonly name = 'manual';
  async confirm(req: PaymentRequest): Promise<PaymentConfirmation> {
    return { amount: req.amount, reference: `manual:${req.actor ?? 'admin'}`, note: req.note };
  }
}
