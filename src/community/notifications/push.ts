/**
 * Where a notice is pushed: `notifications:#{userId}`, each user's own channel. A node running
 * chat publishes through its chat server; a media node without chat publishes straight into the
 * shared Redis broker, which every chat node reads.
 */
import type { NamespaceOptions } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { RedisBroker } from '../../chat/broker/redis.js';
import { HISTORY_META_TTL_SECONDS, NAMESPACE_SEPARATOR, USER_BOUNDARY } from '../../chat/namespaces.js';
import { rawJson } from '../../chat/protocol/codec.js';
import type { Notification } from './store.js';

/** NOTIFICATIONS_NAMESPACE is the chat namespace of personal notice channels. */
export const NOTIFICATIONS_NAMESPACE = 'notifications';
/** NOTIFICATION_EVENT is the publication type of a notice. */
export const NOTIFICATION_EVENT = 'notification';

/** personalChannel is the user-limited chat channel of one user's notices. */
export const personalChannel = (userId: string): string => `${NOTIFICATIONS_NAMESPACE}${NAMESPACE_SEPARATOR}${USER_BOUNDARY}${userId}`;

/** NoticePublication is what a personal channel carries. */
export interface NoticePublication {
  type: typeof NOTIFICATION_EVENT;
  notification: Notification;
}

/** NoticePublisher sends data into a chat channel as the server (the chat ServerPublisher is one). */
export interface NoticePublisher {
  publish(channel: string, data: unknown): Promise<unknown>;
}

/** RedisNoticePublisher publishes into the chat nodes' Redis broker with the namespace's history. */
export class RedisNoticePublisher implements NoticePublisher {
  private readonly broker: RedisBroker;
  private readonly history: { size: number; ttlSeconds: number; metaTtlSeconds: number };

  constructor(opts: { url: string; namespace: NamespaceOptions | undefined; logger: Logger }) {
    this.broker = new RedisBroker({ url: opts.url, logger: opts.logger });
    this.history = { size: opts.namespace?.historySize ?? 0, ttlSeconds: opts.namespace?.historyTtlSeconds ?? 0, metaTtlSeconds: HISTORY_META_TTL_SECONDS };
  }

  async start(): Promise<void> {
    // Publishing only: the control messages the broker hands us are not ours to act on.
    await this.broker.start({ onPublication: () => undefined, onJoin: () => undefined, onLeave: () => undefined, onControl: () => undefined });
  }

  async publish(channel: string, data: unknown): Promise<unknown> {
    return this.broker.publish(channel, { data: rawJson(data) ?? 'null' }, this.history);
  }

  async close(): Promise<void> {
    await this.broker.close();
  }
}
