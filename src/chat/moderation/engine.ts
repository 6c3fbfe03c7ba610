/**
 * ModerationEngine is the chat moderation core: the publish hook that checks
 * and stamps every message into `chat:{channel}`, and the executor of
 * moderation commands (from chat, RPC or REST).
 *
 * Caching and consistency across nodes: a channel's persistent rules (modes,
 * active bans/timeouts, compiled word filter) are read from the database once
 * and cached per node. Every change made through the engine writes the
 * database, drops the local cache at once and broadcasts an invalidation
 * through ModerationState (Redis pub/sub when configured), so every node
 * re-reads on its next message — well within a second. As a safety net for
 * changes made outside the engine, cached rules expire after
 * `rulesCacheSeconds` and roles after `roleCacheSeconds`. Timeout expiry is
 * checked against the clock on every message, so an expired timeout stops
 * applying at once without any reload.
 */
import { Counter, type Registry } from 'prom-client';
import type { PublishContext, PublishDecision, PublishHook, ServerPublisher } from '../hooks.js';
import type { Platform } from '../../platform/index.js';
import type { Logger } from '../../observability/logger.js';
import { ModerationError, formatDuration } from './codes.js';
import { DEFAULT_MODES, HELP_TEXT, isCommand, parseCommand, type Command, type ModeSettings } from './commands.js';
import { GLOBAL_SCOPE, ModerationStore, type Restriction } from './db.js';
import { WordFilter, type FilterEntry, type FilterResult } from './filter.js';
import { MESSAGE_ID_PATTERN, newMessageId, systemMessage, textOf, type Badge, type ChatMessage } from './message.js';
import { assertMayRun, assertMayTarget, isPrivileged, NO_ROLES, type Roles } from './permissions.js';
import { fingerprint, hasLink, isEmoteOnly } from './content.js';
import { MemoryModerationState, type AdmitRequest, type Invalidation, type ModerationState } from './state.js';
import { LruMap } from '../lru.js';

/** ModerationSettings are the tunables (config key `moderation`). */
export interface ModerationSettings {
  maxMessageLength: number;
  rateLimitMessages: number;
  rateLimitWindowSeconds: number;
  duplicateWindowSeconds: number;
  uniqueWindowSeconds: number;
  rulesCacheSeconds: number;
  roleCacheSeconds: number;
  recentMessages: number;
  recentMessagesSeconds: number;
  deleteMessagesOnBan: boolean;
}

export const DEFAULT_MODERATION_SETTINGS: ModerationSettings = {
  maxMessageLength: 500,
  rateLimitMessages: 20,
  rateLimitWindowSeconds: 30,
  duplicateWindowSeconds: 30,
  uniqueWindowSeconds: 30,
  rulesCacheSeconds: 30,
  roleCacheSeconds: 5,
  recentMessages: 50,
  recentMessagesSeconds: 600,
  deleteMessagesOnBan: true,
};

/** PRIVILEGED_RATE_FACTOR: owners and managers may post this many times the normal rate. */
const PRIVILEGED_RATE_FACTOR = 5;
const CHAT_PREFIX = 'chat:';
const ROLE_CACHE_MAX = 100_000;
/** RULES_CACHE_MAX bounds the channels whose moderation rules are kept loaded. */
const RULES_CACHE_MAX = 10_000;
/** NEGATIVE_RECHECK_MS: how often a "not subscribed / not following" answer is re-read. */
const NEGATIVE_RECHECK_MS = 1000;

/** Actor is who runs a command: a user id (empty for the operator's admin token) and an admin flag for the token. */
export interface Actor {
  id: string;
  /** true for the operator's admin token; users' admin flags are read from the database. */
  admin?: boolean;
}

/** CommandResult is what a command answers its caller. */
export interface CommandResult {
  ok: true;
  action: string;
  message: string;
  data?: unknown;
}

interface ChannelRules {
  name: string;
  /** '' when the channel is unknown to the platform (only global rules apply). */
  id: string;
  ownerId: string | null;
  modes: ModeSettings;
  restrictions: Map<string, Restriction>;
  filter: WordFilter;
  channelFilters: FilterEntry[];
  loadedAt: number;
}

