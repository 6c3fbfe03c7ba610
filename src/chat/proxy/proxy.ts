/**
 * ChatProxy asks the application backend about client events, as Centrifugo's HTTP proxy
 * does: connect (tokenless connections), refresh, subscribe, publish, sub_refresh and rpc.
 * It turns backend answers into what the chat client state machine understands: results,
 * ChatError (reply errors) and DisconnectError (close the connection). See docs/chat-proxy.md.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Registry } from 'prom-client';
import type { ChatProxyConfig, NamespaceOptions } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { ChatError, DisconnectError, Errors } from '../protocol/codes.js';
import {
  decodeConnectResponse,
  decodePublishResponse,
  decodeRefreshResponse,
  decodeRpcResponse,
  decodeSubscribeResponse,
  encodeConnectRequest,
  encodePublishRequest,
  encodeRefreshRequest,
  encodeRpcRequest,
  encodeSubRefreshRequest,
  encodeSubscribeRequest,
  type ConnectResult,
  type ProxyClientContext,
  type ProxyKind,
  type ProxyReply,
  type PublishResult,
  type RefreshResult,
  type RpcResult,
  type SubscribeResult,
} from './protocol.js';
import { ProxyCallError, ProxyHttp, type ProxyEndpoint } from './http.js';
import { createProxyMetrics } from './metrics.js';

/** ProxyConnection is what the proxy needs from a client connection (declared here, by the consumer). */
export interface ProxyConnection {
  readonly id: string;
  readonly transport: { readonly kind: string };
  readonly user: string;
  /** Raw JSON meta attached at connect (connect result or token), if any. */
  readonly proxyMeta?: string;
  /** Allow-listed headers of the connection's HTTP request. */
  readonly proxyHeaders?: Record<string, string>;
}

export interface ChatProxyDeps {
  config: ChatProxyConfig;
  logger: Logger;
  registry: Registry;
}

/** ChatProxy is the node's gateway to the backend; null endpoints mean the event is not proxied. */
export class ChatProxy {
  readonly http: ProxyHttp;
  /** Tokenless connects go to the backend. */
  readonly connectEndpoint: ProxyEndpoint | null;
  /** Connections made through the connect proxy are refreshed by the server, not the client. */
  readonly refreshEndpoint: ProxyEndpoint | null;
  /** RPC methods without a local handler go to the backend. */
  readonly rpcEndpoint: ProxyEndpoint | null;
  readonly refreshRetryMs: number;
  private readonly config: ChatProxyConfig;
  /** Lower-cased allow-list of request headers to forward. */
  private readonly headerNames: string[];
  /** Lower-cased allow-list of emulated headers (from the connect command) to forward. */
  private readonly emulatedNames: Set<string>;

  constructor(deps: ChatProxyDeps) {
    const c = deps.config;
    this.config = c;
    this.http = new ProxyHttp({
      staticHeaders: c.staticHeaders,
      maxResponseBytes: c.maxResponseBytes,
      maxInFlight: c.maxInFlight,
      metrics: createProxyMetrics(deps.registry),
      logger: deps.logger,
    });
    this.connectEndpoint = endpointOf(c.connect);
    this.refreshEndpoint = endpointOf(c.refresh);
    this.rpcEndpoint = endpointOf(c.rpc);
    this.refreshRetryMs = c.refreshRetrySeconds * 1000;
    this.headerNames = [...new Set(c.httpHeaders.map((h) => h.toLowerCase()))];
    this.emulatedNames = new Set(c.emulatedHeaders.map((h) => h.toLowerCase()));
  }

  /** close releases the kept-alive backend connections. */
  close(): void {
    this.http.close();
  }

  /** forwardsHeaders tells whether connections need their request headers kept. */
  get forwardsHeaders(): boolean {
    return this.headerNames.length > 0;
  }

  /** pickHeaders keeps the allow-listed headers of a client's HTTP request (repeated ones joined with ", "). */
  pickHeaders(headers: IncomingHttpHeaders): Record<string, string> | undefined {
    if (this.headerNames.length === 0) return undefined;
    let out: Record<string, string> | undefined;
    for (const name of this.headerNames) {
      const v = headers[name];
      if (v === undefined) continue;
      (out ??= {})[name] = Array.isArray(v) ? v.join(name === 'cookie' ? '; ' : ', ') : v;
    }
    return out;
  }

  /**
   * withEmulated adds the allow-listed emulated headers of a connect command (`headers`: a map
   * of strings) to a connection's forwarded headers; real request headers win, values node:http
   * would refuse are dropped.
   */
  withEmulated(forwarded: Record<string, string> | undefined, emulated: unknown): Record<string, string> | undefined {
    if (this.emulatedNames.size === 0 || typeof emulated !== 'object' || emulated === null || Array.isArray(emulated)) return forwarded;
    let out: Record<string, string> | undefined;
    for (const [k, v] of Object.entries(emulated)) {
      const name = k.toLowerCase();
      if (!this.emulatedNames.has(name) || typeof v !== 'string' || !HEADER_VALUE.test(v)) continue;
      (out ??= {})[name] = v;
    }
    return out === undefined ? forwarded : { ...out, ...forwarded };
  }

  /** subscribeEndpoint is where subscribes to the namespace's channels go, or null when not proxied. */
  subscribeEndpoint(ns: NamespaceOptions): ProxyEndpoint | null {
    if (!ns.proxySubscribe) return null;
    return endpointOf(this.config.subscribe, ns.proxySubscribeEndpoint);
  }

