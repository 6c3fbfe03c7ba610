/**
 * createChatService wires the chat node, its broker, transports, server API
 * and metrics into the service the HTTP app and the CLI use.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { OnairConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { HistoryFilter, PublishHook, PublishListener, RpcHandler, ServerPublisher } from './hooks.js';
import { ChatNode, type ChatNodeOptions } from './node.js';
import { MemoryBroker, MemoryPresenceManager } from './broker/memory.js';
import { RedisBroker, RedisPresenceManager } from './broker/redis.js';
import type { Broker, PresenceManager } from './broker/types.js';
import { WsAcceptor } from './transport/ws.js';
import { registerUniHttp } from './transport/uni-http.js';
import { EmulationServer } from './transport/emulation.js';
import { listenerLimits } from '../net/listener-limits.js';
import { registerChatAdmission } from './transport/admission.js';
import { registerServerApi } from './api.js';
import { createChatMetrics } from './metrics.js';
import { rawJson } from './protocol/codec.js';
import { createChatProxy } from './proxy/proxy.js';
import type { ChannelDirectory } from './channel-directory.js';

export interface ChatServiceDeps {
  config: OnairConfig;
  logger: Logger;
  registry: Registry;
  tokenSecret: string;
  apiKey: string;
  nodeName?: string;
  /** Tunables for tests (grace periods, presence TTL). */
  options?: Partial<ChatNodeOptions>;
  /** Use these instead of building a broker from config.redis.url. */
  broker?: Broker;
  presence?: PresenceManager;
  /** Which onair channels exist, for namespaces with requireChannel; without it they are not checked. */
  channels?: ChannelDirectory;
}

export interface ChatStats {
  node: string;
  broker: string;
  clients: number;
  users: number;
  channels: number;
  subscriptions: number;
}

export interface ChatService {
  start(): Promise<void>;
  /** stop closes all connections with 3001 shutdown, then the broker. */
  stop(): Promise<void>;
  /** handleUpgrade takes WebSocket upgrades for /connection/websocket and /connection/uni_websocket. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** registerHttp adds /connection/uni_sse, /connection/uni_http_stream, /connection/http_stream, /connection/sse, POST /emulation, POST /api/:method and GET /api/v1/chat/admission. */
  registerHttp(app: FastifyInstance): void;
  readonly publisher: ServerPublisher;
  addPublishHook(hook: PublishHook): void;
  registerRpc(method: string, handler: RpcHandler): void;
  /** addHistoryFilter hides publications from history and recovery replies. */
  addHistoryFilter(filter: HistoryFilter): void;
  /** addPublishListener sees every publication this node makes. */
  addPublishListener(listener: PublishListener): void;
  /** onSend receives `send` commands (async client messages). */
  onSend(handler: (ctx: { clientId: string; user: string; data: unknown }) => void): void;
  stats(): ChatStats;
  /** revokeUserTokens revokes the user's connection tokens issued before issuedBefore (unix seconds) on every node. */
  revokeUserTokens(user: string, issuedBefore: number): Promise<void>;
  /** node is exposed for tests and the other protocol front-ends. */
  readonly node: ChatNode;
}

export function createChatService(deps: ChatServiceDeps): ChatService {
  const chatConfig = deps.config.chat;
  const logger = deps.logger.child({ component: 'chat' });
  let broker = deps.broker;
  let presence = deps.presence;
  if (!broker || !presence) {
    if (deps.config.redis.url) {
      broker ??= new RedisBroker({ url: deps.config.redis.url, logger });
      presence ??= new RedisPresenceManager({ url: deps.config.redis.url });
    } else {
      broker ??= new MemoryBroker();
      presence ??= new MemoryPresenceManager();
    }
  }
  let node: ChatNode | undefined;
  // Proxy hook (docs/chat-proxy.md): the backend proxies, when chat.proxy or a namespace sets an endpoint.
  const proxy = createChatProxy({ config: chatConfig.proxy, namespaces: chatConfig.namespaces, logger, registry: deps.registry });
  const metrics = createChatMetrics(deps.registry, {
    connections: () => node?.numClients() ?? 0,
    subscriptions: () => node?.numSubscriptions() ?? 0,
  });
  node = new ChatNode({
    config: chatConfig,
    logger,
    broker,
    presence,
    metrics,
    tokenSecret: deps.tokenSecret,
    name: deps.nodeName,
    options: deps.options,
    proxy,
    channels: deps.channels,
  });
  const n = node;
  const wsLimits = listenerLimits(deps.config, 'chatWs', logger, deps.registry);
  const ws = new WsAcceptor(n, chatConfig.maxFrameBytes, wsLimits);
  const httpLimits = listenerLimits(deps.config, 'chatHttp', logger, deps.registry);
  const emulation = new EmulationServer(n, chatConfig.maxFrameBytes, httpLimits, chatConfig.emulationRate);
  let started = false;

  const publisher: ServerPublisher = {
    async publish(channel, data) {
      const pos = await n.publish(channel, { data: rawJson(data) ?? 'null' });
      return pos.offset > 0 ? { offset: pos.offset, epoch: pos.epoch } : {};
    },
    async disconnectUser(user, code, reason) {
      await n.broker.publishControl({ type: 'disconnect', user, code, reason });
    },
    async unsubscribeUser(user, channel) {
      await n.broker.publishControl({ type: 'unsubscribe', user, channel });
    },
  };

  return {
    node: n,
    publisher,
    async start() {
      if (started) return;
      await n.start();
      started = true;
      logger.info({ broker: n.broker.name, node: n.name }, 'chat: started');
    },
    async stop() {
      if (!started) {
        await n.presence.close();
        await n.broker.close();
        return;
      }
      started = false;
      await n.stop();
      emulation.close();
      proxy?.close(); // proxy hook: kept-alive backend connections
      await ws.close();
      await n.presence.close();
      await n.broker.close();
    },
    handleUpgrade(req, socket, head) {
      if (!started) {
        const url = req.url ?? '';
        if (url.startsWith('/connection/')) {
          socket.destroy();
          return true;
        }
        return false;
      }
      return ws.handleUpgrade(req, socket, head);
    },
    registerHttp(app) {
      registerUniHttp(app, n, httpLimits, chatConfig.maxFrameBytes);
      registerChatAdmission(app, wsLimits);
      emulation.register(app);
      registerServerApi(app, n, deps.apiKey);
    },
    addPublishHook(hook) {
      n.addPublishHook(hook);
    },
    registerRpc(method, handler) {
      n.registerRpc(method, handler);
    },
    addPublishListener(listener) {
      n.addPublishListener(listener);
    },
    addHistoryFilter(filter) {
      n.addHistoryFilter(filter);
    },
    onSend(handler) {
      n.setSendHandler(handler);
    },
    revokeUserTokens(user, issuedBefore) {
      return n.revokeUserTokens(user, issuedBefore);
    },
    stats() {
      return {
        node: n.name,
        broker: n.broker.name,
        clients: n.numClients(),
        users: n.numUsers(),
        channels: n.numChannels(),
        subscriptions: n.numSubscriptions(),
      };
    },
  };
}