interface RoleEntry {
  roles: Roles;
  name: string;
  at: number;
  subscribed?: boolean;
  subCheckedAt?: number;
  followedAt?: number | null;
  followCheckedAt?: number;
}

export interface ModerationEngineDeps {
  platform: Platform;
  store: ModerationStore;
  state: ModerationState;
  publisher?: ServerPublisher;
  settings?: Partial<ModerationSettings>;
  registry?: Registry;
  logger?: Logger;
  now?: () => number;
}

export class ModerationEngine implements PublishHook {
  readonly settings: ModerationSettings;
  readonly store: ModerationStore;
  readonly state: ModerationState;
  private readonly platform: Platform;
  private publisher: ServerPublisher | undefined;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  /** Loaded channel rules, least recently used forgotten first (names come from clients). */
  private readonly rules = new LruMap<string, ChannelRules>(RULES_CACHE_MAX);
  private readonly loading = new Map<string, Promise<ChannelRules>>();
  private readonly generation = new LruMap<string, number>(RULES_CACHE_MAX);
  private globalFilters: { entries: FilterEntry[]; at: number } | undefined;
  private readonly roleCache = new LruMap<string, RoleEntry>(ROLE_CACHE_MAX);
  private readonly roleLoading = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private readonly actions: Counter<'action'>;
  private readonly refused: Counter<'reason'>;

  constructor(deps: ModerationEngineDeps) {
    this.platform = deps.platform;
    this.store = deps.store;
    this.state = deps.state;
    this.publisher = deps.publisher;
    this.settings = { ...DEFAULT_MODERATION_SETTINGS, ...deps.settings };
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.actions = counter(deps.registry, 'onair_moderation_actions_total', 'Moderation actions executed, by action.', 'action');
    this.refused = counter(deps.registry, 'onair_moderation_refused_total', 'Chat messages or commands refused by moderation, by reason.', 'reason');
  }

