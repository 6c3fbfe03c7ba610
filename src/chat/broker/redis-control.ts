/**
 * RedisControlPublisher sends control messages to every running chat node from a node that runs
 * no chat broker (an api-only node): it publishes on the Redis broker's control channel, which
 * each chat node's RedisBroker subscribes to, and never subscribes itself.
 */
import type { Redis } from 'ioredis';
import { newRedis } from '../../net/redis-client.js';
import type { Logger } from '../../observability/logger.js';
import { controlChannelOf, DEFAULT_PREFIX } from './redis.js';
import type { ControlMessage } from './types.js';

export class RedisControlPublisher {
  private conn: Redis | null = null;
  private readonly channel: string;

  constructor(private readonly opts: { url: string; prefix?: string; logger?: Logger }) {
    this.channel = controlChannelOf(opts.prefix ?? DEFAULT_PREFIX);
  }

  async start(): Promise<void> {
    const conn = newRedis(this.opts.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    conn.on('error', (err) => this.opts.logger?.warn({ err: err.message }, 'chat control publisher: redis connection error'));
    this.conn = conn;
    await conn.connect();
  }

  /** publish delivers msg to the chat nodes subscribed now (Redis pub/sub: nodes started later read the database instead). */
  async publish(msg: ControlMessage): Promise<void> {
    if (!this.conn) throw new Error('chat control publisher not started');
    await this.conn.publish(this.channel, JSON.stringify(msg));
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.quit().catch(() => c.disconnect());
  }
}
