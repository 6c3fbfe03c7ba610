/**
 * SuperChatService: a paid, highlighted chat message. Order of work:
 * validate → find a replay by idempotency key → moderation gate (a refused
 * message is never charged) → debit and record in one transaction → publish
 * to `chat:{channel}` and `events:{channel}`.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import type { ChannelsTable } from '../../platform/db/schema.js';
import type { OnairConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { ChatUserInfo, ServerPublisher } from '../hooks.js';
import { AppError } from '../../http/errors.js';
import { newId } from '../../platform/ids.js';
import { isUniqueViolation } from '../../platform/users.js';
import { writeTransaction, type WalletLedger } from '../../platform/wallet/ledger.js';
import { supportersDb, type SuperChatsTable } from './db.js';
import { cleanMessage, CURRENCY, formatKrw, textLength, tierFor, type Tier } from './tiers.js';
import { openGate, type MessageGate } from './gate.js';
import type { SupportersMetrics } from './metrics.js';

/** SUPERCHAT_KEY_PREFIX scopes the wallet debit's idempotency key to super chats. */
const SUPERCHAT_KEY_PREFIX = 'superchat:';
/** MAX_PINS bounds the ticker a late joiner receives. */
const MAX_PINS = 50;

/** SuperChat is the typed publication and API shape of one super chat. */
export interface SuperChat {
  type: 'superchat';
  id: string;
  channel: string;
  user: { id: string; name: string };
  amount: number;
  currency: typeof CURRENCY;
  tier: Tier;
  message: string;
  tts: boolean;
  /** Sent at, epoch ms. */
  ts: number;
  /** Pinned in the ticker until (epoch ms); equals ts for tiers without a pin. */
  pinnedUntil: number;
  session: string | null;
}

export interface SendInput {
  channel: ChannelsTable;
  user: { id: string; name: string; info?: ChatUserInfo };
  amount: number;
  message: string;
  tts?: boolean;
  idempotencyKey: string;
}

export interface SendResult {
  superchat: SuperChat;
  balance: number;
  replayed: boolean;
}

export interface LeaderboardRow {
  rank: number;
  user: { id: string; username: string; name: string };
  /** Same as user.username / user.name, flat for simple list renderers. */
  username: string;
  name: string;
  amount: number;
  count: number;
}

export interface SuperChatDeps {
  db: Db;
  ledger: WalletLedger;
  config: OnairConfig['supporters'];
  logger: Logger;
  metrics: SupportersMetrics;
  /** Chat publisher; without one (no chat role here) super chats are stored and pinned but not pushed. */
  publisher?: ServerPublisher;
  gate?: MessageGate;
  /** sessionOf names the channel's current stream session, or null when it is offline. */
  sessionOf?: (channel: string) => string | null;
}

const hashRequest = (channel: string, amount: number, message: string, tts: boolean): string =>
  createHash('sha256').update(JSON.stringify([channel, amount, message, tts])).digest('hex');

export class SuperChatService {
  private readonly k;
  constructor(private readonly deps: SuperChatDeps) {
    this.k = supportersDb(deps.db);
  }

  /** gate may be set later, once moderation is wired. */
  setGate(gate: MessageGate | undefined): void {
    this.deps.gate = gate;
  }

  setPublisher(p: ServerPublisher | undefined): void {
    this.deps.publisher = p;
  }

  tiers(): Tier[] {
    return this.deps.config.tiers.map((t, index) => ({ index, ...t }));
  }