  /** start listens for invalidations from other nodes. */
  start(): void {
    this.unsubscribe ??= this.state.onInvalidation((m) => this.applyInvalidation(m));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  setPublisher(p: ServerPublisher): void {
    this.publisher = p;
  }

  // ---- the publish hook ----

  async onPublish(ctx: PublishContext): Promise<PublishDecision> {
    if (!ctx.channel.startsWith(CHAT_PREFIX)) return { action: 'allow' };
    const name = ctx.channel.slice(CHAT_PREFIX.length);
    try {
      const raw = textOf(ctx.data);
      if (raw === undefined) throw new ModerationError('badMessage', 'publish {"text": "..."} into chat channels');
      const text = raw.trim();
      if (text === '') throw new ModerationError('badMessage', 'the message is empty');
      if (!ctx.user) throw new ModerationError('loginRequired', 'log in to chat');
      const rules = this.cachedRules(name) ?? (await this.rulesOf(name));
      if (isCommand(text)) {
        const result = await this.execute({ id: ctx.user }, name, parseCommand(text), rules);
        return { action: 'handled', reply: { result } };
      }
      const msg = await this.check(rules, ctx.user, text, ctx.info);
      return { action: 'allow', data: msg };
    } catch (err) {
      if (err instanceof ModerationError) {
        this.refused.inc({ reason: err.reason });
        return { action: 'reject', code: err.code, message: err.message };
      }
      this.logger?.error({ err, channel: ctx.channel }, 'moderation: publish check failed');
      return { action: 'reject', code: 100, message: 'internal error', temporary: true };
    }
  }

  /** check runs every rule on one message and returns the message to publish, or throws ModerationError. */
  private async check(rules: ChannelRules, userId: string, input: string, info: PublishContext['info']): Promise<ChatMessage> {
    const s = this.settings;
    const now = this.now();
    const entry = this.cachedRole(rules, userId) ?? (await this.roleEntry(rules, userId));
    const roles = entry.roles;
    const priv = isPrivileged(roles);
    if (!roles.owner && !roles.admin) {
      const r = rules.restrictions.get(userId);
      if (r && (r.expiresAt === null || r.expiresAt > now)) {
        if (r.kind === 'timeout') throw new ModerationError('timedOut', `you are timed out in this chat for ${formatDuration(r.expiresAt! - now)} more${r.reason ? ` (${r.reason})` : ''}`, r.expiresAt! - now);
        throw new ModerationError('banned', r.expiresAt === null ? `you are banned from this chat${r.reason ? ` (${r.reason})` : ''}` : `you are banned from this chat for ${formatDuration(r.expiresAt - now)} more${r.reason ? ` (${r.reason})` : ''}`, r.expiresAt === null ? undefined : r.expiresAt - now);
      }
    }
    if (input.length > s.maxMessageLength && [...input].length > s.maxMessageLength) {
      throw new ModerationError('tooLong', `messages are at most ${s.maxMessageLength} characters`);
    }
    const m = rules.modes;
    let text = input;
    if (!priv) {
      if (m.subOnly && !(await this.isSubscribed(rules, entry, userId))) throw new ModerationError('subscribersOnly', 'this chat is in subscriber-only mode');
      if (m.followOnlyMinutes !== null) {
        const at = await this.followedAt(rules, entry, userId);
        if (at === null) throw new ModerationError('followersOnly', `this chat is in follower-only mode${m.followOnlyMinutes ? ` (${formatDuration(m.followOnlyMinutes * 60_000)} of following)` : ''}; follow the channel to chat`);
        const wait = at + m.followOnlyMinutes * 60_000 - now;
        if (wait > 0) throw new ModerationError('followersOnly', `this chat is in follower-only mode; you can chat in ${formatDuration(wait)}`, wait);
      }
      if (m.emoteOnly && !isEmoteOnly(text)) throw new ModerationError('emoteOnly', 'this chat is in emote-only mode');
      if (m.blockLinks && hasLink(text)) throw new ModerationError('linkBlocked', 'links are not allowed in this chat');
      const f = rules.filter.check(text);
      if (f.action === 'block') throw new ModerationError('wordBlocked', 'your message contains a blocked word');
      if (f.action === 'mask') text = f.text;
    }
    const id = newMessageId();
    const key = rules.name + ':' + userId;
    const req: AdmitRequest = {
      now,
      rate: { key: 'r:' + key, limit: s.rateLimitMessages * (priv ? PRIVILEGED_RATE_FACTOR : 1), windowMs: s.rateLimitWindowSeconds * 1000 },
      recent: s.recentMessages > 0 ? { key: 'm:' + key, id, max: s.recentMessages, ttlMs: s.recentMessagesSeconds * 1000 } : undefined,
    };
    if (!priv) {
      const fp = fingerprint(input);
      if (m.slowSeconds > 0) req.slow = { key: 's:' + key, intervalMs: m.slowSeconds * 1000 };
      if (s.duplicateWindowSeconds > 0) req.duplicate = { key: 'd:' + key + ':' + fp, windowMs: s.duplicateWindowSeconds * 1000 };
      if (m.uniqueChat) req.unique = { key: 'u:' + rules.name + ':' + fp, windowMs: s.uniqueWindowSeconds * 1000 };
    }
    // The memory state answers synchronously: skip a promise round on the hot path.
    const adm = this.state instanceof MemoryModerationState ? this.state.admitSync(req) : await this.state.admit(req);
    if (!adm.ok) {
      const wait = formatDuration(adm.retryMs);
      switch (adm.reason) {
        case 'rate': throw new ModerationError('rateLimited', `you are sending messages too fast; wait ${wait}`, adm.retryMs);
        case 'slow': throw new ModerationError('slowMode', `slow mode is on (${m.slowSeconds}s); you can chat again in ${wait}`, adm.retryMs);
        case 'duplicate': throw new ModerationError('duplicate', `you sent the same message already; wait ${wait} or change it`, adm.retryMs);
        case 'unique': throw new ModerationError('uniqueChat', `unique chat is on: this message was sent in the last ${s.uniqueWindowSeconds}s`, adm.retryMs);
      }
    }
    return { type: 'message', id, text, user: { id: userId, username: entry.name, name: displayName(info, entry), badges: badgesOf(roles, info, rules.name) }, ts: now };
  }

  // ---- commands ----

  /** executeText parses and runs a chat command line for an actor (the RPC `mod.command` and REST `command` use this). */
  async executeText(actor: Actor, channel: string, line: string): Promise<CommandResult> {
    return this.execute(actor, channel, parseCommand(line.startsWith('/') ? line : '/' + line));
  }

  /** execute runs one command after the permission checks; every change is audited. */
  async execute(actor: Actor, channel: string, cmd: Command, known?: ChannelRules): Promise<CommandResult> {
    try {
      return await this.executeChecked(actor, channel, cmd, known);
    } catch (err) {
      if (err instanceof ModerationError && !known) this.refused.inc({ reason: err.reason });
      throw err;
    }
  }

  private async executeChecked(actor: Actor, channel: string, cmd: Command, known?: ChannelRules): Promise<CommandResult> {
    if (cmd.kind === 'help') return { ok: true, action: 'help', message: HELP_TEXT };
    const rules = known ?? (await this.rulesOf(channel));
    if (!rules.id) throw new ModerationError('unknownChannel', `no channel "${channel}"`);
    // A cached "not privileged" answer is trusted (refused command spam costs no query); a privileged
    // one is re-read from the database, so a revoked manager loses the commands at once.
    const cached = actor.admin ? undefined : this.cachedRole(rules, actor.id);
    const me = actor.admin
      ? { roles: { ...NO_ROLES, admin: true }, name: 'admin' }
      : cached && !isPrivileged(cached.roles) ? cached : await this.roleEntry(rules, actor.id, true);
    assertMayRun(me.roles, cmd);
    const audit = (action: string, target: { id: string; name: string } | null, reason: string | null, details: Record<string, unknown> | null) => {
      this.actions.inc({ action });
      return this.store.audit(rules.id, { actorId: actor.id || null, actorName: me.name, action, targetId: target?.id ?? null, targetName: target?.name ?? null, reason, details });
    };
    switch (cmd.kind) {
      case 'ban':
      case 'timeout': {
        const target = await this.resolveUser(cmd.target);
        const t = await this.roleEntry(rules, target.id, true);
        assertMayTarget(me.roles, actor.id, cmd, target.id, t.roles);
        const now = this.now();
        const expiresAt = cmd.durationMs !== undefined ? now + cmd.durationMs : null;
        await this.store.restrict(rules.id, { userId: target.id, kind: cmd.kind, reason: cmd.reason ?? null, expiresAt, createdBy: actor.id || null, createdAt: now });
        await this.invalidate({ channel: rules.name });
        await audit(cmd.kind, target, cmd.reason ?? null, expiresAt === null ? null : { durationMs: cmd.durationMs, expiresAt });
        const ids = await this.applyRemoval(rules.name, target.id);
        const what = cmd.kind === 'ban' ? (expiresAt === null ? 'banned' : `banned for ${formatDuration(cmd.durationMs!)}`) : `timed out for ${formatDuration(cmd.durationMs)}`;
        await this.announce(rules.name, cmd.kind, `${target.name} was ${what}`, { user: target.id });
        return { ok: true, action: cmd.kind, message: `${target.name} was ${what}`, data: { user: target.id, expiresAt, deleted: ids.length } };
      }
      case 'unban':
      case 'untimeout': {
        const target = await this.resolveUser(cmd.target);
        const kind = cmd.kind === 'unban' ? 'ban' : 'timeout';
        const lifted = await this.store.lift(rules.id, target.id, kind);
        if (!lifted) throw new ModerationError('badArguments', `${target.name} is not ${kind === 'ban' ? 'banned' : 'timed out'}`);
        await this.invalidate({ channel: rules.name });
        await audit(cmd.kind, target, null, null);
        return { ok: true, action: cmd.kind, message: `${target.name} is no longer ${kind === 'ban' ? 'banned' : 'timed out'}` };
      }
      case 'mode': {
        const next: ModeSettings = { ...rules.modes, ...cmd.patch };
        await this.store.saveSettings(rules.id, next, actor.id || null);
        await this.invalidate({ channel: rules.name });
        await audit(cmd.mode, null, null, { ...cmd.patch });
        const text = describeMode(cmd.mode, next);
        await this.announce(rules.name, 'mode', text, { mode: cmd.mode, modes: next });
        return { ok: true, action: cmd.mode, message: text, data: { modes: next } };
      }
      case 'clear': {
        await this.publisher?.publish(CHAT_PREFIX + rules.name, { type: 'clear', ts: this.now() });
        await audit('clear', null, null, null);
        await this.announce(rules.name, 'clear', 'chat was cleared by a moderator');
        return { ok: true, action: 'clear', message: 'chat cleared' };
      }
      case 'delete': {
        if (!MESSAGE_ID_PATTERN.test(cmd.messageId)) throw new ModerationError('badArguments', 'that is not a message id');
        await this.publisher?.publish(CHAT_PREFIX + rules.name, { type: 'delete', ids: [cmd.messageId] });
        await audit('delete', null, null, { messageId: cmd.messageId });
        return { ok: true, action: 'delete', message: 'message deleted', data: { ids: [cmd.messageId] } };
      }
      case 'mod':
      case 'unmod': {
        const target = await this.resolveUser(cmd.target);
        const t = await this.roleEntry(rules, target.id, true);
        assertMayTarget(me.roles, actor.id, cmd, target.id, t.roles);
        if (cmd.kind === 'mod') {
          if (t.roles.manager) throw new ModerationError('badArguments', `${target.name} is already a manager`);
          await this.platform.channels.grantManager(rules.id, target.id, actor.id || null);
        } else if (!(await this.platform.channels.revokeManager(rules.id, target.id))) {
          throw new ModerationError('badArguments', `${target.name} is not a manager`);
        }
        await this.invalidate({ channel: rules.name, user: target.id });
        await audit(cmd.kind, target, null, null);
        const text = cmd.kind === 'mod' ? `${target.name} is now a manager` : `${target.name} is no longer a manager`;
        await this.announce(rules.name, cmd.kind, text, { user: target.id });
        return { ok: true, action: cmd.kind, message: text };
      }
      case 'mods': {
        const list = await this.platform.channels.listRole(rules.id, 'manager');
        return { ok: true, action: 'mods', message: list.length ? `managers: ${list.map((m) => m.username).join(', ')}` : 'no managers', data: { managers: list } };
      }
      case 'filter_add': {
        await this.store.addFilter(rules.id, cmd.word, cmd.action, actor.id || null);
        await this.invalidate({ channel: rules.name });
        await audit('filter_add', null, null, { word: cmd.word, filterAction: cmd.action });
        return { ok: true, action: 'filter_add', message: `filter: "${cmd.word}" → ${cmd.action}` };
      }
      case 'filter_remove': {
        if (!(await this.store.removeFilter(rules.id, cmd.word))) throw new ModerationError('badArguments', `"${cmd.word}" is not in this channel's filter`);
        await this.invalidate({ channel: rules.name });
        await audit('filter_remove', null, null, { word: cmd.word });
        return { ok: true, action: 'filter_remove', message: `filter: "${cmd.word}" removed` };
      }
      case 'filter_list': {
        const entries = await this.store.filters(rules.id);
        return { ok: true, action: 'filter_list', message: entries.length ? entries.map((e) => `${e.word} (${e.action})`).join(', ') : 'the filter is empty', data: { entries } };
      }
    }
  }

  /** applyRemoval unsubscribes the user from the channel's chat on every node and deletes their recent messages from view. */
  private async applyRemoval(channel: string, userId: string): Promise<string[]> {
    let ids: string[] = [];
    try {
      await this.publisher?.unsubscribeUser?.(userId, CHAT_PREFIX + channel);
      if (this.settings.deleteMessagesOnBan) {
        ids = await this.state.recentIds('m:' + channel + ':' + userId);
        if (ids.length) await this.publisher?.publish(CHAT_PREFIX + channel, { type: 'delete', ids, user: userId });
      }
    } catch (err) {
      this.logger?.warn({ err, channel }, 'moderation: removal effects failed');
    }
    return ids;
  }

  private async announce(channel: string, event: string, text: string, extra: Record<string, unknown> = {}): Promise<void> {
    try {
      await this.publisher?.publish(CHAT_PREFIX + channel, systemMessage(event, text, extra));
    } catch (err) {
      this.logger?.warn({ err, channel }, 'moderation: announcement failed');
    }
  }

  private async resolveUser(name: string): Promise<{ id: string; name: string }> {
    const n = name.replace(/^@/, '');
    // By login name exactly; else the one account equal to it in another case; else by user id
    // (the UI may only know the id). Names that clash in case (older accounts) must be typed exactly.
    const byName = await this.platform.users.resolveName(n);
    if (byName === null) throw new ModerationError('targetAmbiguous', `several accounts are named "${n}" in different cases; type the name exactly as it is written`);
    const u = byName ?? (await this.platform.users.findById(n));
    if (!u) throw new ModerationError('targetNotFound', `no user "${name}"`);
    return { id: u.id, name: u.username };
  }

  /** filterText runs a channel's word filter on text published by other features (e.g. super chat messages). */
  async filterText(channel: string, text: string): Promise<FilterResult> {
    const rules = this.cachedRules(channel) ?? (await this.rulesOf(channel));
    return rules.filter.check(text);
  }

  // ---- global filter (site admins) ----

  async globalFilterList(): Promise<(FilterEntry & { createdAt: number })[]> {
    return this.store.filters(GLOBAL_SCOPE);
  }

  async globalFilterAdd(actor: Actor, word: string, action: FilterEntry['action']): Promise<void> {
    await this.store.addFilter(GLOBAL_SCOPE, word, action, actor.id || null);
    this.actions.inc({ action: 'global_filter_add' });
    await this.store.audit(GLOBAL_SCOPE, { actorId: actor.id || null, actorName: actor.id ? null : 'admin', action: 'global_filter_add', targetId: null, targetName: null, reason: null, details: { word, filterAction: action } });
    await this.invalidate({ channel: '*' });
  }

  async globalFilterRemove(actor: Actor, word: string): Promise<boolean> {
    const ok = await this.store.removeFilter(GLOBAL_SCOPE, word);
    if (ok) {
      this.actions.inc({ action: 'global_filter_remove' });
      await this.store.audit(GLOBAL_SCOPE, { actorId: actor.id || null, actorName: actor.id ? null : 'admin', action: 'global_filter_remove', targetId: null, targetName: null, reason: null, details: { word } });
      await this.invalidate({ channel: '*' });
    }
    return ok;
  }

  // ---- read side for the API ----

  /** overview is what the studio shows: modes, active restrictions, filter entries. */
  async overview(channel: string): Promise<{ modes: ModeSettings; restrictions: (Restriction & { username: string | null })[]; filters: FilterEntry[] }> {
    const rules = await this.rulesOf(channel, true);
    if (!rules.id) throw new ModerationError('unknownChannel', `no channel "${channel}"`);
    const list = await this.store.activeRestrictions(rules.id, this.now());
    const restrictions = await Promise.all(list.map(async (r) => ({ ...r, username: (await this.platform.users.findById(r.userId))?.username ?? null })));
    return { modes: rules.modes, restrictions, filters: rules.channelFilters };
  }

  /** assertCanModerate throws notAllowed unless the actor is owner/manager/admin of the channel; answers the channel id. */
  async assertCanModerate(actor: Actor, channel: string): Promise<string> {
    const rules = await this.rulesOf(channel);
    if (!rules.id) throw new ModerationError('unknownChannel', `no channel "${channel}"`);
    if (actor.admin) return rules.id;
    const e = await this.roleEntry(rules, actor.id, true);
    if (!isPrivileged(e.roles)) throw new ModerationError('notAllowed', 'only the channel owner or a manager may see this');
    return rules.id;
  }

  // ---- caches ----

  /**
   * cachedRules returns a channel's cached rules without a promise (the hot path). Past their TTL
   * they are still served while one background reload runs (stale-while-revalidate); changes made
   * through moderation never wait for this, they drop the entry by invalidation.
   */
  private cachedRules(name: string): ChannelRules | undefined {
    const hit = this.rules.get(name);
    if (hit && this.now() - hit.loadedAt >= this.settings.rulesCacheSeconds * 1000 && !this.loading.has(name)) {
      this.rulesOf(name, true).catch((err) => this.logger?.warn({ err, channel: name }, 'moderation: rules reload failed'));
    }
    return hit;
  }

  /** cachedRole returns a user's cached roles; past roleCacheSeconds they are refreshed in the background (at most one TTL more stale). */
  private cachedRole(rules: ChannelRules, userId: string): RoleEntry | undefined {
    const key = rules.name + '\n' + userId;
    const hit = this.roleCache.get(key);
    if (!hit) return undefined;
    const age = this.now() - hit.at;
    if (age < this.settings.roleCacheSeconds * 1000) return hit;
    if (age >= 2 * this.settings.roleCacheSeconds * 1000) return undefined;
    if (!this.roleLoading.has(key)) {
      this.roleLoading.add(key);
      this.roleEntry(rules, userId, true).catch(() => undefined).finally(() => this.roleLoading.delete(key));
    }
    return hit;
  }

  /** rulesOf returns a channel's cached rules, loading them when absent or stale. */
  private async rulesOf(name: string, fresh = false): Promise<ChannelRules> {
    const hit = this.rules.get(name);
    if (hit && !fresh && this.now() - hit.loadedAt < this.settings.rulesCacheSeconds * 1000) return hit;
    let p = this.loading.get(name);
    if (!p) {
      const gen = this.generation.get(name) ?? 0;
      const load: Promise<ChannelRules> = this.loadRules(name).then((r) => {
        if ((this.generation.get(name) ?? 0) === gen) this.rules.set(name, r);
        return r;
      }).finally(() => {
        if (this.loading.get(name) === load) this.loading.delete(name);
      });
      p = load;
      this.loading.set(name, p);
    }
    return p;
  }

  private async loadRules(name: string): Promise<ChannelRules> {
    const now = this.now();
    const global = await this.globalEntries();
    const ch = await this.platform.channels.find(name);
    if (!ch) {
      return { name, id: '', ownerId: null, modes: { ...DEFAULT_MODES }, restrictions: new Map(), filter: WordFilter.compile(global), channelFilters: [], loadedAt: now };
    }
    const [modes, restrictions, channelFilters] = await Promise.all([
      this.store.settings(ch.id),
      this.store.activeRestrictions(ch.id, now),
      this.store.filters(ch.id),
    ]);
    const entries = channelFilters.map((e) => ({ word: e.word, action: e.action }));
    return {
      name, id: ch.id, ownerId: ch.owner_id, modes,
      restrictions: new Map(restrictions.map((r) => [r.userId, r])),
      // Channel entries come after global ones so a channel may upgrade a global mask to block (or shield a word with allow).
      filter: WordFilter.compile([...global.filter((g) => !entries.some((e) => e.word === g.word)), ...entries]),
      channelFilters: entries,
      loadedAt: now,
    };
  }

  private async globalEntries(): Promise<FilterEntry[]> {
    const now = this.now();
    if (this.globalFilters && now - this.globalFilters.at < this.settings.rulesCacheSeconds * 1000) return this.globalFilters.entries;
    const entries = (await this.store.filters(GLOBAL_SCOPE)).map((e) => ({ word: e.word, action: e.action }));
    this.globalFilters = { entries, at: now };
    return entries;
  }

  /** roleEntry reads a user's roles in a channel from the database, cached for roleCacheSeconds (fresh = bypass the cache). */
  private async roleEntry(rules: ChannelRules, userId: string, fresh = false): Promise<RoleEntry> {
    const key = rules.name + '\n' + userId;
    const now = this.now();
    const hit = this.roleCache.get(key);
    if (hit && !fresh && now - hit.at < this.settings.roleCacheSeconds * 1000) return hit;
    const user = await this.platform.users.findById(userId);
    const roles: Roles = { ...NO_ROLES, admin: user?.is_admin === 1 };
    if (rules.id && user) {
      const rs = await this.platform.channels.rolesOf(rules.id, userId);
      roles.owner = rs.includes('owner') || rules.ownerId === userId;
      roles.manager = rs.includes('manager');
    }
    const e: RoleEntry = { roles, name: user?.username ?? userId, at: now };
    this.roleCache.set(key, e);
    return e;
  }

  /**
   * isSubscribed / followedAt cache positive answers with the role entry; a negative answer is
   * re-read from the database at most once per NEGATIVE_RECHECK_MS, so a user who just followed or
   * subscribed can chat at once without letting refused spam turn into a query per message.
   */
  private async isSubscribed(rules: ChannelRules, e: RoleEntry, userId: string): Promise<boolean> {
    if (!rules.id) return false;
    const now = this.now();
    if (e.subscribed === true) return true;
    if (e.subscribed === false && now - (e.subCheckedAt ?? 0) < NEGATIVE_RECHECK_MS) return false;
    e.subscribed = await this.platform.social.isSubscribed(userId, rules.id, now);
    e.subCheckedAt = now;
    return e.subscribed;
  }

  private async followedAt(rules: ChannelRules, e: RoleEntry, userId: string): Promise<number | null> {
    if (!rules.id) return null;
    const now = this.now();
    if (typeof e.followedAt === 'number') return e.followedAt;
    if (e.followedAt === null && now - (e.followCheckedAt ?? 0) < NEGATIVE_RECHECK_MS) return null;
    e.followedAt = (await this.platform.social.followedAt(userId, rules.id)) ?? null;
    e.followCheckedAt = now;
    return e.followedAt;
  }

  /** invalidate drops the local cache now and tells the other nodes. */
  async invalidate(msg: Invalidation): Promise<void> {
    this.applyInvalidation(msg);
    try {
      await this.state.publishInvalidation(msg);
    } catch (err) {
      this.logger?.warn({ err }, 'moderation: invalidation broadcast failed; other nodes catch up within rulesCacheSeconds');
    }
  }

  private applyInvalidation(msg: Invalidation): void {
    // A load in flight may have read the old rows: bump the generation so its result is not cached,
    // and forget it so the next message starts a fresh load instead of joining it.
    if (msg.channel === '*') {
      this.globalFilters = undefined;
      for (const name of this.rules.keys()) this.generation.set(name, (this.generation.get(name) ?? 0) + 1);
      for (const name of this.loading.keys()) this.generation.set(name, (this.generation.get(name) ?? 0) + 1);
      this.rules.clear();
      this.loading.clear();
      return;
    }
    this.generation.set(msg.channel, (this.generation.get(msg.channel) ?? 0) + 1);
    this.rules.delete(msg.channel);
    this.loading.delete(msg.channel);
    if (msg.user) this.roleCache.delete(msg.channel + '\n' + msg.user);
  }
}

function counter<L extends string>(registry: Registry | undefined, name: string, help: string, label: L): Counter<L> {
  const existing = registry?.getSingleMetric(name);
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- prom-client returns the Counter this function registered under the same name
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames: [label], registers: registry ? [registry] : [] });
}

