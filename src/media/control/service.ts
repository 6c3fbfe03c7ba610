/**
 * StreamControl: ending a live stream through the API (kick the publisher, optionally block
 * new publishes for a while and rotate the key), the publish guard that enforces the block on
 * every ingest protocol, the operators' live list, and the restream targets' CRUD. Routes are
 * in routes.ts; this module holds the rules so they are tested without HTTP.
 */
import prom from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { metricOnce } from '../../observability/metrics.js';
import type { ChannelsTable } from '../../platform/db/schema.js';
import type { ChannelStats } from '../hub/hub.js';
import { AppError } from '../../http/errors.js';
import type { ControlStore, RestreamTargetsTable } from './db.js';
import type { RestreamRunner, TargetStatus } from './restream.js';
import type { BusEndOutcome } from './bus.js';
import type { EndedStream, EndRequest } from './bus-messages.js';
import type { LiveEntry, NodeLive } from './bus-live.js';
import { checkTargetHost, maskKey, normaliseTarget, RESTREAM_NAME_MAX_LENGTH, TargetError, type NormalisedTarget, type Resolver } from './targets.js';

/** Longest publish block an end may set (one day). */
export const MAX_BLOCK_SECONDS = 86_400;
export const END_REASON_MAX_LENGTH = 200;

/** The hub operations stream control needs (the media role's StreamHub). */
export interface ControlHub {
  isLive(channel: string): boolean;
  stats(channel: string): ChannelStats | null;
  stats(): ChannelStats[];
  kick(channel: string, reason?: string): boolean;
  /** Hot-standby backups held here (the role field says which they are). */
  backupStats?(channel: string): ChannelStats | null;
  backupStats?(): ChannelStats[];
}

export interface ControlMetrics {
  ends: prom.Counter<'by' | 'outcome'>;
  blockedPublishes: prom.Counter;
}

/** controlMetrics registers (once per registry) the end and block counters. */
export function controlMetrics(registry: prom.Registry): ControlMetrics {
  const ends = metricOnce<prom.Counter<'by' | 'outcome'>>(registry, 'onair_live_end_requests_total', () =>
    new prom.Counter({ name: 'onair_live_end_requests_total', help: 'POST /live/end calls that passed the permission check, by who (owner, admin) and outcome (ended, not_live, not_live_here; with the control bus also not_live_anywhere, timeout, bus_unavailable).', labelNames: ['by', 'outcome'], registers: [registry] }),
  );
  const blockedPublishes = metricOnce<prom.Counter>(registry, 'onair_publish_blocked_total', () =>
    new prom.Counter({ name: 'onair_publish_blocked_total', help: 'Publishes refused because the channel was blocked after its stream was ended.', registers: [registry] }),
  );
  return { ends, blockedPublishes };
}

/** Who asks: the channel owner, or an admin (user or admin token). */
export interface ControlActor {
  by: 'owner' | 'admin';
  /** User id; '' for the admin token. */
  userId: string;
}

export interface EndOptions {
  reason?: string;
  blockSeconds?: number;
  rotateKey?: boolean;
}

export interface EndResult {
  channel: string;
  /** true when a publisher was kicked by this call. */
  ended: boolean;
  /**
   * Why nothing was ended. Without the control bus: not_live (not live on this media node).
   * With it (redis.url set): not_live_anywhere (every media node answered that it does not hold
   * the publisher), timeout (some media node did not answer within media.control.endTimeoutMs),
   * bus_unavailable (Redis failed).
   */
  reason?: EndFailure;
  /** The ended stream, as it was. */
  stream?: EndedStream;
  /** With the control bus: id of the media node that held the publisher and ended it. */
  node?: string;
  /** With the control bus, when the end went over it: media nodes asked and those that answered. */
  bus?: { asked: number; answered: number };
  /** ISO time until which new publishes are refused, null when no block. */
  blockedUntil: string | null;
  /** The new stream key when rotateKey was asked. */
  streamKey?: string;
}

export type EndFailure = 'not_live' | 'not_live_anywhere' | 'timeout' | 'bus_unavailable';

/** The control bus as stream control uses it (ControlBus in bus.ts). */
export interface ClusterBus {
  readonly nodeId: string;
  requestEnd(channel: string, by: 'owner' | 'admin', reason: string | null): Promise<BusEndOutcome>;
}

