/**
 * HotStandby: a channel published to two media nodes has one primary, the holder of the
 * channel's lease (lease.ts), and one backup held on the other node (docs/scale-out.md, "Hot
 * standby"). This module is the hub's ClaimArbiter and the lease's keeper on one node:
 *
 *   publish check (guard) ── acquire ──► taken: primary   held by another node: backup   Redis down: isolated primary
 *   every renewMs:  primary → renew (lost → re-acquire, or end: another node won)
 *                   backup  → acquire once no heartbeat named the channel's primary for a lease lifetime
 *                             (taken → hub.promote: the backup feeds this node's outputs)
 *                   every node → a signed heartbeat naming its primaries
 *   primary ends:   its publisher left → release + signed lease-released notice (the backup takes over at once);
 *                   kicked (live/end, ban) → the lease is left to expire, so the end request reaches the backup first
 *   lease unconfirmed past its expiry (Redis unreachable) → hub.fence: recording and restreams stop, local viewers stay
 *
 * Notices from other nodes are verified (HMAC with cluster.secret, time window, growing seq);
 * forged or replayed ones are counted and ignored. A verified lease notice only makes this node
 * look at Redis sooner: the lease itself always decides.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { newRedis } from '../../net/redis-client.js';
import prom from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { metricOnce } from '../../observability/metrics.js';
import { HUB_EVENT_BACKUP_CHANGE, HUB_EVENT_STREAM_END, HUB_EVENT_STREAM_START, type ChannelStats, type ClaimArbiter, type LiveStream, type StreamHub, type StreamRole } from '../hub/hub.js';
import { ChannelLease } from './lease.js';
import { NoticeSigner, NoticeVerifier, type ClusterNotice, type HlsSequence, type NoticeBody, type NoticeRejection } from './notices.js';

/** Leases are renewed this many times per lifetime. */
const RENEWALS_PER_TTL = 3;
/** A primary fences itself at this share of the lease's lifetime after its last confirmed renewal (slack for timers and clock rates). */
const FENCE_AT_TTL_SHARE = 0.8;
/** A lease taken at a publish check is released when no stream claimed it within this time (the publish was refused later). */
const ADMISSION_TIMEOUT_MS = 10_000;
/** Notices further than this many lease lifetimes from the receiver's clock are stale. */
const NOTICE_SKEW_TTLS = 5;
const REJECT_LOG_INTERVAL_MS = 10_000;
/** A backup looks at the lease this long after a lease lifetime has passed since the primary's last heartbeat (its lease expires then). */
const PROMOTE_CHECK_SLACK_MS = 20;
/** A heartbeat's LL-HLS position is carried on by a successor that starts within this long of hearing it. */
const SEQUENCE_MEMORY_MS = 5 * 60_000;

/** A channel has a new primary: (PrimaryChange), for edges that follow the origin of a channel. */
export const STANDBY_EVENT_PRIMARY = 'primary';
/** A backup publish was refused: (BackupRefusal). */
export const STANDBY_EVENT_BACKUP_REFUSED = 'backupRefused';

export interface BackupRefusal {
  channel: string;
  reason: string;
}

/** PrimaryChange says which node became a channel's primary (promotions here and verified notices from other nodes). */
export interface PrimaryChange {
  channel: string;
  node: string;
  token: string;
}

/** The part of the cluster live list the codec check reads (LiveDirectory). */
export interface PrimaryCodecSource {
  list(): Promise<{ node: string; streams: ({ channel: string } & Record<string, unknown>)[] }[]>;
}

export interface StandbyMetrics {
  promotions: prom.Counter;
  fenced: prom.Counter;
  notices: prom.Counter<'result'>;
  refused: prom.Counter;
}

