/**
 * Supporters: wallet-paid super chats, emoji effects and OBS overlay tokens.
 * `supportersFeature` plugs them into the server (REST routes always;
 * RPCs, the effects publish hook and publishing when the chat role runs here).
 */
import type { Registry } from 'prom-client';
import type { Feature } from '../../app/feature.js';
import type { OnairConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { Platform } from '../../platform/index.js';
import type { ChatExtensionPoint, PublishHook } from '../hooks.js';
import { AppError } from '../../http/errors.js';
import { WalletService, type PaymentProvider } from '../../platform/wallet/index.js';
import { SuperChatService } from './superchat.js';
import { EffectsAggregator, EFFECTS_PREFIX, effectsInText } from './effects.js';
import { OverlayTokenService } from './overlays.js';
import { createSupportersMetrics, type SupportersMetrics } from './metrics.js';
import { gateFromPublishHook, type MessageGate } from './gate.js';
import { supportersMigrations } from './db.js';
import { supportersRoutes } from './routes.js';
import { createTopups, paymentsMigrations, paymentsRoutes, type CheckoutProvider, type TopupService } from './payments/index.js';

export { SuperChatService, type SuperChat, type SendInput, type SendResult, type LeaderboardRow } from './superchat.js';
export { EffectsAggregator, TokenBucket, BUILTIN_EFFECTS, EFFECT_EMOJI, type EffectsPublication, type ReactResult } from './effects.js';
export { OverlayTokenService, OVERLAY_TOKEN_PREFIX, type PublicOverlay } from './overlays.js';
export { openGate, gateFromPublishHook, type MessageGate, type GateResult } from './gate.js';
export { tierFor, cleanMessage, formatKrw, CURRENCY, type Tier } from './tiers.js';
export { supportersMigrations, supportersDb } from './db.js';

/** RPC method names served on the chat connection. */
export const RPC = { superchatSend: 'superchat.send', superchatPinned: 'superchat.pinned', effectsReact: 'effects.react' } as const;

/** RPC_ERROR maps API error codes to RPC reply codes (Centrifugo leaves 400-1999 to applications). */
const RPC_ERROR: Partial<Record<AppError['code'], number>> = {
  bad_request: 400, validation_failed: 400, unauthorized: 401, payment_required: 402, forbidden: 403, not_found: 404, conflict: 409, too_many_requests: 429,
};
/** RPC_TOO_MANY_REQUESTS is the client protocol's own "too many requests" code. */
const RPC_TOO_MANY_REQUESTS = 111;
/** RPC_PERMISSION_DENIED is the client protocol's "permission denied" code. */
const RPC_PERMISSION_DENIED = 103;
const CHAT_PREFIX = 'chat:';
/** SUPERCHAT_TYPE prefixes the publication types only the server may send (superchat, superchat.refunded). */
const SUPERCHAT_TYPE = 'superchat';
/** CHANNEL_CACHE_MS: how long "this channel exists (or not)" is believed for reactions. */
const CHANNEL_CACHE_MS = 30_000;
const MAX_CHANNEL_CACHE = 10_000;

export interface Supporters {
  wallet: WalletService;
  superchats: SuperChatService;
  effects: EffectsAggregator;
  overlays: OverlayTokenService;
  metrics: SupportersMetrics;
  /** Wallet top-ups through payments.provider; undefined when it is none. */
  topups: TopupService | undefined;
  /** attachChat registers the RPCs and the effects publish hook, and starts publishing. */
  attachChat(chat: ChatExtensionPoint): void;
  stop(): Promise<void>;
}

export interface SupportersDeps {
  config: OnairConfig;
  platform: Platform;
  logger: Logger;
  registry: Registry;
  gate?: MessageGate;
  providers?: PaymentProvider[];
  /** A checkout provider for top-ups instead of the one payments.provider names (tests). */
  checkoutProvider?: CheckoutProvider;
  sessionOf?: (channel: string) => string | null;
}

class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const rpcError = (err: unknown): unknown => {
  if (err instanceof AppError) return new RpcError(RPC_ERROR[err.code] ?? 500, err.message);
  return err;
};

const asObject = (d: unknown): Record<string, unknown> => {
  if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new RpcError(400, 'data must be a JSON object');
  return d as Record<string, unknown>;
};

/** chatText reads the text of a chat message publication (moderation's stamped message, `{text}` or a bare string). */
function chatText(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  if (data === null || typeof data !== 'object') return undefined;
  const d = data as { type?: unknown; text?: unknown };
  return (d.type === undefined || d.type === 'message') && typeof d.text === 'string' ? d.text : undefined;
}

/** createSupporters builds the services; nothing is registered until routes/attachChat are called. */
export function createSupporters(deps: SupportersDeps): Supporters {
  const cfg = deps.config.supporters;
  const logger = deps.logger.child({ component: 'supporters' });
  const metrics = createSupportersMetrics(deps.registry);
  const wallet = new WalletService(deps.platform.db, { providers: deps.providers, maxCredit: cfg.maxCredit });
  const superchats = new SuperChatService({ db: deps.platform.db, ledger: wallet.ledger, config: cfg, logger, metrics, gate: deps.gate, sessionOf: deps.sessionOf });
  const effects = new EffectsAggregator({ logger, metrics, windowMs: cfg.effects.windowMs, ratePerSecond: cfg.effects.ratePerSecond, burst: cfg.effects.burst, custom: cfg.effects.custom });
  const overlays = new OverlayTokenService(deps.platform.db);
  const topups = createTopups({ db: deps.platform.db, ledger: wallet.ledger, config: deps.config.payments, logger, provider: deps.checkoutProvider });

  const known = new Map<string, { exists: boolean; at: number }>();
  const channelExists = async (name: string): Promise<boolean> => {
    const now = Date.now();
    const c = known.get(name);
    if (c && now - c.at < CHANNEL_CACHE_MS) return c.exists;
    const exists = typeof name === 'string' && name.length <= 64 && !!(await deps.platform.channels.find(name));
    if (known.size >= MAX_CHANNEL_CACHE) known.clear();
    known.set(name, { exists, at: now });
    return exists;
  };

  const react = async (channel: unknown, userKey: string, d: Record<string, unknown>) => {
    const effect = effects.normalize(d.effect);
    if (!effect) throw new RpcError(400, `unknown effect; one of ${[...effects.effects].join(', ')}`);
    const count = d.count === undefined ? 1 : d.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > cfg.effects.burst) throw new RpcError(400, `count: 1-${cfg.effects.burst}`);
    if (typeof channel !== 'string' || !(await channelExists(channel))) throw new RpcError(404, 'no such channel');
    const r = effects.react(channel, userKey, effect, count);
    if (r.accepted === 0) throw new RpcError(RPC_TOO_MANY_REQUESTS, `too many reactions; retry in ${r.retryAfterMs} ms`);
    return r;
  };

  const fireEffects = async (channel: string, userKey: string, text: string): Promise<void> => {
    const found = effectsInText(text);
    if (found.size === 0 || !(await channelExists(channel))) return;
    // Over the user's rate the emoji simply fire nothing: the message itself is never refused for it.
    for (const [effect, count] of found) if (effects.effects.has(effect)) effects.react(channel, userKey, effect, count);
  };

  const publishHook: PublishHook = {
    async onPublish(ctx) {
      if (ctx.channel.startsWith(CHAT_PREFIX)) {
        // Only the server publishes paid messages: a client cannot forge a super chat card.
        const type = (ctx.data as { type?: unknown } | null)?.type;
        if (typeof type === 'string' && type.startsWith(SUPERCHAT_TYPE)) return { action: 'reject', code: RPC_PERMISSION_DENIED, message: 'super chats are sent with the superchat.send RPC or the REST API' };
        // Effect emoji in a chat message (moderation, which runs before this hook, let it through) fire
        // the effects like the buttons do, through the same per-user buckets and per-window aggregation.
        const text = chatText(ctx.data);
        if (text) await fireEffects(ctx.channel.slice(CHAT_PREFIX.length), ctx.user || `client:${ctx.clientId}`, text);
        return { action: 'allow' };
      }
      if (!ctx.channel.startsWith(EFFECTS_PREFIX)) return { action: 'allow' };
      // Raw client publications into effects:{channel} are counted like the RPC, never fanned out one by one.
      try {
        const r = await react(ctx.channel.slice(EFFECTS_PREFIX.length), ctx.user || `client:${ctx.clientId}`, asObject(ctx.data));
        return { action: 'handled', reply: r };
      } catch (err) {
        const e = err as RpcError;
        if (e instanceof RpcError) return { action: 'reject', code: e.code, message: e.message };
        throw err;
      }
    },
  };

  return {
    wallet, superchats, effects, overlays, metrics, topups,
    attachChat(chat) {
      superchats.setPublisher(chat.publisher);
      effects.setPublisher(chat.publisher);
      chat.addPublishHook(publishHook);
      chat.registerRpc(RPC.effectsReact, async (ctx) => {
        const d = asObject(ctx.data);
        return react(d.channel, ctx.user || `client:${ctx.clientId}`, d);
      });
      chat.registerRpc(RPC.superchatSend, async (ctx) => {
        try {
          if (!ctx.user) throw new AppError('unauthorized', 'log in to send super chats');
          const d = asObject(ctx.data);
          if (typeof d.channel !== 'string') throw new AppError('validation_failed', 'channel is required');
          if (typeof d.amount !== 'number') throw new AppError('validation_failed', 'amount is required (KRW)');
          if (d.message !== undefined && typeof d.message !== 'string') throw new AppError('validation_failed', 'message must be a string');
          if (typeof d.idempotencyKey !== 'string') throw new AppError('bad_request', 'idempotencyKey is required (a unique string per payment, repeated unchanged on retries)');
          const [user, channel] = await Promise.all([deps.platform.users.findById(ctx.user), deps.platform.channels.require(d.channel)]);
          if (!user) throw new AppError('unauthorized', 'this chat identity has no account');
          return await superchats.send({
            channel, user: { id: user.id, name: user.display_name, info: ctx.info },
            amount: d.amount, message: (d.message) ?? '', tts: d.tts === true, idempotencyKey: d.idempotencyKey,
          });
        } catch (err) {
          throw rpcError(err);
        }
      });
      chat.registerRpc(RPC.superchatPinned, async (ctx) => {
        try {
          const d = asObject(ctx.data);
          if (typeof d.channel !== 'string') throw new AppError('validation_failed', 'channel is required');
          return { now: Date.now(), pinned: await superchats.pinned(await deps.platform.channels.require(d.channel)) };
        } catch (err) {
          throw rpcError(err);
        }
      });
    },
    async stop() {
      await effects.stop();
    },
  };
}

