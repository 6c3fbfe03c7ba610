/**
 * Chat moderation wired into the whole server: the publish hook on every
 * `chat:{channel}` publication, the `mod.*` RPCs, the REST routes and the
 * moderation tables (migrations register when this module loads).
 */
import type { Feature } from '../../app/feature.js';
import type { ChatExtensionPoint } from '../hooks.js';
import { moderationRoutes, registerModerationRpcs } from './api.js';
import { ModerationStore, moderationMigrations } from './db.js';
import { ModerationEngine } from './engine.js';
import { MemoryModerationState, type ModerationState } from './state.js';
import { RedisModerationState } from './state-redis.js';

export { ModerationEngine, DEFAULT_MODERATION_SETTINGS, type ModerationSettings, type Actor, type CommandResult } from './engine.js';
export { ModerationStore, moderationMigrations } from './db.js';
export { MemoryModerationState, type ModerationState } from './state.js';
export { RedisModerationState } from './state-redis.js';
export { WordFilter, type FilterEntry, type FilterResult } from './filter.js';
export { ModerationCodes, ModerationError } from './codes.js';
export { parseCommand, type Command } from './commands.js';
export { moderationRoutes, registerModerationRpcs } from './api.js';
import { hideRemovedMessages } from './tombstones.js';
export { hideRemovedMessages };

/** PURGE_INTERVAL_MS: how often expired bans/timeouts are deleted (they stop applying at expiry regardless). */
const PURGE_INTERVAL_MS = 10 * 60_000;

/** moderationFeature hooks moderation into the chat role: the publish hook, history filter, RPCs and REST routes. */
export const moderationFeature: Feature<'moderation', { chat: ChatExtensionPoint }, ModerationEngine> = {
  name: 'moderation',
  roles: ['chat'],
  migrations: moderationMigrations,
  deps: { chat: 'required' },
  create(base, { chat }) {
    const state: ModerationState = base.config.redis.url ? new RedisModerationState(base.config.redis.url) : new MemoryModerationState();
    const engine = new ModerationEngine({
      platform: base.platform,
      store: new ModerationStore(base.platform.db),
      state,
      publisher: chat.publisher,
      settings: base.config.moderation,
      registry: base.registry,
      logger: base.logger.child({ component: 'moderation' }),
    });
    chat.addPublishHook(engine);
    // Deleted and cleared messages disappear from history and recovery too, not only from view.
    chat.addHistoryFilter?.(hideRemovedMessages);
    registerModerationRpcs(chat, engine);
    // Appointing or removing a manager over the REST API applies to chat at once (on every node).
    const offRoles = base.platform.channels.onRolesChanged((c) => {
      void engine.invalidate({ channel: c.channelName, user: c.userId }).catch(() => undefined);
    });
    moderationRoutes(base.http, { auth: base.api.auth, engine });
    let timer: NodeJS.Timeout | undefined;
    return {
      api: engine,
      async start() {
        engine.start();
        timer = setInterval(() => { void engine.store.purgeExpired().catch(() => undefined); }, PURGE_INTERVAL_MS);
        timer.unref();
      },
      async stop() {
        if (timer) clearInterval(timer);
        offRoles();
        await engine.stop();
        await state.close();
      },
    };
  },
};
