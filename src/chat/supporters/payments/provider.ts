/**
 * CheckoutProvider is what a payment gateway implements for wallet top-ups:
 * it opens a checkout for an amount the server chose, and turns the
 * gateway's callback (webhook or redirect) into a verified confirmation.
 * The server, not the provider, checks the confirmed amount against the
 * amount it created (the Toss Payments model).
 */

/** Checkout is what a provider answers when a top-up is created. */
export interface Checkout {
  /** The provider's payment id (order id): unique per provider. */
  paymentId: string;
  /** Where the payer's browser goes to pay. */
  checkoutUrl: string;
}

/** Confirmation is a callback whose signature the provider has verified. */
export interface Confirmation {
  topupId: string;
  paymentId: string;
  /** KRW the provider says it charged. */
  amount: number;
  outcome: 'paid' | 'failed';
  /** Why a payment failed, as the provider put it. */
  reason?: string;
}

export interface CheckoutProvider {
  /** name is stored on each top-up and ledger credit ("test", "toss", ...). */
  readonly name: string;
  /** createCheckout opens a checkout for a pending top-up. */
  createCheckout(topup: { id: string; userId: string; amount: number }): Promise<Checkout>;
  /** verify checks a callback body's signature; it throws AppError('unauthorized') when it is forged. */
  verify(body: unknown): Promise<Confirmation>;
  /** refund gives a paid payment's money back at the provider; it throws when the provider refuses. */
  refund(payment: { paymentId: string; amount: number }): Promise<void>;
}
