import { createChatService, type ChatService } from '../chat/index.js';
import type { Feature } from '../app/feature.js';

/** chatFeature is the Centrifugo-compatible chat server; other features hook in through its extension point. */
export const chatFeature: Feature<'chat', {}, ChatService> = {
  name: 'chat',
  roles: ['chat'],
  deps: {},
  create(base) {
    const chat = createChatService({
      config: base.config,
      logger: base.logger,
      registry: base.registry,
      tokenSecret: base.secrets.chatTokenSecret,
      apiKey: base.secrets.chatApiKey,
    });
    chat.registerHttp(base.http);
    base.addUpgradeHandler((req, socket, head) => chat.handleUpgrade(req, socket, head));
    return { api: chat, start: () => chat.start(), stop: () => chat.stop() };
  },
};