export function standbyMetrics(registry: prom.Registry): StandbyMetrics {
  const promotions = metricOnce<prom.Counter>(registry, 'onair_cluster_promotions_total', () =>
    new prom.Counter({ name: 'onair_cluster_promotions_total', help: 'Backup streams this node promoted to primary after taking the channel lease.', registers: [registry] }),
  );
  const fenced = metricOnce<prom.Counter>(registry, 'onair_cluster_fenced_total', () =>
    new prom.Counter({ name: 'onair_cluster_fenced_total', help: 'Primary streams fenced because their lease could not be confirmed before it expired (recording and restreams stopped).', registers: [registry] }),
  );
  const notices = metricOnce<prom.Counter<'result'>>(registry, 'onair_cluster_notices_total', () =>
    new prom.Counter({ name: 'onair_cluster_notices_total', help: 'Cluster notices received, by result: accepted, or why ignored (bad_mac, stale, replayed, invalid, not_json, too_large).', labelNames: ['result'], registers: [registry] }),
  );
  const refused = metricOnce<prom.Counter>(registry, 'onair_cluster_backups_refused_total', () =>
    new prom.Counter({ name: 'onair_cluster_backups_refused_total', help: 'Backup publishes refused because their codecs differ from the primary\'s.', registers: [registry] }),
  );
  return { promotions, fenced, notices, refused };
}

export interface HotStandbyOptions {
  redisUrl: string;
  nodeId: string;
  secret: string;
  /** cluster.heartbeatTimeoutMs: the lease's lifetime. */
  ttlMs: number;
  hub: StreamHub;
  logger: Logger;
  metrics: StandbyMetrics;
  /** Key and channel prefix (the control bus's). */
  prefix: string;
  /** The cluster live list, read for the primary's codecs. */
  directory: (redis: Redis) => PrimaryCodecSource;
  /** Where the LL-HLS sequence of a primary here stands, sent in the heartbeats (hls/packager.ts). */
  sequenceOf?: (channel: string) => HlsSequence | undefined;
  now?: () => number;
}

type Held =
  | { role: 'primary'; token: string | null; stream: LiveStream | undefined; fenceTimer: NodeJS.Timeout | undefined }
  | { role: 'backup' };

/**
 * codecMismatch names how a backup's codecs differ from its primary's (null: they match). Only
 * kinds both have announced are compared: tracks arrive one by one, so a kind missing on either
 * side is not known to differ yet.
 */
export function codecMismatch(backup: Pick<ChannelStats, 'video' | 'audio'>, primary: Record<string, unknown>): string | null {
  const codecOf = (t: unknown): string | undefined => (t && typeof t === 'object' && 'codec' in t && typeof t.codec === 'string' ? t.codec : undefined);
  for (const kind of ['video', 'audio'] as const) {
    const p = codecOf(primary[kind]);
    const b = backup[kind]?.codec;
    if (p && b && p !== b) return `the backup's ${kind} codec (${b}) differs from the primary's (${p})`;
  }
  return null;
}

