/**
 * REST routes of the wallet, super chats, supporters and overlays (/api/v1).
 * docs/supporters.md documents every shape.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../../http/routes/context.js';
import { actorOf } from '../../http/auth.js';
import { AppError, badRequest } from '../../http/errors.js';
import type { WalletService } from '../../platform/wallet/index.js';
import type { OnairConfig } from '../../config/schema.js';
import type { SuperChatService } from './superchat.js';
import type { OverlayTokenService } from './overlays.js';
import type { EffectsAggregator } from './effects.js';
import { CURRENCY } from './tiers.js';
import type { Earnings, OverlayCreated, OverlayList, OverlayPage, Pinned, SuperChatSent, Supporters, Wallet } from '../../api/schemas.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
/** IDEMPOTENCY_HEADER is the header a client repeats unchanged when it retries a payment. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** REPLAYED_HEADER marks an answer that repeats an earlier request's result. */
export const REPLAYED_HEADER = 'idempotent-replayed';

export interface SupportersRouteDeps {
  api: ApiContext;
  config: OnairConfig['supporters'];
  wallet: WalletService;
  superchats: SuperChatService;
  overlays: OverlayTokenService;
  effects: EffectsAggregator;
}

function idempotencyKey(req: FastifyRequest): string {
  const v = req.headers[IDEMPOTENCY_HEADER];
  const key = Array.isArray(v) ? v[0] : v;
  if (!key || !key.trim()) throw badRequest('the Idempotency-Key header is required (a unique string per payment, repeated unchanged on retries)');
  if (key.length > 100) throw badRequest('the Idempotency-Key header is at most 100 characters');
  return key.trim();
}

