import { createChatService } from '../chat/index.js';
import type { ServerParts } from '../server.js';

/** wireChat starts the Centrifugo-compatible chat server and exposes its extension point. */
export function wireChat(parts: ServerParts): void {
  const chat = createChatService({
    config: parts.config,
    logger: parts.logger,
    registry: parts.registry,
    tokenSecret: parts.secrets.chatTokenSecret,
    apiKey: parts.secrets.chatApiKey,
  });
  chat.registerHttp(parts.app);
  parts.addUpgradeHandler((req, socket, head) => chat.handleUpgrade(req, socket, head));
  parts.addService({ name: 'chat', start: () => chat.start(), stop: () => chat.stop() });
  parts.chat = { publisher: chat.publisher, addPublishHook: (h) => chat.addPublishHook(h), registerRpc: (m, h) => chat.registerRpc(m, h), addHistoryFilter: (f) => chat.addHistoryFilter(f) };
  parts.chatService = chat;
}