/** sessionId names a stream session by its start in epoch ms (the media role reports an ISO time or ms). */
export function sessionId(since: unknown): string | null {
  const ms = typeof since === 'number' ? since : typeof since === 'string' ? Date.parse(since) : NaN;
  return Number.isFinite(ms) && ms > 0 ? String(Math.trunc(ms)) : null;
}

/**
 * supportersFeature plugs supporters into the server: REST routes always; with the chat role
 * here, the RPCs, the effects publish hook and publishing; moderation (when it runs here) gates
 * every super chat's text.
 */
export const supportersFeature: Feature<'supporters', { chat?: ChatExtensionPoint; moderation?: PublishHook }, Supporters> = {
  name: 'supporters',
  roles: ['api'],
  migrations: { ...supportersMigrations, ...paymentsMigrations },
  deps: { chat: 'optional', moderation: 'optional' },
  create(base, { chat, moderation }) {
    const sessionOf = (channel: string): string | null => {
      const live = base.api.liveInfo?.(channel);
      return live?.live ? sessionId(live.since) : null;
    };
    const s = createSupporters({
      config: base.config, platform: base.platform, logger: base.logger, registry: base.registry, sessionOf,
      ...(moderation ? { gate: gateFromPublishHook(moderation) } : {}),
    });
    supportersRoutes(base.http, { api: base.api, config: base.config.supporters, wallet: s.wallet, superchats: s.superchats, overlays: s.overlays, effects: s.effects });
    paymentsRoutes(base.http, { api: base.api, config: base.config.payments, ledger: s.wallet.ledger, topups: s.topups });
    if (chat) s.attachChat(chat);
    return { api: s, stop: () => s.stop() };
  },
};