export function supportersRoutes(app: FastifyInstance, deps: SupportersRouteDeps): void {
  const { api, wallet, superchats, overlays } = deps;
  const { platform, auth } = api;

  // ---- wallet ----

  app.get('/api/v1/wallet', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, before: { type: 'string', pattern: '^[0-9]{1,16}$' } } } },
  }, async (req) => {
    const user = await auth.user(req);
    const q = req.query as { limit?: string; before?: string };
    const [balance, entries] = await Promise.all([
      wallet.ledger.balance(user.id),
      wallet.ledger.entries(user.id, { limit: q.limit ? Math.max(1, Math.min(Number(q.limit), 200)) : 50, before: q.before ? Number(q.before) : undefined }),
    ]);
    return { currency: CURRENCY, balance, entries } satisfies Wallet;
  });

  app.post('/api/v1/wallet/credits', {
    schema: { body: { type: 'object', required: ['username', 'amount'], additionalProperties: false, properties: {
      username: { type: 'string', maxLength: 64 }, amount: { type: 'integer', minimum: 1 }, note: { type: 'string', maxLength: 200 }, paymentId: { type: 'string', minLength: 1, maxLength: 100 },
    } } },
  }, async (req, reply) => {
    const p = await auth.admin(req);
    const b = req.body as { username: string; amount: number; note?: string; paymentId?: string };
    const u = await platform.users.requireByName(b.username);
    const r = await wallet.credit({ provider: 'manual', userId: u.id, amount: b.amount, note: b.note, paymentId: b.paymentId, actor: p.kind === 'user' ? p.user.username : 'admin-token' });
    if (r.replayed) reply.header(REPLAYED_HEADER, 'true');
    return reply.status(r.replayed ? 200 : 201).send({ user: u.username, currency: CURRENCY, balance: r.balance, entry: r.entry, replayed: r.replayed });
  });

  app.get('/api/v1/wallet/verify', async (req) => {
    await auth.admin(req);
    return wallet.ledger.verify();
  });

  // ---- super chats ----

  app.get('/api/v1/supporters/config', async () => ({
    currency: CURRENCY,
    minAmount: deps.config.minAmount,
    maxAmount: deps.config.maxAmount,
    tiers: superchats.tiers(),
    effects: { names: [...deps.effects.effects], windowMs: deps.config.effects.windowMs, ratePerSecond: deps.config.effects.ratePerSecond, burst: deps.config.effects.burst },
  }));

  app.post('/api/v1/channels/:name/superchats', {
    schema: { params: nameParam, body: { type: 'object', required: ['amount'], additionalProperties: false, properties: {
      amount: { type: 'integer' }, message: { type: 'string', maxLength: 2000 }, tts: { type: 'boolean' },
    } } },
  }, async (req, reply) => {
    const user = await auth.user(req);
    const key = idempotencyKey(req);
    const b = req.body as { amount: number; message?: string; tts?: boolean };
    const channel = await platform.channels.require((req.params as { name: string }).name);
    const r = await superchats.send({ channel, user: { id: user.id, name: user.display_name }, amount: b.amount, message: b.message ?? '', tts: b.tts, idempotencyKey: key });
    if (r.replayed) reply.header(REPLAYED_HEADER, 'true');
    return reply.status(r.replayed ? 200 : 201).send(r satisfies SuperChatSent);
  });

  app.get('/api/v1/channels/:name/superchats', {
    schema: { params: nameParam, querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' } } } },
  }, async (req) => {
    const p = await auth.required(req);
    const channel = await platform.channels.require((req.params as { name: string }).name);
    await platform.channels.assertCanManage(channel, actorOf(p));
    const q = req.query as { limit?: string };
    return { superchats: await superchats.recent(channel, q.limit ? Math.max(1, Math.min(Number(q.limit), 200)) : 50) };
  });

  app.get('/api/v1/channels/:name/superchats/pinned', { schema: { params: nameParam } }, async (req) => {
    const channel = await platform.channels.require((req.params as { name: string }).name);
    return { now: Date.now(), pinned: await superchats.pinned(channel) } satisfies Pinned;
  });

  app.post('/api/v1/superchats/:id/refund', {
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } }, body: { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 200 } } } },
  }, async (req) => {
    await auth.admin(req);
    const b = (req.body ?? {}) as { note?: string };
    return superchats.refund((req.params as { id: string }).id, b.note);
  });

  app.get('/api/v1/channels/:name/supporters', {
    schema: { params: nameParam, querystring: { type: 'object', additionalProperties: false, properties: { period: { type: 'string', enum: ['stream', 'all'] }, limit: { type: 'string', pattern: '^[0-9]{1,3}$' } } } },
  }, async (req) => {
    const channel = await platform.channels.require((req.params as { name: string }).name);
    const q = req.query as { period?: 'stream' | 'all'; limit?: string };
    const period = q.period ?? 'all';
    const limit = q.limit ? Math.max(1, Math.min(Number(q.limit), 100)) : 10;
    if (period === 'all') return { period, session: null, currency: CURRENCY, supporters: await superchats.leaderboard(channel, { limit }) } satisfies Supporters;
    const session = await superchats.latestSession(channel);
    return { period, session, currency: CURRENCY, supporters: await superchats.leaderboard(channel, { session, limit }) } satisfies Supporters;
  });

  app.get('/api/v1/channels/:name/earnings', { schema: { params: nameParam } }, async (req) => {
    const p = await auth.required(req);
    const channel = await platform.channels.require((req.params as { name: string }).name);
    await platform.channels.assertCanManage(channel, actorOf(p));
    return (await superchats.earnings(channel)) satisfies Earnings;
  });

  // ---- overlays ----

  app.post('/api/v1/channels/:name/overlays', {
    schema: { params: nameParam, body: { type: ['object', 'null'], additionalProperties: false, properties: { label: { type: 'string', maxLength: 64 } } } },
  }, async (req, reply) => {
    const p = await auth.required(req);
    const channel = await platform.channels.require((req.params as { name: string }).name);
    await platform.channels.assertCanManage(channel, actorOf(p), 'owner');
    const b = (req.body ?? {}) as { label?: string };
    const o = await overlays.create(channel, b.label ?? '', p.kind === 'user' ? p.user.id : null);
    const { token, ...overlay } = o;
    return reply.status(201).send({ overlay, token, url: `/overlay/${channel.name}?token=${encodeURIComponent(token)}` } satisfies OverlayCreated);
  });

  app.get('/api/v1/channels/:name/overlays', { schema: { params: nameParam } }, async (req) => {
    const p = await auth.required(req);
    const channel = await platform.channels.require((req.params as { name: string }).name);
    await platform.channels.assertCanManage(channel, actorOf(p), 'owner');
    return { overlays: await overlays.list(channel) } satisfies OverlayList;
  });

  app.delete('/api/v1/channels/:name/overlays/:id', {
    schema: { params: { type: 'object', required: ['name', 'id'], properties: { name: { type: 'string', maxLength: 64 }, id: { type: 'string', maxLength: 64 } } } },
  }, async (req) => {
    const p = await auth.required(req);
    const { name, id } = req.params as { name: string; id: string };
    const channel = await platform.channels.require(name);
    await platform.channels.assertCanManage(channel, actorOf(p), 'owner');
    return { overlay: await overlays.revoke(channel, id) };
  });

  app.get('/api/v1/overlay/:name', {
    schema: { params: nameParam, querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 200 } } } },
  }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const channel = await platform.channels.find(name);
    // Same answer for an unknown channel as for a bad token: the URL reveals nothing without its secret.
    if (!channel) throw new AppError('unauthorized', 'unknown overlay token for this channel');
    const overlay = await overlays.validate(channel, (req.query as { token?: string }).token);
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
    let chat: { token: string; expiresAt: number; url: string; channels: Record<string, string> } | null = null;
    if (api.issueChatToken) {
      // A signed token without a user: it may read, while moderation refuses chat from anonymous
      // connections, so a leaked overlay URL cannot post. Signed, it works with chat.anonymous off too.
      const t = await api.issueChatToken(undefined, deps.config.overlay.chatTokenTtlSeconds);
      chat = { ...t, url: '/connection/websocket', channels: { chat: `chat:${channel.name}`, events: `events:${channel.name}`, effects: `effects:${channel.name}` } };
    }
    return {
      overlay: { id: overlay.id, label: overlay.label },
      channel: { name: channel.name, title: channel.title },
      chat,
      now: Date.now(),
      pinned: await superchats.pinned(channel),
      currency: CURRENCY,
      locale: 'ko-KR',
      tiers: superchats.tiers(),
      effects: [...deps.effects.effects],
    } satisfies OverlayPage;
  });
}