function displayName(info: PublishContext['info'], e: RoleEntry): string {
  const n = info?.name;
  return typeof n === 'string' && n.trim() ? n.trim().slice(0, 64) : e.name;
}

/** badgesOf: admin/owner/manager from the database; subscriber/follower (display only) from the signed token. */
function badgesOf(roles: Roles, info: PublishContext['info'], channel: string): Badge[] {
  const b: Badge[] = [];
  if (roles.admin) b.push('admin');
  if (roles.owner) b.push('owner');
  if (roles.manager) b.push('manager');
  const tokenRoles = info?.roles?.[channel];
  if (Array.isArray(tokenRoles)) {
    if (tokenRoles.includes('subscriber')) b.push('subscriber');
    if (tokenRoles.includes('follower')) b.push('follower');
  }
  return b;
}

function describeMode(mode: string, m: ModeSettings): string {
  switch (mode) {
    case 'slow': return m.slowSeconds > 0 ? `slow mode is on: one message every ${formatDuration(m.slowSeconds * 1000)}` : 'slow mode is off';
    case 'subonly': return m.subOnly ? 'subscriber-only mode is on' : 'subscriber-only mode is off';
    case 'followonly': return m.followOnlyMinutes === null ? 'follower-only mode is off' : m.followOnlyMinutes === 0 ? 'follower-only mode is on' : `follower-only mode is on: followers of at least ${formatDuration(m.followOnlyMinutes * 60_000)}`;
    case 'emoteonly': return m.emoteOnly ? 'emote-only mode is on' : 'emote-only mode is off';
    case 'uniquechat': return m.uniqueChat ? 'unique chat is on: no repeated messages' : 'unique chat is off';
    case 'blocklinks': return m.blockLinks ? 'links are blocked' : 'links are allowed';
    default: return `${mode} changed`;
  }
}