  async send(input: SendInput): Promise<SendResult> {
    const cfg = this.deps.config;
    const { amount } = input;
    if (!Number.isSafeInteger(amount) || amount < cfg.minAmount || amount > cfg.maxAmount) {
      throw new AppError('validation_failed', `amount: a whole number of won from ${formatKrw(cfg.minAmount)} to ${formatKrw(cfg.maxAmount)}`);
    }
    const key = input.idempotencyKey;
    if (typeof key !== 'string' || key.length < 1 || key.length > 100) throw new AppError('bad_request', 'Idempotency-Key: 1-100 characters');
    const tier = tierFor(amount, cfg.tiers)!;
    const tts = input.tts === true;
    const cleaned = cleanMessage(typeof input.message === 'string' ? input.message : '');
    const requestHash = hashRequest(input.channel.id, amount, cleaned, tts);

    const prior = await this.byKey(input.user.id, key);
    if (prior) return this.replay(prior, requestHash);

    if (textLength(cleaned) > tier.maxMessageLength) {
      throw new AppError('validation_failed', `message: at most ${tier.maxMessageLength} characters for a ${formatKrw(amount)} super chat (tier ${tier.name})`, { maxMessageLength: tier.maxMessageLength, tier: tier.name });
    }
    if (cleaned.startsWith('/')) throw new AppError('validation_failed', 'message: a super chat cannot start with "/" (chat commands are not paid messages)');
    // Amount-only super chats are checked too: a banned user's name must not reach the screen.
    const verdict = await (this.deps.gate ?? openGate).check(input.channel.name, { id: input.user.id, info: input.user.info }, cleaned);
    if (!verdict.ok) throw new AppError('forbidden', `moderation refused the message: ${verdict.message}`, { moderationCode: verdict.code });
    const text = cleaned === '' ? '' : cleanMessage(verdict.text);

    const now = Date.now();
    const session = this.deps.sessionOf?.(input.channel.name) ?? null;
    const id = newId();
    let row: SuperChatsTable | undefined;
    let result;
    try {
      result = await this.deps.ledger.debit(
        { userId: input.user.id, amount, idempotencyKey: SUPERCHAT_KEY_PREFIX + key, provider: 'superchat', reference: id, note: `super chat in ${input.channel.name}` },
        async (trx, entry) => {
          row = {
            id, channel_id: input.channel.id, user_id: input.user.id, amount, message: text, tts: tts ? 1 : 0,
            tier: tier.index, tier_json: JSON.stringify(tier), session_id: session, entry_id: entry.id,
            idempotency_key: key, request_hash: requestHash, created_at: now, pinned_until: now + tier.pinSeconds * 1000, refunded_at: null,
          };
          await (trx as unknown as typeof this.k).insertInto('superchats').values(row).execute();
        },
      );
    } catch (err) {
      if (isUniqueViolation(err)) {
        const again = await this.byKey(input.user.id, key);
        if (again) return this.replay(again, requestHash);
      }
      throw err;
    }
    if (result.replayed || !row) {
      // A concurrent request with the same key won the race; answer with its super chat.
      const again = await this.byKey(input.user.id, key);
      if (!again) throw new AppError('conflict', 'this idempotency key was already used for a wallet debit of another kind');
      return this.replay(again, requestHash);
    }
    const sc = this.view(row, input.channel.name, input.user.name);
    this.deps.metrics.superchats.inc({ tier: tier.name });
    this.deps.metrics.superchatAmount.inc(amount);
    await this.publish(sc);
    return { superchat: sc, balance: result.balance, replayed: false };
  }

  private async publish(sc: SuperChat): Promise<void> {
    const p = this.deps.publisher;
    if (!p) return;
    const results = await Promise.allSettled([p.publish(`chat:${sc.channel}`, sc), p.publish(`events:${sc.channel}`, sc)]);
    for (const r of results) if (r.status === 'rejected') this.deps.logger.warn({ err: r.reason, superchat: sc.id }, 'super chat: publish failed (it is paid, stored and pinned)');
  }

  private async replay(prior: SuperChatsTable, requestHash: string): Promise<SendResult> {
    if (prior.request_hash !== requestHash) throw new AppError('conflict', 'this Idempotency-Key was already used for a different super chat', { id: prior.id });
    const [full] = await this.load(this.k.selectFrom('superchats').where('superchats.id', '=', prior.id));
    return { superchat: full!, balance: await this.deps.ledger.balance(prior.user_id), replayed: true };
  }

  private byKey(userId: string, key: string): Promise<SuperChatsTable | undefined> {
    return this.k.selectFrom('superchats').selectAll().where('user_id', '=', userId).where('idempotency_key', '=', key).executeTakeFirst();
  }

  private view(r: SuperChatsTable, channel: string, name: string): SuperChat {
    return {
      type: 'superchat', id: r.id, channel, user: { id: r.user_id, name }, amount: Number(r.amount), currency: CURRENCY,
      tier: JSON.parse(r.tier_json) as Tier, message: r.message, tts: r.tts === 1, ts: Number(r.created_at), pinnedUntil: Number(r.pinned_until), session: r.session_id,
    };
  }

  private async load(q: ReturnType<typeof this.k.selectFrom<'superchats'>>): Promise<SuperChat[]> {
    const rows = await q
      .innerJoin('users', 'users.id', 'superchats.user_id')
      .innerJoin('channels', 'channels.id', 'superchats.channel_id')
      .selectAll('superchats')
      .select(['users.display_name as user_name', 'channels.name as channel_name'])
      .execute();
    return rows.map((r) => this.view(r, r.channel_name, r.user_name));
  }

  async get(id: string): Promise<SuperChat | undefined> {
    return (await this.load(this.k.selectFrom('superchats').where('superchats.id', '=', id)))[0];
  }

  /** pinned lists the super chats still pinned in a channel's ticker, newest first. */
  async pinned(channel: ChannelsTable, now = Date.now()): Promise<SuperChat[]> {
    const rows = await this.load(
      this.k.selectFrom('superchats').where('superchats.channel_id', '=', channel.id).where('superchats.pinned_until', '>', now).where('superchats.refunded_at', 'is', null),
    );
    return rows.sort((a, b) => b.ts - a.ts).slice(0, MAX_PINS);
  }