/** The cluster live list as stream control reads it (LiveDirectory in bus-live.ts). */
export interface ClusterDirectory {
  list(): Promise<NodeLive[]>;
}

/** A /api/v1/streams entry: hub stats and restreams; with the control bus also its node. */
export type LiveStream = ChannelStats & { restreams: { id: string; name: string; status: TargetStatus }[]; node?: string; nodeUrl?: string };

export interface StreamsView {
  mediaHere: boolean;
  /** With the control bus: this node's id. */
  node?: string;
  streams: LiveStream[];
  /** With the control bus: the media nodes whose lists were read (this one included when it runs media). */
  nodes?: { node: string; url?: string; streams: number; updatedAt: string }[];
  /** With the control bus, when Redis could not be read: why (streams then holds this node's only). */
  clusterError?: string;
}

export interface PublicTarget {
  id: string;
  channel: string;
  name: string;
  url: string;
  /** Masked: at most the last 4 characters. */
  streamKey: string | null;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
  status: TargetStatus;
}

export interface StreamControlDeps {
  store: ControlStore;
  /** The hub when the media role runs here; undefined on api-only nodes. */
  hub?: ControlHub;
  runner?: RestreamRunner;
  channels: {
    find(name: string): Promise<ChannelsTable | undefined>;
    rotateKey(name: string): Promise<string>;
  };
  logger: Logger;
  metrics: ControlMetrics;
  maxTargetsPerChannel: number;
  allowPrivateTargets: boolean;
  resolve?: Resolver;
  now?: () => number;
  /** The control bus (redis.url set): ends reach the media node holding the publisher. */
  bus?: ClusterBus;
  /** The cluster live list (redis.url set). */
  directory?: ClusterDirectory;
  /** This node's advertised base URL, shown on its own entries (media.control.advertiseUrl). */
  nodeUrl?: string;
}

const endedBy = (by: 'owner' | 'admin') => `ended by ${by === 'owner' ? 'the channel owner' : 'an admin'}`;

const notLiveHere = (channel: string) =>
  new AppError('not_live_here', `this node does not run the media role, so it cannot end "${channel}"'s stream; call the media node the publisher is connected to`, { mediaHere: false });

function targetError(err: unknown): never {
  if (err instanceof TargetError) throw new AppError(err.code, err.message);
  throw err;
}

/** normalised is normaliseTarget with its errors as API errors. */
function normalised(url: string, key?: string | null): NormalisedTarget {
  try {
    return normaliseTarget(url, key);
  } catch (err) {
    return targetError(err);
  }
}

export class StreamControl {
  private readonly now: () => number;

  constructor(private readonly d: StreamControlDeps) {
    this.now = d.now ?? Date.now;
  }

  get mediaHere(): boolean {
    return !!this.d.hub;
  }

  /** cluster is this node's id and the cluster live list (redis.url set), for features that find a channel's node. */
  get cluster(): { node: string; directory: ClusterDirectory } | undefined {
    const { bus, directory } = this.d;
    return bus && directory ? { node: bus.nodeId, directory } : undefined;
  }

