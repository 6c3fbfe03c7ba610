/**
 * Payments: wallet top-ups through a checkout provider (`payments.provider`).
 * `createTopups` builds the service for the configured provider, or nothing when it is none.
 */
import type { Db } from '../../../platform/db/connect.js';
import type { Logger } from '../../../observability/logger.js';
import type { OnairConfig } from '../../../config/schema.js';
import type { WalletLedger } from '../../../platform/wallet/index.js';
import { TopupService } from './topups.js';
import { TestCheckoutProvider } from './test-provider.js';
import type { CheckoutProvider } from './provider.js';

export { TopupService, type Topup, type TopupEvent, type ConfirmResult } from './topups.js';
export { TestCheckoutProvider, TEST_CARD_PAID, TEST_CARD_DECLINED, TEST_CHECKOUT_PATH, type SignedConfirmation } from './test-provider.js';
export type { CheckoutProvider, Checkout, Confirmation } from './provider.js';
export { paymentsMigrations, paymentsDb, type TopupStatus, type TopupEventKind } from './db.js';
export { paymentsRoutes, TOPUP_PRESETS } from './routes.js';

/** createTopups gives the top-up service of payments.provider (undefined for none), warning while the test provider is on. */
export function createTopups(deps: { db: Db; ledger: WalletLedger; config: OnairConfig['payments']; logger: Logger; provider?: CheckoutProvider }): TopupService | undefined {
  const cfg = deps.config;
  let provider = deps.provider;
  if (!provider) {
    switch (cfg.provider) {
      case 'none': return undefined;
      case 'test':
        deps.logger.warn('payments.provider is "test": anyone can top up a wallet with the test card and no money moves; never use it for real money');
        provider = new TestCheckoutProvider();
        break;
    }
  }
  return new TopupService({ db: deps.db, ledger: deps.ledger, provider, limits: cfg, logger: deps.logger.child({ component: 'payments' }) });
}