  publishEndpoint(ns: NamespaceOptions): ProxyEndpoint | null {
    if (!ns.proxyPublish) return null;
    return endpointOf(this.config.publish, ns.proxyPublishEndpoint);
  }

  subRefreshEndpoint(ns: NamespaceOptions): ProxyEndpoint | null {
    if (!ns.proxySubRefresh) return null;
    return endpointOf(this.config.subRefresh, ns.proxySubRefreshEndpoint);
  }

  private ctx(c: ProxyConnection): ProxyClientContext {
    const ctx: ProxyClientContext = { client: c.id, transport: c.transport.kind, user: c.user };
    if (this.config.includeConnectionMeta && c.proxyMeta !== undefined) ctx.meta = c.proxyMeta;
    return ctx;
  }

  /**
   * connect authenticates a tokenless connection; a backend error becomes the connect error
   * reply, a disconnect closes the connection, a failed call is error 100 (temporary).
   */
  async connect(c: ProxyConnection, req: { name: string; version: string; data?: string }): Promise<ConnectResult> {
    const body = encodeConnectRequest({ client: c.id, transport: c.transport.kind }, req, this.config.binaryEncoding);
    return unwrap(await this.call('connect', this.connectEndpoint!, body, c, decodeConnectResponse));
  }

  /**
   * refresh asks whether a connection may live on. A disconnect answer counts as expired; an
   * error answer (not meaningful for refresh) or a failed call throws ProxyCallError, and the
   * caller asks again later.
   */
  async refresh(c: ProxyConnection): Promise<RefreshResult> {
    const r = await this.call('refresh', this.refreshEndpoint!, encodeRefreshRequest(this.ctx(c)), c, decodeRefreshResponse, false);
    return refreshResult(r);
  }

  async subscribe(c: ProxyConnection, ep: ProxyEndpoint, channel: string, data: string | undefined): Promise<SubscribeResult> {
    const body = encodeSubscribeRequest(this.ctx(c), channel, data, this.config.binaryEncoding);
    return unwrap(await this.call('subscribe', ep, body, c, decodeSubscribeResponse));
  }

  async publish(c: ProxyConnection, ep: ProxyEndpoint, channel: string, data: string): Promise<PublishResult> {
    const body = encodePublishRequest(this.ctx(c), channel, data, this.config.binaryEncoding);
    return unwrap(await this.call('publish', ep, body, c, decodePublishResponse));
  }

  /** subRefresh is refresh for one subscription (same answers, same failure rule). */
  async subRefresh(c: ProxyConnection, ep: ProxyEndpoint, channel: string): Promise<RefreshResult> {
    const r = await this.call('sub_refresh', ep, encodeSubRefreshRequest(this.ctx(c), channel), c, decodeRefreshResponse, false);
    return refreshResult(r);
  }

  async rpc(c: ProxyConnection, method: string, data: string | undefined): Promise<RpcResult> {
    const body = encodeRpcRequest(this.ctx(c), method, data, this.config.binaryEncoding);
    return unwrap(await this.call('rpc', this.rpcEndpoint!, body, c, decodeRpcResponse));
  }

  /**
   * call runs one proxy call; with `internal` (the default), a failed call is ChatError 100
   * (temporary) for the client, otherwise the ProxyCallError is thrown as is.
   */
  private async call<R>(
    kind: ProxyKind,
    ep: ProxyEndpoint,
    body: string,
    c: ProxyConnection,
    decode: (json: unknown) => ProxyReply<R>,
    internal = true,
  ): Promise<ProxyReply<R>> {
    try {
      return await this.http.call(kind, ep, body, c.proxyHeaders, (json) => {
        const reply = decode(json);
        return { value: reply, outcome: reply.type };
      });
    } catch (e) {
      if (internal && e instanceof ProxyCallError) throw new ChatError(Errors.internal);
      throw e;
    }
  }
}

/** HEADER_VALUE matches what node:http accepts as a header value (no control characters). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function endpointOf(ev: { endpoint?: string; timeoutMs: number }, override?: string): ProxyEndpoint | null {
  const url = override ?? ev.endpoint;
  return url === undefined ? null : { url, timeoutMs: ev.timeoutMs };
}

/** unwrap returns a result or throws the backend's error (reply error) or disconnect. */
function unwrap<R>(r: ProxyReply<R>): R {
  switch (r.type) {
    case 'result':
      return r.result;
    case 'error':
      throw new ChatError(r.error);
    case 'disconnect':
      throw new DisconnectError(r.disconnect);
  }
}

function refreshResult(r: ProxyReply<RefreshResult>): RefreshResult {
  switch (r.type) {
    case 'result':
      return r.result;
    case 'disconnect':
      return { expired: true, expireAt: 0 };
    case 'error':
      throw new ProxyCallError('bad_response', `refresh answered error ${r.error.code}`);
  }
}

/**
 * createChatProxy builds the proxy when chat.proxy or a namespace configures an endpoint,
 * else returns null (no proxy: the chat server behaves as without this feature).
 */
export function createChatProxy(deps: ChatProxyDeps & { namespaces: Record<string, NamespaceOptions> }): ChatProxy | null {
  const c = deps.config;
  const global = [c.connect, c.refresh, c.subscribe, c.publish, c.subRefresh, c.rpc].some((e) => e.endpoint !== undefined);
  const local = Object.values(deps.namespaces).some((ns) => ns.proxySubscribeEndpoint ?? ns.proxyPublishEndpoint ?? ns.proxySubRefreshEndpoint);
  return global || local ? new ChatProxy(deps) : null;
}