export class HotStandby extends EventEmitter implements ClaimArbiter {
  readonly lease: ChannelLease;
  readonly noticeChannel: string;
  private cmd: Redis | null = null;
  private sub: Redis | null = null;
  private readonly signer: NoticeSigner;
  private readonly verifier: NoticeVerifier;
  private readonly held = new Map<string, Held>();
  /** Publish checks not yet claimed in the hub: the role found, the lease token and when the lease was last confirmed. */
  private readonly admissions = new Map<string, { role: StreamRole; token: string | null; at: number; confirmedAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  /** Per backup: a look at the lease right when the primary's lease would expire if no heartbeat came (faster than the next tick). */
  private readonly promoteChecks = new Map<string, NodeJS.Timeout>();
  private ticking = false;
  private lastRejectLog = 0;
  /** When the notice subscription last became ready (this node hears heartbeats since then). */
  private listeningSince = 0;
  private readonly now: () => number;
  /** Heartbeats heard: node → when (this node's clock) and its primaries. */
  readonly peers = new Map<string, { at: number; primaries: { channel: string; token: string; hls?: HlsSequence | undefined }[] }>();

  constructor(private readonly o: HotStandbyOptions) {
    super();
    this.now = o.now ?? Date.now;
    this.lease = new ChannelLease({ redis: () => this.redis, nodeId: o.nodeId, ttlMs: o.ttlMs, prefix: o.prefix });
    this.noticeChannel = `${o.prefix}:cluster:notices`;
    this.signer = new NoticeSigner(o.secret, o.nodeId, this.now);
    this.verifier = new NoticeVerifier(o.secret, o.nodeId, o.ttlMs * NOTICE_SKEW_TTLS, this.now);
  }

  private get redis(): Redis {
    if (!this.cmd) throw new Error('hot standby not started');
    return this.cmd;
  }

  get renewMs(): number {
    return Math.max(50, Math.floor(this.o.ttlMs / RENEWALS_PER_TTL));
  }

  /** roleOf says what this node holds of a channel (undefined: nothing managed by the lease). */
  roleOf(channel: string): StreamRole | undefined {
    return this.held.get(channel)?.role;
  }

  async start(): Promise<void> {
    if (this.cmd) return;
    // No offline queue and one retry: while Redis is away a renewal fails at once and the fence
    // timer decides, instead of a renewal sent late confirming a lease that already expired.
    // Reconnecting at least every renewal period: after an outage the lease is looked at again within one.
    const retryStrategy = (times: number) => Math.min(times * 50, this.renewMs);
    const cmd = newRedis(this.o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: this.o.ttlMs, retryStrategy });
    const sub = newRedis(this.o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy });
    cmd.on('error', (err) => this.o.logger.debug({ err: err.message }, 'hot standby: redis command connection error'));
    sub.on('error', (err) => this.o.logger.debug({ err: err.message }, 'hot standby: redis subscriber connection error'));
    sub.on('message', (_channel: string, message: string) => this.onNotice(message));
    sub.on('ready', () => (this.listeningSince = this.now()));
    this.cmd = cmd;
    this.sub = sub;
    await cmd.connect();
    await sub.connect();
    await sub.subscribe(this.noticeChannel);
    this.o.hub.setArbiter(this);
    this.o.hub.on(HUB_EVENT_STREAM_START, this.onStreamStart);
    this.o.hub.on(HUB_EVENT_STREAM_END, this.onStreamEnd);
    this.o.hub.on(HUB_EVENT_BACKUP_CHANGE, this.onBackupChange);
    this.timer = setInterval(() => void this.tick(), this.renewMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.cmd) return;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.promoteChecks.values()) clearTimeout(t);
    this.promoteChecks.clear();
    this.o.hub.setArbiter(undefined);
    this.o.hub.off(HUB_EVENT_STREAM_START, this.onStreamStart);
    this.o.hub.off(HUB_EVENT_STREAM_END, this.onStreamEnd);
    this.o.hub.off(HUB_EVENT_BACKUP_CHANGE, this.onBackupChange);
    // A clean stop hands its leases over at once (the hub stops its streams after this).
    for (const [channel, h] of this.held) {
      if (h.role !== 'primary') continue;
      clearTimeout(h.fenceTimer);
      if (h.token && (await this.releaseLease(channel, h.token))) await this.cmd.publish(this.noticeChannel, this.signer.sign({ type: 'lease-released', channel, token: h.token })).catch(() => undefined);
    }
    for (const [channel, a] of this.admissions) if (a.token) await this.releaseLease(channel, a.token);
    this.held.clear();
    this.admissions.clear();
    const c = this.cmd;
    const s = this.sub;
    this.cmd = this.sub = null;
    await Promise.all([c.quit().catch(() => c.disconnect()), s?.quit().catch(() => s.disconnect())]);
  }

  // ------------------------------------------------------------ admission

  /**
   * admit is the publish check (media.addPublishGuard): it takes the channel's lease, or finds
   * another node holding it (the publish becomes a backup). Never refuses by itself: without Redis
   * the publish goes on as an isolated primary, fenced from the start.
   */
  readonly admit = async (channel: string): Promise<string | null> => {
    if (this.o.hub.holds(channel) || this.admissions.has(channel)) return null;
    let role: StreamRole = 'primary';
    let token: string | null = null;
    const sentAt = this.now();
    try {
      let r = await this.lease.acquire(channel);
      if (!r.acquired && r.holder?.node === this.o.nodeId) {
        // Our own lease from a stream that was kicked (left to expire): it is ours to give up.
        await this.lease.release(channel, r.holder.token);
        r = await this.lease.acquire(channel);
      }
      if (r.acquired) token = r.token;
      else role = 'backup';
    } catch (err) {
      this.o.logger.warn({ channel, err: (err as Error).message }, 'hot standby: the channel lease could not be read; the publish goes on isolated (not recorded, not restreamed)');
    }
    // A publish admitted in the meantime (racing checks) keeps its claim; release what this one took.
    if (this.admissions.has(channel) || this.o.hub.holds(channel)) {
      if (token) await this.releaseLease(channel, token);
      return null;
    }
    this.admissions.set(channel, { role, token, at: this.now(), confirmedAt: sentAt });
    return null;
  };

  /** roleFor is the hub's question at publish: the role the publish check found (no check: primary, unmanaged). */
  roleFor(channel: string): StreamRole {
    const a = this.admissions.get(channel);
    if (!a) return 'primary';
    this.admissions.delete(channel);
    if (a.role === 'backup') this.held.set(channel, { role: 'backup' });
    else this.held.set(channel, { role: 'primary', token: a.token, stream: undefined, fenceTimer: undefined });
    if (a.role === 'primary') this.armFence(channel, a.token ? a.confirmedAt : 0);
    // Said to the other nodes: their pulls of the channel re-point here now (a broadcaster that
    // moved to this node after its origin died, edge-pull.ts), not at their next backoff step.
    if (a.role === 'primary' && a.token) this.publishNotice({ type: 'lease-acquired', channel, token: a.token });
    return a.role;
  }

  private readonly onStreamStart = (channel: string): void => {
    const h = this.held.get(channel);
    if (h?.role === 'primary') h.stream = this.o.hub.streams.get(channel);
  };

  private readonly onStreamEnd = (channel: string): void => {
    const h = this.held.get(channel);
    if (h?.role !== 'primary') return;
    this.held.delete(channel);
    clearTimeout(h.fenceTimer);
    if (!h.token) return;
    if (h.stream?.kicked) {
      // Ended on purpose: the lease runs out by itself, so the end request reaches the backup before it could take over.
      this.o.logger.info({ channel }, 'hot standby: primary ended by a kick; its lease is left to expire');
      return;
    }
    const token = h.token;
    void this.releaseLease(channel, token).then((released) => {
      if (released) this.publishNotice({ type: 'lease-released', channel, token });
    });
  };

  private readonly onBackupChange = (channel: string): void => {
    if (this.o.hub.backups.has(channel)) {
      if (this.held.get(channel)?.role === 'backup') void this.checkBackupCodecs(channel);
    } else if (this.held.get(channel)?.role === 'backup') this.held.delete(channel);
  };

  // ------------------------------------------------------------ the periodic work

  private async tick(): Promise<void> {
    if (this.ticking || !this.cmd) return;
    this.ticking = true;
    try {
      const now = this.now();
      for (const [channel, a] of [...this.admissions]) {
        if (now - a.at >= ADMISSION_TIMEOUT_MS) {
          this.admissions.delete(channel);
          if (a.token) await this.releaseLease(channel, a.token);
        } else if (a.token) {
          // An ingest that holds frames until its tracks are known claims seconds later: the lease must live until then.
          const sentAt = this.now();
          // undefined: Redis unreachable (the lease may still be ours); false: it is not ours any more.
          const kept = await this.lease.renew(channel, a.token).catch(() => undefined);
          if (this.admissions.get(channel) === a) {
            if (kept === true) a.confirmedAt = sentAt;
            else if (kept === false) a.token = null;
          }
        }
      }
      for (const [channel, h] of [...this.held]) {
        if (h.role === 'primary') await this.keepPrimary(channel, h);
        else if (this.primaryMayBeAlive(channel)) await this.checkBackupCodecs(channel);
        else await this.tryPromote(channel);
      }
      this.heartbeat();
    } finally {
      this.ticking = false;
    }
  }

  /**
   * primaryMayBeAlive: a backup does not take an expired lease while the primary's node may still
   * be there: a heartbeat naming the channel came within the lease's lifetime, or this node has not
   * listened that long (Redis just came back: an isolated primary gets to take its lease again
   * first). A released lease (lease-released) is taken without waiting.
   */
  private primaryMayBeAlive(channel: string): boolean {
    const now = this.now();
    if (now - this.listeningSince < this.o.ttlMs) return true;
    for (const p of this.peers.values()) if (now - p.at < this.o.ttlMs && p.primaries.some((x) => x.channel === channel)) return true;
    return false;
  }

  private heartbeat(): void {
    const primaries: { channel: string; token: string; hls?: HlsSequence }[] = [];
    for (const [channel, h] of this.held) {
      if (h.role !== 'primary' || !h.token) continue;
      const hls = this.o.sequenceOf?.(channel);
      primaries.push({ channel, token: h.token, ...(hls ? { hls } : {}) });
    }
    this.publishNotice({ type: 'heartbeat', primaries });
  }

  /**
   * previousSequence is where the channel's LL-HLS sequence should go on here: after the last
   * position another node's heartbeat gave for it, plus the segments that node may have begun
   * between two heartbeats (`segmentMs`: the target duration). Undefined when no node named one lately.
   */
  previousSequence(channel: string, segmentMs: number): HlsSequence | undefined {
    let best: { at: number; hls: HlsSequence } | undefined;
    const now = this.now();
    for (const p of this.peers.values()) {
      if (now - p.at > SEQUENCE_MEMORY_MS || (best && best.at >= p.at)) continue;
      const hls = p.primaries.find((x) => x.channel === channel)?.hls;
      if (hls) best = { at: p.at, hls };
    }
    if (!best) return undefined;
    return { nextMsn: best.hls.nextMsn + Math.ceil(this.renewMs / Math.max(1, segmentMs)), discontinuity: best.hls.discontinuity };
  }

  /** keepPrimary renews the lease; a lost lease is taken again when free, and the stream ends when another node holds it. */
  private async keepPrimary(channel: string, h: Extract<Held, { role: 'primary' }>): Promise<void> {
    const sentAt = this.now();
    try {
      if (h.token && (await this.lease.renew(channel, h.token))) {
        this.armFence(channel, sentAt);
        return;
      }
      const r = await this.lease.acquire(channel);
      if (this.held.get(channel) !== h) return;
      if (r.acquired) {
        const first = !h.token;
        h.token = r.token;
        this.armFence(channel, sentAt);
        this.o.logger.info({ channel, token: r.token }, first ? 'hot standby: the isolated primary took the lease' : 'hot standby: the primary took its lost lease again');
        this.publishNotice({ type: 'lease-acquired', channel, token: r.token });
        return;
      }
      if (r.holder?.node === this.o.nodeId) {
        // Taken by a check of this node running at the same time (a notice and the timer).
        h.token = r.holder.token;
        return;
      }
      // Another node holds the lease (it promoted while this one was cut off): the lease decides, this stream ends.
      this.o.logger.warn({ channel, holder: r.holder?.node }, 'hot standby: another node holds the channel lease; ending this node\'s stream');
      this.held.delete(channel);
      clearTimeout(h.fenceTimer);
      this.o.hub.kick(channel, 'another node is the primary of this channel');
    } catch {
      // Redis unreachable: the fence timer stops recording when the lease would have expired.
    }
  }

  /** tryPromote takes a free lease for a backup and makes it this node's primary. */
  private async tryPromote(channel: string): Promise<void> {
    let token: string;
    try {
      const r = await this.lease.acquire(channel);
      if (!r.acquired) {
        await this.checkBackupCodecs(channel);
        return;
      }
      token = r.token;
    } catch {
      return; // Redis unreachable: a backup waits, it is never promoted without the lease.
    }
    const sentAt = this.now();
    if (this.held.get(channel)?.role !== 'backup' || !this.o.hub.promote(channel)) {
      await this.releaseLease(channel, token);
      return;
    }
    this.held.set(channel, { role: 'primary', token, stream: this.o.hub.streams.get(channel), fenceTimer: undefined });
    this.armFence(channel, sentAt);
    this.o.metrics.promotions.inc();
    this.o.logger.info({ channel, token }, 'hot standby: backup promoted to primary');
    this.publishNotice({ type: 'lease-acquired', channel, token });
    this.emit(STANDBY_EVENT_PRIMARY, { channel, node: this.o.nodeId, token } satisfies PrimaryChange);
  }

  /**
   * armPromoteCheck: the primary's node just said it is alive; if it says nothing more, its lease
   * expires a lease lifetime from now, so the backup looks then rather than at its next tick.
   */
  private armPromoteCheck(channel: string): void {
    clearTimeout(this.promoteChecks.get(channel));
    const t = setTimeout(() => {
      this.promoteChecks.delete(channel);
      if (this.cmd && this.held.get(channel)?.role === 'backup' && !this.primaryMayBeAlive(channel)) void this.tryPromote(channel);
    }, this.o.ttlMs + PROMOTE_CHECK_SLACK_MS);
    t.unref();
    this.promoteChecks.set(channel, t);
  }

  /** armFence fences the primary when its lease, last confirmed at `confirmedAt`, would have expired (0: fence now). */
  private armFence(channel: string, confirmedAt: number): void {
    const h = this.held.get(channel);
    if (h?.role !== 'primary') return;
    clearTimeout(h.fenceTimer);
    const ms = confirmedAt === 0 ? 0 : confirmedAt + this.o.ttlMs * FENCE_AT_TTL_SHARE - this.now();
    h.fenceTimer = setTimeout(() => {
      if (this.held.get(channel) === h && this.o.hub.fence(channel)) this.o.metrics.fenced.inc();
    }, Math.max(0, ms));
    h.fenceTimer.unref();
  }

  /** checkBackupCodecs ends a backup whose codecs differ from its primary's (as the cluster live list shows them). */
  private async checkBackupCodecs(channel: string): Promise<void> {
    const mine = this.o.hub.backupStats(channel);
    if (!mine || (!mine.video && !mine.audio)) return;
    let primary: Record<string, unknown> | undefined;
    try {
      for (const n of await this.o.directory(this.redis).list()) {
        if (n.node === this.o.nodeId) continue;
        primary = n.streams.find((s) => s.channel === channel && s.role !== 'backup') ?? primary;
      }
    } catch {
      return;
    }
    const why = primary ? codecMismatch(mine, primary) : null;
    if (!why || this.held.get(channel)?.role !== 'backup') return;
    this.o.metrics.refused.inc();
    this.o.logger.warn({ channel, reason: why }, 'hot standby: backup refused');
    this.held.delete(channel);
    this.o.hub.kickBackup(channel, `backup refused: ${why}`);
    this.emit(STANDBY_EVENT_BACKUP_REFUSED, { channel, reason: why } satisfies BackupRefusal);
  }

  // ------------------------------------------------------------ notices

  private publishNotice(body: NoticeBody): void {
    this.cmd?.publish(this.noticeChannel, this.signer.sign(body)).catch(() => undefined);
  }

  private onNotice(raw: string): void {
    const r = this.verifier.verify(raw);
    if (!r.ok) return this.rejected(r.why);
    this.o.metrics.notices.inc({ result: 'accepted' });
    this.handleNotice(r.notice);
  }

  private rejected(why: NoticeRejection): void {
    if (why === 'own') return;
    this.o.metrics.notices.inc({ result: why });
    const now = Date.now();
    if (now - this.lastRejectLog >= REJECT_LOG_INTERVAL_MS) {
      this.lastRejectLog = now;
      this.o.logger.warn({ why }, 'hot standby: cluster notice ignored (counted in onair_cluster_notices_total)');
    }
  }

  private handleNotice(n: ClusterNotice): void {
    switch (n.type) {
      case 'heartbeat':
        this.peers.set(n.node, { at: this.now(), primaries: n.primaries });
        for (const p of n.primaries) if (this.held.get(p.channel)?.role === 'backup') this.armPromoteCheck(p.channel);
        return;
      case 'lease-acquired':
        this.emit(STANDBY_EVENT_PRIMARY, { channel: n.channel, node: n.node, token: n.token } satisfies PrimaryChange);
        {
          // Another node says it is primary: a primary here checks the lease now rather than at its next renewal.
          const h = this.held.get(n.channel);
          if (h?.role === 'primary') void this.keepPrimary(n.channel, h);
        }
        return;
      case 'lease-released':
        if (this.held.get(n.channel)?.role === 'backup') void this.tryPromote(n.channel);
        return;
    }
  }

  private async releaseLease(channel: string, token: string): Promise<boolean> {
    try {
      return await this.lease.release(channel, token);
    } catch {
      return false; // it expires by itself
    }
  }
}
