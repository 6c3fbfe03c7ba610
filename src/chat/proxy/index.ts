/**
 * Centrifugo-compatible HTTP proxies of chat client events to the application backend
 * (docs/chat-proxy.md). The chat service builds the proxy from `chat.proxy`; nothing to wire.
 */
export { ChatProxy, createChatProxy, type ChatProxyDeps, type ProxyConnection } from './proxy.js';
export { ProxyHttp, ProxyCallError, type ProxyEndpoint } from './http.js';
export { createProxyMetrics, type ProxyMetrics, type ProxyOutcome, type ProxyFailure } from './metrics.js';
export * from './protocol.js';
