import { createChatService, type ChatService } from '../chat/index.js';
import { ChannelDirectory } from '../chat/channel-directory.js';
import type { Feature } from '../app/feature.js';
import { CHANNEL_NAME_PATTERN } from '../platform/channels.js';
import { chatRevocationCutoff } from '../platform/chat-revocations.js';
import { RedisControlPublisher } from '../chat/broker/redis-control.js';

const channelNameRe = new RegExp(CHANNEL_NAME_PATTERN);

/** chatFeature is the Centrifugo-compatible chat server; other features hook in through its extension point. */
export const chatFeature: Feature<'chat', {}, ChatService> = {
  name: 'chat',
  roles: ['chat'],
  deps: {},
  create(base) {
    // Every node has the platform (the database), so a chat-only node checks channels too.
    const cache = base.config.chat.channelCache;
    const channels = new ChannelDirectory(async (name) => channelNameRe.test(name) && !!(await base.platform.channels.find(name)), {
      maxEntries: cache.maxEntries,
      ttlMs: cache.ttlSeconds * 1000,
    });
    const chat = createChatService({
      config: base.config,
      logger: base.logger,
      registry: base.registry,
      tokenSecret: base.secrets.chatTokenSecret,
      apiKey: base.secrets.chatApiKey,
      channels,
    });
    chat.registerHttp(base.http);
    // Log out everywhere and password changes (src/http/routes/auth.ts) end the user's chat tokens too.
    // A token issued within the revoking second is revoked with the older ones (iat has whole seconds).
    base.api.revokeChatTokens = (userId) => chat.revokeUserTokens(userId, chatRevocationCutoff(Date.now()));
    base.addUpgradeHandler((req, socket, head) => chat.handleUpgrade(req, socket, head));
    let offNames: (() => void) | undefined;
    return {
      api: chat,
      start: async () => {
        offNames = base.platform.channels.onNamesChanged((name) => channels.invalidate(name));
        // Revocations made while this node was down (or before it restarted) still refuse their tokens.
        const keepMs = base.config.chat.revocation.keepSeconds * 1000;
        const since = Date.now() - keepMs;
        for (const r of await base.platform.chatRevocations.since(since)) chat.node.revocations.revoke(r.userId, r.issuedBefore, r.revokedAt);
        await base.platform.chatRevocations.prune(since);
        await chat.start();
      },
      stop: async () => {
        offNames?.();
        offNames = undefined;
        await chat.stop();
      },
    };
  },
};

/**
 * chatRevocationRelayFeature lets a node that runs the api role but not chat (an api-only node)
 * revoke chat tokens on the running chat nodes at once: it publishes the revocation on the chat
 * brokers' Redis control channel, as a chat node's own broker would. Off where chat runs (the
 * chat feature revokes through its broker) and without redis.url (no chat node to reach then).
 */
export const chatRevocationRelayFeature: Feature<'chatRevocationRelay', { chat?: ChatService }, void> = {
  name: 'chatRevocationRelay',
  roles: ['api'],
  deps: { chat: 'optional' },
  create(base, { chat }) {
    const url = base.config.redis.url;
    if (chat || url === undefined) return undefined;
    const control = new RedisControlPublisher({ url, logger: base.logger });
    base.api.revokeChatTokens = (userId) => control.publish({ type: 'revoke', user: userId, issuedBefore: chatRevocationCutoff(Date.now()) });
    return { api: undefined, start: () => control.start(), stop: () => control.close() };
  },
};
