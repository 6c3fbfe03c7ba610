/**
 * ClusterLiveView: every node's picture of what is live in the whole cluster, so live status
 * (GET /api/v1/channels/{name}, the home page, the watch page) is right on every node, media or
 * api-only, and viewer counts are summed over nodes.
 *
 * Two things in Redis, refreshed every `refreshMs` and expiring after `ttlMs` like the live list:
 * - the cluster live list (control/bus-live.ts), read: which node holds each channel, with its
 *   stats (its own viewers among them);
 * - `{prefix}:edge:node:{nodeId}`, written by media nodes: this node's players of the channels it
 *   pulls, per protocol (an edge stream is not in the live list, or the channel would be listed
 *   twice), with the index `{prefix}:edge:nodes`. Every node reads them all and adds them to the
 *   origin's. A node without the media role (no `edges`) only reads.
 *
 * Reads are cached between refreshes: liveInfo is called synchronously by the API routes.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../observability/logger.js';
import type { LiveEntry, NodeLive } from '../control/bus-live.js';
import type { StreamHub } from '../hub/hub.js';

/** Index members not refreshed for this many TTLs are pruned (as in the live list). */
const PRUNE_AFTER_TTLS = 10;
const ERROR_LOG_INTERVAL_MS = 30_000;
/** The longest edge audience entry read (a node pulling thousands of channels is not a case). */
const MAX_AUDIENCE_BYTES = 1024 * 1024;

/** Viewers per playback protocol. */
export type ViewerCounts = Record<string, number>;

/** EdgeAudience is one node's players of the channels it pulls. */
export interface EdgeAudience {
  node: string;
  at: number;
  channels: Record<string, ViewerCounts>;
}

/** ClusterLive is a channel live on another node, as the view knows it. */
export interface ClusterLive {
  node: string;
  entry: LiveEntry;
}

export interface ClusterLiveViewOptions {
  redis: () => Redis;
  nodeId: string;
  /** This node's edge streams (the media role's hub); absent on a node that only reads. */
  edges?: StreamHub['edges'];
  /** The live list reader (LiveDirectory without a snapshot). */
  list(): Promise<NodeLive[]>;
  logger: Logger;
  ttlMs: number;
  refreshMs: number;
  prefix: string;
  now?: () => number;
}

/** addCounts sums viewer counts per protocol (b into a copy of a). */
export function addCounts(a: ViewerCounts, b: ViewerCounts | undefined): ViewerCounts {
  const out: ViewerCounts = { ...a };
  if (!b) return out;
  for (const [k, v] of Object.entries(b)) if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** parseEdgeAudience reads one node's entry; null when it is not one (the view skips it). */
export function parseEdgeAudience(raw: string): EdgeAudience | null {
  if (raw.length > MAX_AUDIENCE_BYTES) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.node !== 'string' || typeof o.at !== 'number' || !o.channels || typeof o.channels !== 'object' || Array.isArray(o.channels)) return null;
  const channels: Record<string, ViewerCounts> = {};
  for (const [ch, counts] of Object.entries(o.channels as Record<string, unknown>)) {
    if (!counts || typeof counts !== 'object' || Array.isArray(counts)) return null;
    channels[ch] = addCounts({}, counts as ViewerCounts);
  }
  return { node: o.node, at: o.at, channels };
}

export class ClusterLiveView {
  private readonly indexKey: string;
  private readonly keyPrefix: string;
  private readonly now: () => number;
  private live = new Map<string, ClusterLive>();
  /** Players per channel on every node's edge streams (this node's included). */
  private edgeViewers = new Map<string, ViewerCounts>();
  /** When the picture was last read whole (0: never); older than ttlMs it is not used. */
  private refreshedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastErrorLog = 0;

  constructor(private readonly o: ClusterLiveViewOptions) {
    this.indexKey = `${o.prefix}:edge:nodes`;
    this.keyPrefix = `${o.prefix}:edge:node:`;
    this.now = o.now ?? Date.now;
  }

  /** start refreshes now and every refreshMs. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.o.refreshMs);
    this.timer.unref();
  }

  /** stop ends the refreshing and removes this node's edge audience. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    if (!this.o.edges) return;
    try {
      await this.o.redis().multi().del(this.keyPrefix + this.o.nodeId).zrem(this.indexKey, this.o.nodeId).exec();
    } catch (err) {
      this.error(err);
    }
  }

  /** refresh writes this node's edge audience and reads the cluster's (one at a time). */
  refresh(): Promise<void> {
    this.running ??= this.readWrite().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async writeOwnAudience(r: Redis, edges: StreamHub['edges']): Promise<void> {
    const channels: Record<string, ViewerCounts> = {};
    for (const [ch, s] of edges) channels[ch] = s.stats().viewers;
    const now = this.now();
    const own: EdgeAudience = { node: this.o.nodeId, at: now, channels };
    await r.multi()
      .set(this.keyPrefix + this.o.nodeId, JSON.stringify(own), 'PX', this.o.ttlMs)
      .zadd(this.indexKey, now + this.o.ttlMs, this.o.nodeId)
      .zremrangebyscore(this.indexKey, '-inf', now - PRUNE_AFTER_TTLS * this.o.ttlMs)
      .exec();
  }

  private async readWrite(): Promise<void> {
    try {
      const r = this.o.redis();
      if (this.o.edges) await this.writeOwnAudience(r, this.o.edges);
      const nodes = await r.zrange(this.indexKey, 0, -1);
      const raws = nodes.length ? await r.mget(nodes.map((n) => this.keyPrefix + n)) : [];
      const edgeViewers = new Map<string, ViewerCounts>();
      raws.forEach((raw, i) => {
        const a = raw === null ? null : parseEdgeAudience(raw);
        if (!a || a.node !== nodes[i]) return;
        for (const [ch, counts] of Object.entries(a.channels)) edgeViewers.set(ch, addCounts(edgeViewers.get(ch) ?? {}, counts));
      });
      const live = new Map<string, ClusterLive>();
      for (const n of await this.o.list()) {
        if (n.node === this.o.nodeId) continue;
        for (const e of n.streams) if (e.role !== 'backup' && !live.has(e.channel)) live.set(e.channel, { node: n.node, entry: e });
      }
      this.live = live;
      this.edgeViewers = edgeViewers;
      this.refreshedAt = this.now();
    } catch (err) {
      // Keep the last picture for up to a TTL: a short Redis outage should not flip every channel offline.
      this.error(err);
    }
  }

  /** remote is the channel's entry when another node holds it (as of the last refresh). */
  remote(channel: string): ClusterLive | undefined {
    return this.fresh() ? this.live.get(channel) : undefined;
  }

  /** fresh: the picture is at most one TTL old (what the live list itself would still hold). */
  private fresh(): boolean {
    return this.refreshedAt > 0 && this.now() - this.refreshedAt <= this.o.ttlMs;
  }

  /** edgeViewersOf is the players of the channel on every node's edge streams (as of the last refresh). */
  edgeViewersOf(channel: string): ViewerCounts | undefined {
    return this.fresh() ? this.edgeViewers.get(channel) : undefined;
  }

  private error(err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLog = now;
    this.o.logger.warn({ err: (err as Error).message }, 'cluster live view: redis operation failed');
  }
}
