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
import { DEFAULT_BAN_SECONDS, DEFAULT_MODES, DEFAULT_SLOW_SECONDS, HELP_USAGE, isCommand, parseCommand, type Command, type ModeSettings } from './commands.js';
import { GLOBAL_SCOPE, ModerationStore, type HeldMessage, type Restriction } from './db.js';
import { DEFAULT_FILTER_ENTRIES } from './default-words.js';
import { WordFilter, type FilterEntry, type FilterResult } from './filter.js';
import { MESSAGE_ID_PATTERN, newMessageId, systemMessage, textOf, type Badge, type ChatMessage, type Notice } from './message.js';
import { describeMode } from './notices.js';
import { assertMayRun, assertMayTarget, isPrivileged, mayRun, NO_ROLES, type Roles } from './permissions.js';
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
  /** How long `/ban USER` without a duration lasts, in seconds (0 = permanent). */
  banDefaultSeconds: number;
  /** The interval `/slow` without an argument turns on. */
  slowDefaultSeconds: number;
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
  banDefaultSeconds: DEFAULT_BAN_SECONDS,
  slowDefaultSeconds: DEFAULT_SLOW_SECONDS,
};

/** SUPERCHAT_CLIENT_PREFIX marks the super chat gate's probes (supporters/gate.ts): paid messages are refused, never held. */
const SUPERCHAT_CLIENT_PREFIX = 'superchat:';

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

/** CommandResult is what a command answers its caller: `message` in English, `code` and `params` for clients to word it. */
export interface CommandResult {
  ok: true;
  action: string;
  message: string;
  code: string;
  params: Record<string, string | number>;
  /** true when the same notice was published into the channel as a system message (clients then show it once). */
  announced: boolean;
  data?: unknown;
}

