/**
 * LiveDirectory: the cluster-wide live list in Redis (docs/restream.md, "Scale-out").
 *
 * Layout: one string key per media node, `{prefix}:live:node:{nodeId}`, holding that node's
 * whole list as JSON (the /api/v1/streams entries it would answer itself) with a TTL, and one
 * sorted set `{prefix}:live:nodes` naming the nodes (score: the writer's expiry time, used only
 * to prune the index). A node rewrites its key every `refreshMs` and at once when a stream
 * starts or ends; on a clean stop it deletes it. A node that dies stops refreshing, so its key
 * expires after `ttlMs` (Redis's clock decides) and its streams drop out of every list.
 *
 * Why one key per node and not per stream: a write replaces the node's list atomically, so a
 * stream that ended can never linger beside a fresh one, a reader needs one ZRANGE and one MGET
 * whatever the number of streams, and expiry is per node, which is what fails.
 */
import type { Redis } from 'ioredis';
import prom from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { metricOnce } from '../../observability/metrics.js';
import { BUS_VERSION, parseLiveSnapshot, type LiveSnapshot } from './bus-messages.js';
import { DEFAULT_BUS_PREFIX } from './bus.js';

/** Index members not refreshed for this many TTLs are pruned (their keys are long gone). */
const PRUNE_AFTER_TTLS = 10;
/** Stream starts and ends within this window are written once. */
const POKE_COALESCE_MS = 50;
const ERROR_LOG_INTERVAL_MS = 30_000;

export interface DirectoryMetrics {
  errors: prom.Counter<'op'>;
}

export function directoryMetrics(registry: prom.Registry): DirectoryMetrics {
  const errors = metricOnce<prom.Counter<'op'>>(registry, 'onair_control_live_directory_errors_total', () =>
    new prom.Counter({ name: 'onair_control_live_directory_errors_total', help: 'Cluster live list operations on Redis that failed (op: write, read) or node entries that could not be read (op: invalid).', labelNames: ['op'], registers: [registry] }),
  );
  return { errors };
}

export type LiveEntry = { channel: string } & Record<string, unknown>;

export interface NodeLive {
  node: string;
  url?: string;
  /** Epoch ms of the node's last write. */
  at: number;
  streams: LiveEntry[];
}

export interface LiveDirectoryOptions {
  redis: () => Redis;
  nodeId: string;
  logger: Logger;
  metrics: DirectoryMetrics;
  ttlMs: number;
  refreshMs: number;
  /** This node's advertised base URL (config media.control.advertiseUrl). */
  url?: string;
  /** This node's live streams; set on media nodes only (nodes without it only read). */
  snapshot?: () => Promise<LiveEntry[]>;
  prefix?: string;
  now?: () => number;
}

export class LiveDirectory {
  private readonly indexKey: string;
  private readonly keyPrefix: string;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private poked: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private again = false;
  private running = false;
  private lastErrorLog = 0;

  constructor(private readonly o: LiveDirectoryOptions) {
    const prefix = o.prefix ?? DEFAULT_BUS_PREFIX;
    this.indexKey = `${prefix}:live:nodes`;
    this.keyPrefix = `${prefix}:live:node:`;
    this.now = o.now ?? Date.now;
  }

  private keyOf(node: string): string {
    return this.keyPrefix + node;
  }

  /** start writes this node's list now and every refreshMs (no-op without a snapshot). */
  async start(): Promise<void> {
    if (!this.o.snapshot || this.running) return;
    this.running = true;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.o.refreshMs);
    this.timer.unref();
  }

  /** poke rewrites the list soon (a stream started or ended). */
  poke(): void {
    if (!this.running || this.poked) return;
    this.poked = setTimeout(() => {
      this.poked = undefined;
      void this.refresh();
    }, POKE_COALESCE_MS);
  }

  /**
   * stop ends the refreshing and removes this node's entry. `{ remove: false }` leaves it to
   * expire after the TTL, as after a crash.
   */
  async stop(opts: { remove?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    clearTimeout(this.poked);
    this.timer = this.poked = undefined;
    await this.writing?.catch(() => undefined);
    if (opts.remove === false) return;
    try {
      await this.o.redis().multi().del(this.keyOf(this.o.nodeId)).zrem(this.indexKey, this.o.nodeId).exec();
    } catch (err) {
      this.error('write', err);
    }
  }

  /** refresh writes this node's current list (one write at a time; a call during a write runs once after it). */
  refresh(): Promise<void> {
    if (this.writing) {
      this.again = true;
      return this.writing;
    }
    this.writing = (async () => {
      do {
        this.again = false;
        await this.write();
      } while (this.again && this.running);
    })().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private async write(): Promise<void> {
    const snapshot = this.o.snapshot;
    if (!snapshot || !this.running) return;
    try {
      const streams = await snapshot();
      if (!this.running) return;
      const now = this.now();
      const body: LiveSnapshot = { v: BUS_VERSION, node: this.o.nodeId, ...(this.o.url ? { url: this.o.url } : {}), at: now, streams };
      await this.o.redis()
        .multi()
        .set(this.keyOf(this.o.nodeId), JSON.stringify(body), 'PX', this.o.ttlMs)
        .zadd(this.indexKey, now + this.o.ttlMs, this.o.nodeId)
        .zremrangebyscore(this.indexKey, '-inf', now - PRUNE_AFTER_TTLS * this.o.ttlMs)
        .exec();
    } catch (err) {
      this.error('write', err);
    }
  }

  /** list reads every node's entry still in Redis (expired nodes are gone); throws when Redis fails. */
  async list(): Promise<NodeLive[]> {
    const r = this.o.redis();
    let nodes: string[];
    let raws: (string | null)[];
    try {
      nodes = await r.zrange(this.indexKey, 0, -1);
      raws = nodes.length ? await r.mget(nodes.map((n) => this.keyOf(n))) : [];
    } catch (err) {
      this.o.metrics.errors.inc({ op: 'read' });
      throw err;
    }
    const out: NodeLive[] = [];
    raws.forEach((raw, i) => {
      if (raw === null) return;
      const s = parseLiveSnapshot(raw);
      if (!s || s.node !== nodes[i]) {
        this.o.metrics.errors.inc({ op: 'invalid' });
        return;
      }
      out.push({ node: s.node, ...(s.url ? { url: s.url } : {}), at: s.at, streams: s.streams });
    });
    return out;
  }

  private error(op: 'write' | 'read', err: unknown): void {
    this.o.metrics.errors.inc({ op });
    const now = Date.now();
    if (now - this.lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
      this.lastErrorLog = now;
      this.o.logger.warn({ err: (err as Error).message, op }, 'cluster live list: redis operation failed');
    }
  }
}