  /**
   * end kicks the channel's publisher (RTMP or WHIP), after storing the block (so an encoder's
   * automatic reconnect is refused) and rotating the key when asked. Without the control bus:
   * not live here → 200 with ended false (block and rotation still apply); no media role on
   * this node → 409 not_live_here. With the bus, a publisher not held here is ended by the media
   * node that holds it (any node, media role or not, can end any stream).
   */
  async end(channel: ChannelsTable, actor: ControlActor, opts: EndOptions = {}): Promise<EndResult> {
    const { hub, bus } = this.d;
    if (!hub && !bus) {
      this.d.metrics.ends.inc({ by: actor.by, outcome: 'not_live_here' });
      throw notLiveHere(channel.name);
    }
    const blockSeconds = opts.blockSeconds ?? 0;
    const reason = opts.reason?.trim().slice(0, END_REASON_MAX_LENGTH) || null;
    let blockedUntil: string | null = null;
    if (blockSeconds > 0) {
      const until = this.now() + blockSeconds * 1000;
      await this.d.store.block(channel.id, until, reason, actor.userId);
      blockedUntil = new Date(until).toISOString();
    }
    const streamKey = opts.rotateKey ? await this.d.channels.rotateKey(channel.name) : undefined;
    const result: EndResult = { channel: channel.name, ended: false, blockedUntil };
    const local = hub ? this.kickLocal(channel.name, actor.by) : { ended: false as const };
    if (local.ended) {
      result.ended = true;
      if (local.stream) result.stream = local.stream;
      if (bus) {
        result.node = bus.nodeId;
        // A hot-standby publisher of the channel on another node ends too, or it would take over.
        if (await this.listedElsewhere(channel.name, bus.nodeId)) {
          const o = await bus.requestEnd(channel.name, actor.by, reason);
          result.bus = { asked: o.asked, answered: o.answered };
        }
      }
    } else if (bus) {
      const o = await bus.requestEnd(channel.name, actor.by, reason);
      result.bus = { asked: o.asked, answered: o.answered };
      if (o.ended) {
        result.ended = true;
        result.node = o.node;
        if (o.stream) result.stream = o.stream;
      } else {
        result.reason = o.reason;
        if (o.reason === 'bus_unavailable') this.d.logger.warn({ channel: channel.name, err: o.error }, 'live end: control bus unavailable');
      }
    } else {
      result.reason = 'not_live';
    }
    if (streamKey) result.streamKey = streamKey;
    this.d.metrics.ends.inc({ by: actor.by, outcome: result.ended ? 'ended' : result.reason! });
    this.d.logger.info(
      { channel: channel.name, by: actor.by, userId: actor.userId || undefined, ended: result.ended, node: result.node, notEnded: result.reason, protocol: result.stream?.protocol, reason, blockSeconds, blockedUntil, rotatedKey: !!streamKey },
      result.ended ? 'live stream ended through the API' : bus ? 'live end: no media node ended the stream (see notEnded)' : 'live end asked for a channel that is not live here',
    );
    return result;
  }

  /** listedElsewhere: another node's entry in the cluster live list has the channel (a backup, typically); true when the list cannot be read. */
  private async listedElsewhere(channel: string, self: string): Promise<boolean> {
    const dir = this.d.directory;
    if (!dir) return false;
    try {
      return (await dir.list()).some((n) => n.node !== self && n.streams.some((e) => e.channel === channel));
    } catch {
      return true;
    }
  }

  /** kickLocal ends the channel's stream if this node's hub holds its publisher. */
  private kickLocal(channel: string, by: 'owner' | 'admin'): { ended: boolean; stream?: EndedStream } {
    const hub = this.d.hub;
    const stats = hub ? (hub.stats(channel) ?? hub.backupStats?.(channel) ?? null) : null;
    if (!hub || !stats || !hub.kick(channel, endedBy(by))) return { ended: false };
    return {
      ended: true,
      stream: {
        protocol: stats.publisher.protocol,
        ...(stats.publisher.clientIp ? { clientIp: stats.publisher.clientIp } : {}),
        since: stats.since,
        durationSeconds: Math.max(0, Math.round((this.now() - Date.parse(stats.since)) / 1000)),
      },
    };
  }

  /**
   * serveEnd answers an end request from the control bus (media nodes): the block and key
   * rotation were applied by the asking node; this one only kicks if it holds the publisher.
   */
  readonly serveEnd = (req: EndRequest): { ended: boolean; stream?: EndedStream } => {
    const r = this.kickLocal(req.channel, req.by);
    if (r.ended) this.d.logger.info({ channel: req.channel, by: req.by, from: req.from, protocol: r.stream?.protocol, reason: req.reason }, 'live stream ended through the API (asked over the control bus)');
    return r;
  };

  /** blockOf is the channel's active publish block. */
  async blockOf(channel: ChannelsTable): Promise<{ blockedUntil: string | null; reason: string | null }> {
    const b = await this.d.store.activeBlock(channel.id);
    return { blockedUntil: b ? new Date(b.until_ms).toISOString() : null, reason: b?.reason ?? null };
  }