const result = (action: string, n: Notice, data?: unknown, announced = false): CommandResult => ({ ok: true, action, message: n.text, code: n.code, params: n.params, announced, ...(data === undefined ? {} : { data }) });

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
      if ('held' in msg) {
        if (ctx.clientId.startsWith(SUPERCHAT_CLIENT_PREFIX)) throw new ModerationError('heldForReview', 'this message needs a manager\'s approval, so it cannot be sent as a super chat');
        await this.store.hold(rules.id, { id: msg.message.id, userId: ctx.user, message: msg.message, word: msg.held, createdAt: msg.message.ts });
        // A refusal with its own code: SDKs drop publish replies, but every client shows an error.
        throw new ModerationError('messageHeld', 'your message waits for a manager\'s approval');
      }
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

  /** check runs every rule on one message and returns the message to publish (or to hold for review), or throws ModerationError. */
  private async check(rules: ChannelRules, userId: string, input: string, info: PublishContext['info']): Promise<ChatMessage | { held: string; message: ChatMessage }> {
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
    let held: string | undefined;
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
      // Held messages need a channel to queue in; without one (unknown channels) they are refused.
      if (f.action === 'hold' && !rules.id) throw new ModerationError('wordBlocked', 'your message contains a blocked word');
      if (f.action === 'hold') { held = f.word; text = f.text; }
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
    const message: ChatMessage = { type: 'message', id, text, user: { id: userId, username: entry.name, name: displayName(info, entry), badges: badgesOf(roles, info, rules.name) }, ts: now };
    return held === undefined ? message : { held, message };
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
    const rules = known ?? (await this.rulesOf(channel));
    if (!rules.id) {
      if (cmd.kind === 'help') return this.help(NO_ROLES);
      throw new ModerationError('unknownChannel', `no channel "${channel}"`);
    }
    // A cached "not privileged" answer is trusted (refused command spam costs no query); a privileged
    // one is re-read from the database, so a revoked manager loses the commands at once.
    const cached = actor.admin ? undefined : this.cachedRole(rules, actor.id);
    const me = actor.admin
      ? { roles: { ...NO_ROLES, admin: true }, name: 'admin' }
      : cached && !isPrivileged(cached.roles) ? cached : await this.roleEntry(rules, actor.id, true);
    if (cmd.kind === 'help') return this.help(me.roles);
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
        const durationMs = cmd.kind === 'timeout' ? cmd.durationMs : cmd.durationMs ?? (cmd.permanent || this.settings.banDefaultSeconds === 0 ? undefined : this.settings.banDefaultSeconds * 1000);
        const expiresAt = durationMs !== undefined ? now + durationMs : null;
        await this.store.restrict(rules.id, { userId: target.id, kind: cmd.kind, reason: cmd.reason ?? null, expiresAt, createdBy: actor.id || null, createdAt: now });
        await this.invalidate({ channel: rules.name });
        await audit(cmd.kind, target, cmd.reason ?? null, durationMs === undefined ? null : { durationMs, expiresAt });
        const ids = await this.applyRemoval(rules.name, target.id);
        const seconds = durationMs === undefined ? 0 : Math.ceil(durationMs / 1000);
        const n: Notice = cmd.kind === 'timeout'
          ? { code: 'user_timed_out', params: { user: target.name, seconds }, text: `${target.name} was timed out for ${formatDuration(seconds * 1000)}` }
          : durationMs === undefined
            ? { code: 'user_banned', params: { user: target.name }, text: `${target.name} was banned` }
            : { code: 'user_banned_for', params: { user: target.name, seconds }, text: `${target.name} was banned for ${formatDuration(seconds * 1000)}` };
        await this.announce(rules.name, cmd.kind, n, { user: target.id });
        return result(cmd.kind, n, { user: target.id, expiresAt, deleted: ids.length }, true);
      }
      case 'unban':
      case 'untimeout': {
        const target = await this.resolveUser(cmd.target);
        const kind = cmd.kind === 'unban' ? 'ban' : 'timeout';
        const lifted = await this.store.lift(rules.id, target.id, kind);
        if (!lifted) throw new ModerationError('badArguments', `${target.name} is not ${kind === 'ban' ? 'banned' : 'timed out'}`, undefined, { problem: kind === 'ban' ? 'not_banned' : 'not_timed_out', user: target.name });
        await this.invalidate({ channel: rules.name });
        await audit(cmd.kind, target, null, null);
        return result(cmd.kind, kind === 'ban'
          ? { code: 'user_unbanned', params: { user: target.name }, text: `${target.name} is no longer banned` }
          : { code: 'user_untimed_out', params: { user: target.name }, text: `${target.name} is no longer timed out` });
      }
      case 'mode': {
        const patch = cmd.toggle ? toggled(cmd, rules.modes, this.settings.slowDefaultSeconds) : cmd.patch;
        const next: ModeSettings = { ...rules.modes, ...patch };
        await this.store.saveSettings(rules.id, next, actor.id || null);
        await this.invalidate({ channel: rules.name });
        await audit(cmd.mode, null, null, { ...patch });
        const n = describeMode(cmd.mode, next);
        await this.announce(rules.name, 'mode', n, { mode: cmd.mode, modes: next });
        return result(cmd.mode, n, { modes: next }, true);
      }
      case 'clear': {
        await this.publisher?.publish(CHAT_PREFIX + rules.name, { type: 'clear', ts: this.now() });
        await audit('clear', null, null, null);
        await this.announce(rules.name, 'clear', { code: 'chat_cleared', params: {}, text: 'chat was cleared by a moderator' });
        return result('clear', { code: 'chat_cleared', params: {}, text: 'chat cleared' }, undefined, true);
      }
      case 'delete': {
        if (!MESSAGE_ID_PATTERN.test(cmd.messageId)) throw new ModerationError('badArguments', 'that is not a message id');
        await this.publisher?.publish(CHAT_PREFIX + rules.name, { type: 'delete', ids: [cmd.messageId] });
        await audit('delete', null, null, { messageId: cmd.messageId });
        return result('delete', { code: 'message_deleted', params: {}, text: 'message deleted' }, { ids: [cmd.messageId] });
      }
      case 'mod':
      case 'unmod': {
        const target = await this.resolveUser(cmd.target);
        const t = await this.roleEntry(rules, target.id, true);
        assertMayTarget(me.roles, actor.id, cmd, target.id, t.roles);
        if (cmd.kind === 'mod') {
          if (t.roles.manager) throw new ModerationError('badArguments', `${target.name} is already a manager`, undefined, { problem: 'already_manager', user: target.name });
          await this.platform.channels.grantManager(rules.id, target.id, actor.id || null);
        } else if (!(await this.platform.channels.revokeManager(rules.id, target.id))) {
          throw new ModerationError('badArguments', `${target.name} is not a manager`, undefined, { problem: 'not_manager', user: target.name });
        }
        await this.invalidate({ channel: rules.name, user: target.id });
        await audit(cmd.kind, target, null, null);
        const n: Notice = cmd.kind === 'mod'
          ? { code: 'manager_added', params: { user: target.name }, text: `${target.name} is now a manager` }
          : { code: 'manager_removed', params: { user: target.name }, text: `${target.name} is no longer a manager` };
        await this.announce(rules.name, cmd.kind, n, { user: target.id });
        return result(cmd.kind, n, undefined, true);
      }
      case 'mods': {
        const list = await this.platform.channels.listRole(rules.id, 'manager');
        const names = list.map((m) => m.username).join(', ');
        return result('mods', list.length ? { code: 'managers_list', params: { users: names }, text: `managers: ${names}` } : { code: 'managers_none', params: {}, text: 'no managers' }, { managers: list });
      }
      case 'filter_add': {
        await this.store.addFilter(rules.id, cmd.word, cmd.action, actor.id || null);
        await this.invalidate({ channel: rules.name });
        await audit('filter_add', null, null, { word: cmd.word, filterAction: cmd.action });
        return result('filter_add', { code: 'filter_added', params: { word: cmd.word, action: cmd.action }, text: `filter: "${cmd.word}" → ${cmd.action}` });
      }
      case 'filter_remove': {
        if (!(await this.store.removeFilter(rules.id, cmd.word))) throw new ModerationError('badArguments', `"${cmd.word}" is not in this channel's filter`, undefined, { problem: 'not_in_filter', word: cmd.word });
        await this.invalidate({ channel: rules.name });
        await audit('filter_remove', null, null, { word: cmd.word });
        return result('filter_remove', { code: 'filter_removed', params: { word: cmd.word }, text: `filter: "${cmd.word}" removed` });
      }
      case 'filter_list': {
        const entries = await this.store.filters(rules.id);
        const listed = entries.map((e) => `${e.word} (${e.action})`).join(', ');
        return result('filter_list', entries.length ? { code: 'filter_list', params: { entries: listed }, text: listed } : { code: 'filter_empty', params: {}, text: 'the filter is empty' }, { entries });
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

  /** help lists the commands these roles may run (data.commands names them for clients to word). */
  private help(roles: Roles): CommandResult {
    const usable = HELP_USAGE.filter((h) => mayRun(roles, h.kind));
    const commands = usable.map((h) => h.name);
    return result('help', { code: 'help', params: { commands: commands.join(' ') }, text: `commands: ${usable.map((h) => h.usage).join(', ')}` }, { commands });
  }

  private async announce(channel: string, event: string, notice: Notice, extra: Record<string, unknown> = {}): Promise<void> {
    try {
      await this.publisher?.publish(CHAT_PREFIX + channel, systemMessage(event, notice, extra));
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
  async filterText(channel: string, text: string): Promise<Exclude<FilterResult, { action: 'hold' }>> {
    const rules = this.cachedRules(channel) ?? (await this.rulesOf(channel));
    const r = rules.filter.check(text);
    // Text that cannot wait for a manager (captions) treats a hold word as a block word.
    return r.action === 'hold' ? { action: 'block', word: r.word } : r;
  }

  // ---- the review queue of held messages ----

  /** heldMessages lists a channel's held messages, oldest first, for its owner, managers and admins. */
  async heldMessages(actor: Actor, channel: string): Promise<HeldMessage[]> {
    const id = await this.assertCanModerate(actor, channel);
    return this.store.heldMessages(id);
  }

  /** decideHeld approves (publishes) or rejects (drops) one held message; audited like every action. */
  async decideHeld(actor: Actor, channel: string, heldId: string, approve: boolean): Promise<CommandResult> {
    const channelId = await this.assertCanModerate(actor, channel);
    const h = await this.store.takeHeld(channelId, heldId);
    if (!h) throw new ModerationError('targetNotFound', 'no such held message (another manager may have decided already)', undefined, { problem: 'no_held_message' });
    if (approve) await this.publisher?.publish(CHAT_PREFIX + channel, h.message);
    const action = approve ? 'held_approve' : 'held_reject';
    this.actions.inc({ action });
    const me = actor.admin ? { name: 'admin' } : await this.platform.users.findById(actor.id).then((u) => ({ name: u?.username ?? actor.id }));
    const target = await this.platform.users.findById(h.userId);
    await this.store.audit(channelId, { actorId: actor.id || null, actorName: me.name, action, targetId: h.userId, targetName: target?.username ?? null, reason: null, details: { messageId: h.id, word: h.word } });
    return result(action, approve
      ? { code: 'held_approved', params: {}, text: 'the message was published' }
      : { code: 'held_rejected', params: {}, text: 'the message was dropped' }, { id: h.id });
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
      return { name, id: '', ownerId: null, modes: { ...DEFAULT_MODES }, restrictions: new Map(), filter: WordFilter.compile(layered([DEFAULT_FILTER_ENTRIES, global])), channelFilters: [], loadedAt: now };
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
      // Later layers replace earlier ones word by word: a channel may upgrade a default or global mask to block, or shield a word with allow.
      filter: WordFilter.compile(layered(modes.defaultFilter ? [DEFAULT_FILTER_ENTRIES, global, entries] : [global, entries])),
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

/** layered merges filter lists, a word of a later list replacing the same word of an earlier one. */
function layered(lists: readonly (readonly FilterEntry[])[]): FilterEntry[] {
  const byWord = new Map<string, FilterEntry>();
  for (const list of lists) for (const e of list) byWord.set(e.word, e);
  return [...byWord.values()];
}

/** toggled is the patch of a mode command typed without an argument: the mode's opposite of now. */
function toggled(cmd: Extract<Command, { kind: 'mode' }>, now: ModeSettings, slowDefaultSeconds: number): Partial<ModeSettings> {
  switch (cmd.mode) {
    case 'slow': return { slowSeconds: now.slowSeconds > 0 ? 0 : slowDefaultSeconds };
    case 'subonly': return { subOnly: !now.subOnly };
    case 'followonly': return { followOnlyMinutes: now.followOnlyMinutes === null ? 0 : null };
    case 'emoteonly': return { emoteOnly: !now.emoteOnly };
    case 'uniquechat': return { uniqueChat: !now.uniqueChat };
    case 'blocklinks': return { blockLinks: !now.blockLinks };
    case 'defaultfilter': return { defaultFilter: !now.defaultFilter };
  }
}