  /** recent lists a channel's latest super chats (for the studio), newest first. */
  async recent(channel: ChannelsTable, limit = 50): Promise<SuperChat[]> {
    const ids = await this.k.selectFrom('superchats').select('id').where('channel_id', '=', channel.id).orderBy('created_at', 'desc').limit(limit).execute();
    if (!ids.length) return [];
    const rows = await this.load(this.k.selectFrom('superchats').where('superchats.id', 'in', ids.map((r) => r.id)));
    return rows.sort((a, b) => b.ts - a.ts);
  }

  /** latestSession is the channel's current stream session, else the last one that had super chats. */
  async latestSession(channel: ChannelsTable): Promise<string | null> {
    const live = this.deps.sessionOf?.(channel.name);
    if (live) return live;
    const r = await this.k.selectFrom('superchats').select('session_id').where('channel_id', '=', channel.id).where('session_id', 'is not', null)
      .orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return r?.session_id ?? null;
  }

  /** leaderboard ranks supporters by KRW given (refunds excluded), for one session or all time. */
  async leaderboard(channel: ChannelsTable, opts: { session?: string | null; limit?: number } = {}): Promise<LeaderboardRow[]> {
    let q = this.k
      .selectFrom('superchats')
      .innerJoin('users', 'users.id', 'superchats.user_id')
      .select(['users.id as id', 'users.username as username', 'users.display_name as name', sql<string>`sum(superchats.amount)`.as('total'), sql<string>`count(*)`.as('n'), sql<string>`min(superchats.created_at)`.as('first')])
      .where('superchats.channel_id', '=', channel.id)
      .where('superchats.refunded_at', 'is', null)
      .groupBy(['users.id', 'users.username', 'users.display_name']);
    if (opts.session !== undefined) q = opts.session === null ? q.where(sql<boolean>`1 = 0`) : q.where('superchats.session_id', '=', opts.session);
    const rows = await q.execute();
    return rows
      .map((r) => ({ user: { id: r.id, username: r.username, name: r.name }, amount: Number(r.total), count: Number(r.n), first: Number(r.first) }))
      // Ties go to whoever gave first.
      .sort((a, b) => b.amount - a.amount || a.first - b.first)
      .slice(0, Math.min(opts.limit ?? 10, 100))
      .map(({ first: _first, ...r }, i) => ({ rank: i + 1, ...r, username: r.user.username, name: r.user.name }));
  }

  /** earnings sums a channel's super chats per stream session and per supporter (refunds excluded). */
  async earnings(channel: ChannelsTable): Promise<{ currency: string; total: number; count: number; sessions: { session: string | null; startedAt: number | null; amount: number; count: number }[]; supporters: LeaderboardRow[] }> {
    const rows = await this.k
      .selectFrom('superchats')
      .select(['session_id', sql<string>`sum(amount)`.as('total'), sql<string>`count(*)`.as('n'), sql<string>`max(created_at)`.as('last')])
      .where('channel_id', '=', channel.id)
      .where('refunded_at', 'is', null)
      .groupBy('session_id')
      .execute();
    const sessions = rows
      .map((r) => ({ session: r.session_id, startedAt: r.session_id && /^\d+$/.test(r.session_id) ? Number(r.session_id) : null, amount: Number(r.total), count: Number(r.n), last: Number(r.last) }))
      .sort((a, b) => b.last - a.last)
      .map(({ last: _last, ...s }) => s);
    return {
      currency: CURRENCY,
      total: sessions.reduce((s, r) => s + r.amount, 0),
      count: sessions.reduce((s, r) => s + r.count, 0),
      sessions,
      supporters: await this.leaderboard(channel, { limit: 100 }),
    };
  }

  /** refund returns a super chat's money to its sender once, unpins it and tells chat and overlays. */
  async refund(id: string, note?: string): Promise<{ superchat: SuperChat; balance: number; replayed: boolean }> {
    const row = await this.k.selectFrom('superchats').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('not_found', `no super chat "${id}"`);
    const r = await this.deps.ledger.refund(row.entry_id, note ?? 'super chat refunded');
    if (!r.replayed || row.refunded_at === null) {
      await writeTransaction(this.deps.db, async (trx) => {
        await (trx as unknown as typeof this.k).updateTable('superchats').set({ refunded_at: r.entry.createdAt, pinned_until: Math.min(Number(row.pinned_until), r.entry.createdAt) }).where('id', '=', id).where('refunded_at', 'is', null).execute();
      });
    }
    const sc = (await this.get(id))!;
    if (!r.replayed && this.deps.publisher) {
      const ev = { type: 'superchat.refunded', id, ts: r.entry.createdAt };
      await Promise.allSettled([this.deps.publisher.publish(`chat:${sc.channel}`, ev), this.deps.publisher.publish(`events:${sc.channel}`, ev)]);
    }
    return { superchat: sc, balance: r.balance, replayed: r.replayed };
  }
}