  async unblock(channel: ChannelsTable, actor: ControlActor): Promise<boolean> {
    const lifted = await this.d.store.unblock(channel.id);
    if (lifted) this.d.logger.info({ channel: channel.name, by: actor.by, userId: actor.userId || undefined }, 'publish block lifted');
    return lifted;
  }

  /** publishGuard refuses a publish to a blocked channel (media.addPublishGuard). */
  readonly publishGuard = async (channelName: string): Promise<string | null> => {
    const c = await this.d.channels.find(channelName);
    if (!c) return null;
    const b = await this.d.store.activeBlock(c.id);
    if (!b) return null;
    this.d.metrics.blockedPublishes.inc();
    return `publishing to ${channelName} is blocked until ${new Date(b.until_ms).toISOString()} (the stream was ended${b.reason ? `: ${b.reason}` : ''})`;
  };

  /** liveStreams lists every channel live on this node with its active restream targets. */
  async liveStreams(): Promise<LiveStream[]> {
    const hub = this.d.hub;
    if (!hub) return [];
    const out: LiveStream[] = [];
    for (const s of [...hub.stats(), ...(hub.backupStats?.() ?? [])]) {
      const row = await this.d.channels.find(s.channel);
      const targets = row && this.d.runner ? (await this.d.store.listTargets(row.id)).filter((t) => t.enabled === 1) : [];
      const statuses = this.d.runner ? this.d.runner.statuses(targets) : [];
      out.push({ ...s, restreams: targets.map((t, i) => ({ id: t.id, name: t.name, status: statuses[i] ?? restingStatus(t) })) });
    }
    return out;
  }

  /** ownEntries is this node's list as the cluster live list stores it (each entry marked with the node). */
  async ownEntries(): Promise<Array<LiveStream & LiveEntry>> {
    const node = this.d.bus?.nodeId;
    return (await this.liveStreams()).map((s) => ({ ...s, ...(node ? { node } : {}), ...(node && this.d.nodeUrl ? { nodeUrl: this.d.nodeUrl } : {}) }));
  }

  /**
   * streamsView answers GET /api/v1/streams: this node's streams from its hub; with the control
   * bus also every other media node's from the cluster live list (entries marked with `node`).
   */
  async streamsView(): Promise<StreamsView> {
    const { bus, directory } = this.d;
    const own: LiveStream[] = await this.ownEntries();
    if (!bus || !directory) return { mediaHere: this.mediaHere, streams: own };
    const view: StreamsView = { mediaHere: this.mediaHere, node: bus.nodeId, streams: own, nodes: [] };
    if (this.mediaHere) view.nodes!.push({ node: bus.nodeId, ...(this.d.nodeUrl ? { url: this.d.nodeUrl } : {}), streams: own.length, updatedAt: new Date(this.now()).toISOString() });
    try {
      for (const n of await directory.list()) {
        if (n.node === bus.nodeId) continue;
        view.nodes!.push({ node: n.node, ...(n.url ? { url: n.url } : {}), streams: n.streams.length, updatedAt: new Date(n.at).toISOString() });
        for (const e of n.streams) view.streams.push({ ...(e as unknown as LiveStream), node: n.node, ...(n.url ? { nodeUrl: n.url } : {}) });
      }
    } catch (err) {
      view.clusterError = `the cluster live list could not be read from Redis: ${(err as Error).message}`;
    }
    view.streams.sort((a, b) => a.channel.localeCompare(b.channel) || (a.node ?? '').localeCompare(b.node ?? ''));
    view.nodes!.sort((a, b) => a.node.localeCompare(b.node));
    return view;
  }

  // ------------------------------------------------------------ restream targets

  private view(channel: ChannelsTable, t: RestreamTargetsTable, status: TargetStatus): PublicTarget {
    return { id: t.id, channel: channel.name, name: t.name, url: t.url, streamKey: maskKey(t.stream_key), enabled: t.enabled === 1, createdAt: t.created_at, updatedAt: t.updated_at, status };
  }

  private statusesOf(targets: RestreamTargetsTable[]): TargetStatus[] {
    if (this.d.runner) return this.d.runner.statuses(targets);
    return targets.map(restingStatus);
  }

