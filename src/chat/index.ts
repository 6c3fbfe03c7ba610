/**
 * Public API of the onair chat server (Centrifugo-compatible).
 */
export { createChatService, type ChatService, type ChatServiceDeps, type ChatStats } from './service.js';
export {
  signConnectionToken,
  signSubscriptionToken,
  verifyConnectionToken,
  verifySubscriptionToken,
  type ConnectionClaims,
  type SubscriptionClaims,
} from './tokens.js';
export { ErrorCode, Errors, DisconnectCode, Disconnects, UnsubscribeCode } from './protocol/codes.js';
export type { Broker, PresenceManager } from './broker/types.js';
export { MemoryBroker, MemoryPresenceManager } from './broker/memory.js';
export { RedisBroker, RedisPresenceManager } from './broker/redis.js';
export type { ChatUserInfo, PublishHook, PublishDecision, PublishContext, RpcHandler, ServerPublisher } from './hooks.js';
export { API_METHODS } from './api.js';
