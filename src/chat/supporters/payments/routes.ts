/**
 * REST routes of wallet top-ups (/api/v1/wallet/topups, /api/v1/payments).
 * docs/payments.md documents every shape.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../../../http/routes/context.js';
import { actorOf } from '../../../http/auth.js';
import { AppError } from '../../../http/errors.js';
import type { OnairConfig } from '../../../config/schema.js';
import type { WalletLedger } from '../../../platform/wallet/index.js';
import type { Topup, TopupService } from './topups.js';
import { TestCheckoutProvider } from './test-provider.js';
import type { PaymentsConfig, TopupConfirmed, TopupCreated } from '../../../api/schemas.js';

/** TOPUP_PRESETS are the amounts the 충전 page offers, KRW. */
export const TOPUP_PRESETS = [1_000, 5_000, 10_000, 30_000, 50_000, 100_000] as const;

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

export interface PaymentsRouteDeps {
  api: ApiContext;
  config: OnairConfig['payments'];
  ledger: WalletLedger;
  /** Absent when payments.provider is none: the top-up routes then answer 404 with the reason. */
  topups?: TopupService;
}

export function paymentsRoutes(app: FastifyInstance, deps: PaymentsRouteDeps): void {
  const { auth } = deps.api;
  const enabled = (): TopupService => {
    if (!deps.topups) throw new AppError('not_found', 'top-ups are not enabled on this server (payments.provider is none)');
    return deps.topups;
  };
  /** ownTopup finds a top-up its owner (or an admin) may see. */
  const ownTopup = async (topups: TopupService, id: string, viewer: { id: string; is_admin: number }): Promise<Topup> => {
    const t = await topups.get(id);
    // Someone else's top-up answers like a missing one: ids reveal nothing.
    if (!t || (t.userId !== viewer.id && viewer.is_admin !== 1)) throw new AppError('not_found', 'no such top-up');
    return t;
  };

  app.get('/api/v1/payments/config', async () => ({
    provider: deps.config.provider, currency: 'KRW', minAmount: deps.config.minAmount, maxAmount: deps.config.maxAmount, maxPerDay: deps.config.maxPerDay,
    presets: TOPUP_PRESETS.filter((a) => a >= deps.config.minAmount && a <= deps.config.maxAmount),
  } satisfies PaymentsConfig));

  app.post('/api/v1/wallet/topups', {
    schema: { body: { type: 'object', required: ['amount'], additionalProperties: false, properties: { amount: { type: 'integer' } } } },
  }, async (req, reply) => {
    const topups = enabled();
    const user = await auth.user(req);
    const topup = await topups.create(user.id, (req.body as { amount: number }).amount);
    return reply.status(201).send({ topup } satisfies TopupCreated);
  });

  app.get('/api/v1/wallet/topups', async (req) => {
    const topups = enabled();
    const user = await auth.user(req);
    return { topups: await topups.list(user.id) };
  });

  app.get('/api/v1/wallet/topups/:id', { schema: { params: idParam } }, async (req) => {
    const topups = enabled();
    const p = await auth.required(req);
    const topup = await ownTopup(topups, (req.params as { id: string }).id, actorOf(p));
    return { topup, events: await topups.events(topup.id) };
  });

  // The provider's confirmation (webhook or redirect-confirm): its signature is the authentication.
  app.post('/api/v1/payments/:provider/confirm', {
    schema: { params: { type: 'object', required: ['provider'], properties: { provider: { type: 'string', maxLength: 32 } } } },
  }, async (req, reply) => {
    const topups = enabled();
    if ((req.params as { provider: string }).provider !== topups.provider.name) throw new AppError('not_found', 'no such payment provider here');
    const r = await topups.confirm(await topups.provider.verify(req.body));
    return reply.status(r.replayed ? 200 : 201).send({ ...r, balance: await deps.ledger.balance(r.topup.userId) } satisfies TopupConfirmed);
  });

  app.post('/api/v1/wallet/topups/:id/test-complete', {
    schema: { params: idParam, body: { type: 'object', additionalProperties: false, properties: { cardNumber: { type: 'string', maxLength: 32 }, outcome: { type: 'string', enum: ['paid', 'fail'] } } } },
  }, async (req, reply) => {
    const topups = enabled();
    const provider = topups.provider;
    if (!(provider instanceof TestCheckoutProvider)) throw new AppError('not_found', 'test-complete exists only with payments.provider: test');
    const user = await auth.user(req);
    const topup = await ownTopup(topups, (req.params as { id: string }).id, { id: user.id, is_admin: 0 });
    const b = req.body as { cardNumber?: string; outcome?: 'paid' | 'fail' };
    if (b.outcome !== 'fail' && b.cardNumber === undefined) throw new AppError('validation_failed', 'cardNumber is required (or outcome: "fail")');
    // The page plays the gateway: the signed confirmation goes through the same path as a real callback.
    const signed = b.outcome === 'fail' ? provider.decline(topup) : provider.pay(topup, b.cardNumber ?? '');
    const r = await topups.confirm(await provider.verify(signed));
    return reply.status(r.replayed ? 200 : 201).send({ ...r, balance: await deps.ledger.balance(user.id) } satisfies TopupConfirmed);
  });

  app.post('/api/v1/wallet/topups/:id/refund', { schema: { params: idParam } }, async (req) => {
    const topups = enabled();
    const p = await auth.admin(req);
    return topups.refund((req.params as { id: string }).id, p.kind === 'user' ? `admin:${p.user.username}` : 'admin-token');
  });
}