  async listTargets(channel: ChannelsTable): Promise<PublicTarget[]> {
    const rows = await this.d.store.listTargets(channel.id);
    const st = this.statusesOf(rows);
    return rows.map((t, i) => this.view(channel, t, st[i] ?? restingStatus(t)));
  }

  private async requireTarget(channel: ChannelsTable, id: string): Promise<RestreamTargetsTable> {
    const t = await this.d.store.getTarget(channel.id, id);
    if (!t) throw new AppError('restream_not_found', `channel "${channel.name}" has no restream target "${id}"`);
    return t;
  }

  private async afterChange(channel: ChannelsTable, id: string): Promise<PublicTarget> {
    await this.d.runner?.sync(channel.name);
    const t = await this.requireTarget(channel, id);
    return this.view(channel, t, this.statusesOf([t])[0] ?? restingStatus(t));
  }

  private checkName(name: string): string {
    const n = name.trim();
    if (!n || n.length > RESTREAM_NAME_MAX_LENGTH) throw new AppError('validation_failed', `name: 1-${RESTREAM_NAME_MAX_LENGTH} characters`);
    return n;
  }

  async createTarget(channel: ChannelsTable, input: { name: string; url: string; streamKey?: string; enabled?: boolean }): Promise<PublicTarget> {
    const name = this.checkName(input.name);
    const norm = normalised(input.url, input.streamKey);
    await checkTargetHost(norm.host, this.d.allowPrivateTargets, this.d.resolve).catch(targetError);
    if ((await this.d.store.countTargets(channel.id)) >= this.d.maxTargetsPerChannel) {
      throw new AppError('too_many_restreams', `channel "${channel.name}" has the most restream targets allowed (${this.d.maxTargetsPerChannel}); remove one first`, { max: this.d.maxTargetsPerChannel });
    }
    const row = await this.d.store.createTarget(channel.id, { name, url: norm.url, streamKey: norm.streamKey, enabled: input.enabled ?? true });
    this.d.logger.info({ channel: channel.name, target: row.id, name, url: row.url, enabled: row.enabled === 1 }, 'restream target added');
    return this.afterChange(channel, row.id);
  }

  /**
   * updateTarget changes name, url, key or enabled. A new url without streamKey keeps the
   * stored key unless the url carries one as its last path segment.
   */
  async updateTarget(channel: ChannelsTable, id: string, patch: { name?: string; url?: string; streamKey?: string; enabled?: boolean }): Promise<PublicTarget> {
    const current = await this.requireTarget(channel, id);
    const change: { name?: string; url?: string; streamKey?: string; enabled?: boolean } = {};
    if (patch.name !== undefined) change.name = this.checkName(patch.name);
    if (patch.url !== undefined || patch.streamKey !== undefined) {
      const url = patch.url ?? current.url;
      let norm: NormalisedTarget;
      if (patch.streamKey !== undefined) norm = normalised(url, patch.streamKey);
      else {
        // url only: with a key in its path it replaces the stored key, else the stored key stays.
        try {
          norm = normaliseTarget(url);
        } catch {
          norm = normalised(url, current.stream_key);
        }
      }
      await checkTargetHost(norm.host, this.d.allowPrivateTargets, this.d.resolve).catch(targetError);
      change.url = norm.url;
      change.streamKey = norm.streamKey;
    }
    if (patch.enabled !== undefined) change.enabled = patch.enabled;
    await this.d.store.updateTarget(channel.id, id, change);
    this.d.logger.info({ channel: channel.name, target: id, changed: Object.keys(change) }, 'restream target changed');
    return this.afterChange(channel, id);
  }

  async deleteTarget(channel: ChannelsTable, id: string): Promise<void> {
    if (!(await this.d.store.deleteTarget(channel.id, id))) throw new AppError('restream_not_found', `channel "${channel.name}" has no restream target "${id}"`);
    await this.d.runner?.sync(channel.name);
    this.d.runner?.forget(id);
    this.d.logger.info({ channel: channel.name, target: id }, 'restream target removed');
  }
}

/** restingStatus is a target's status when no relay runs for it (no runner here, or none reported). */
function restingStatus(t: RestreamTargetsTable): TargetStatus {
  return { state: t.enabled === 1 ? 'idle' : 'stopped', connects: 0, lastError: null, bytesSent: 0 };
}
