/**
 * PublishPipeline is the one road a client publication takes, whatever protocol it came by
 * (a Centrifugo `publish`, a Pusher client event): the publish hooks in the order they were
 * added (moderation, super chats), then the publish proxy, then the broker. Front-ends check
 * their own permissions first and word the outcome in their protocol.
 */
import type { NamespaceOptions } from '../config/schema.js';
import type { ChatUserInfo, PublishHook } from './hooks.js';
import { rawJson, type ClientInfo, type Publication, type StreamPosition } from './protocol/codec.js';
import type { ProxyEndpoint } from './proxy/http.js';
import type { ProxyConnection } from './proxy/proxy.js';
import type { PublishResult } from './proxy/protocol.js';

/** PipelineBroker publishes into a channel's stream (the node: the broker with the namespace's history options). */
export interface PipelineBroker {
  publish(channel: string, pub: Publication, opts: { skipHistory?: boolean }): Promise<StreamPosition>;
}

/** PipelineProxy asks the application backend about a publication (docs/chat-proxy.md); ChatProxy is one. */
export interface PipelineProxy {
  publishEndpoint(ns: NamespaceOptions): ProxyEndpoint | null;
  publish(c: ProxyConnection, ep: ProxyEndpoint, channel: string, data: string): Promise<PublishResult>;
}

/** PublishRequest is one client publication, after the front-end's own permission checks. */
export interface PublishRequest {
  /** Full channel name, e.g. "chat:demo". */
  channel: string;
  /** The channel's namespace options (where the publish proxy is configured). */
  namespace: NamespaceOptions;
  clientId: string;
  /** User id; empty for anonymous. */
  user: string;
  info: ChatUserInfo | undefined;
  /** The client's data, as the hooks see it. */
  data: unknown;
  /** encode turns the data the hooks let through into the publication's JSON (default: the data itself). */
  encode?: (data: unknown) => string;
  /** The connection the publish proxy is asked about; without it the proxy is not asked. */
  proxyConnection?: ProxyConnection;
  /** Publisher info and tags carried by the publication. */
  clientInfo?: ClientInfo;
  tags?: Record<string, string>;
  /** Keep the publication out of the channel's history. */
  skipHistory?: boolean;
  /** live tells whether the publisher is still there; if not, nothing is published. */
  live?: () => boolean;
}

/** PublishOutcome is what became of a publication; broker and proxy failures are thrown. */
export type PublishOutcome =
  | { status: 'published'; position: StreamPosition }
  /** A hook consumed it (e.g. a `/ban` command); reply is the sender's publish result. */
  | { status: 'handled'; reply: unknown }
  | { status: 'rejected'; code: number; message: string; temporary: boolean }
  /** The publisher went away meanwhile. */
  | { status: 'dropped' };

const encodeAsIs = (data: unknown): string => rawJson(data) ?? 'null';

/** PublishPipeline runs hooks, proxy and broker for every client publication of a node. */
export class PublishPipeline {
  private readonly hooks: PublishHook[] = [];
  private readonly broker: PipelineBroker;
  private readonly proxy: PipelineProxy | null;

  constructor(deps: { broker: PipelineBroker; proxy: PipelineProxy | null }) {
    this.broker = deps.broker;
    this.proxy = deps.proxy;
  }

  /** addHook runs a hook after those added before it; the returned function removes it. */
  addHook(hook: PublishHook): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** run takes one publication through hooks → proxy → broker. */
  async run(req: PublishRequest): Promise<PublishOutcome> {
    let data = req.data;
    // A copy: a hook added or removed meanwhile changes the next publication, not this one.
    for (const hook of [...this.hooks]) {
      const d = await hook.onPublish({ channel: req.channel, clientId: req.clientId, user: req.user, info: req.info, data });
      if (d.action === 'reject') return { status: 'rejected', code: d.code, message: d.message, temporary: d.temporary === true };
      if (d.action === 'handled') return { status: 'handled', reply: d.reply };
      if (d.data !== undefined) data = d.data;
    }
    let raw = (req.encode ?? encodeAsIs)(data);
    let skipHistory = req.skipHistory === true;
    // The backend sees what the hooks let through, so their refusals cost no backend call; it
    // may still refuse (thrown), rewrite the data or skip history.
    const ep = req.proxyConnection && this.proxy ? this.proxy.publishEndpoint(req.namespace) : null;
    if (ep) {
      const r = await this.proxy!.publish(req.proxyConnection!, ep, req.channel, raw);
      if (r.data !== undefined) raw = r.data;
      skipHistory ||= r.skipHistory;
    }
    if (req.live && !req.live()) return { status: 'dropped' };
    const pub: Publication = { data: raw };
    if (req.clientInfo) pub.info = req.clientInfo;
    if (req.tags) pub.tags = req.tags;
    const position = await this.broker.publish(req.channel, pub, { skipHistory });
    return { status: 'published', position };
  }
}
