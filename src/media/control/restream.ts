/**
 * RestreamRunner keeps one push relay per enabled restream target of every channel that is
 * live on this node: relays start when the stream starts, stop when it ends, and a target
 * added, changed, enabled or disabled while live takes effect at once (sync). The relays are
 * the media role's RelayManager push relays (reconnect with backoff, skip to the next
 * keyframe when the target falls behind).
 */
import type { Logger } from '../../observability/logger.js';
import { HUB_EVENT_STREAM_END, HUB_EVENT_STREAM_FENCED, HUB_EVENT_STREAM_START } from '../hub/hub.js';
import type { RelayInfo } from '../relay/manager.js';
import type { RestreamTargetsTable } from './db.js';
import { resolveTargetHost, pushUrlOf, scrubKey, type Resolver } from './targets.js';

/** The parts of the hub the runner uses. */
export interface RunnerHub {
  isLive(channel: string): boolean;
  /** The channel's primary lost its cluster lease (hot standby): nothing leaves the node for it. */
  isFenced?(channel: string): boolean;
  liveChannels(): string[];
  on(event: string, listener: (channel: string) => void): unknown;
  off(event: string, listener: (channel: string) => void): unknown;
}

/** The parts of the media service that run relays. */
export interface RunnerRelays {
  startRelay(spec: { direction: 'push'; channel: string; url: string; connectAddress?: string }): RelayInfo;
  stopRelay(id: string): Promise<boolean>;
  listRelays(): RelayInfo[];
}

export type TargetState = 'idle' | 'connecting' | 'running' | 'waiting' | 'stopped';

export interface TargetStatus {
  state: TargetState;
  /** Connections made to the target during this (or the last) live stream. */
  connects: number;
  lastError: string | null;
  /** Media payload bytes sent to the target during this (or the last) live stream. */
  bytesSent: number;
}

export interface RestreamRunnerDeps {
  hub: RunnerHub;
  relays: RunnerRelays;
  /** Enabled and disabled targets of a channel by name (empty for unknown channels). */
  targetsOf(channel: string): Promise<RestreamTargetsTable[]>;
  logger: Logger;
  /** config media.restream.enabled: false keeps every target idle. */
  enabled: boolean;
  allowPrivateTargets: boolean;
  resolve?: Resolver;
}

/** TARGET_UNREACHABLE is what the owner sees for every network-level failure to reach a target. */
export const TARGET_UNREACHABLE = 'target unreachable';

/**
 * publicRelayError is the part of a push relay's error its channel's owner may see. Answers the
 * target itself gave (RTMP status codes, a refused connect, a certificate that failed the check)
 * are shown; refused, reset or closed connections and timeouts all read "target unreachable", so
 * the error cannot tell an open port from a closed or filtered one (no port scanning through
 * restream targets). The server log keeps the details (the relay's reconnect reasons).
 */
export function publicRelayError(message: string): string {
  if (/\b(NetConnection|NetStream)\.[A-Za-z.]+/.test(message) || /TLS certificate verify failed/.test(message)) return message;
  return TARGET_UNREACHABLE;
}

interface Running {
  relayId: string;
  channel: string;
  pushUrl: string;
  key: string;
}

export class RestreamRunner {
  private readonly running = new Map<string, Running>();
  /** Status of targets whose relay has stopped (the last stream's figures). */
  private readonly last = new Map<string, TargetStatus>();
  /** Targets refused at start this stream (address check), by id → channel; cleared when the stream ends. */
  private readonly refused = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private started = false;
  private readonly onStart = (channel: string) => void this.sync(channel);
  private readonly onEnd = (channel: string) => void this.sync(channel);

  constructor(private readonly d: RestreamRunnerDeps) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.d.hub.on(HUB_EVENT_STREAM_START, this.onStart);
    this.d.hub.on(HUB_EVENT_STREAM_END, this.onEnd);
    this.d.hub.on(HUB_EVENT_STREAM_FENCED, this.onEnd);
    for (const ch of this.d.hub.liveChannels()) void this.sync(ch);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.d.hub.off(HUB_EVENT_STREAM_START, this.onStart);
    this.d.hub.off(HUB_EVENT_STREAM_END, this.onEnd);
    this.d.hub.off(HUB_EVENT_STREAM_FENCED, this.onEnd);
    await Promise.all([...this.chains.values()]);
    for (const id of [...this.running.keys()]) await this.stopTarget(id);
  }

  /**
   * sync brings a channel's relays in line with its targets and live state. Calls for one
   * channel run one after another, so a burst of changes cannot start a target twice.
   */
  sync(channel: string): Promise<void> {
    const prev = this.chains.get(channel) ?? Promise.resolve();
    const next = prev.then(() => this.syncNow(channel)).catch((err: unknown) => this.d.logger.warn({ err, channel }, 'restream sync failed'));
    this.chains.set(channel, next);
    void next.then(() => {
      if (this.chains.get(channel) === next) this.chains.delete(channel);
    });
    return next;
  }

  /** pushable: live here and not fenced (a node that lost the channel's lease must not push it twice). */
  private pushable(channel: string): boolean {
    return this.d.hub.isLive(channel) && !this.d.hub.isFenced?.(channel);
  }

  private async syncNow(channel: string): Promise<void> {
    const live = this.started && this.d.enabled && this.pushable(channel);
    const targets = live ? (await this.d.targetsOf(channel)).filter((t) => t.enabled === 1) : [];
    const wanted = new Map(targets.map((t) => [t.id, t]));
    for (const [id, ch] of this.refused) if (ch === channel && (!live || !wanted.has(id))) this.refused.delete(id);
    for (const [id, r] of this.running) {
      if (r.channel !== channel) continue;
      const t = wanted.get(id);
      if (!t || pushUrlOf({ url: t.url, streamKey: t.stream_key }) !== r.pushUrl || !this.pushable(channel)) await this.stopTarget(id);
    }
    for (const t of targets) {
      if (this.running.has(t.id) || !this.pushable(channel)) continue;
      const pushUrl = pushUrlOf({ url: t.url, streamKey: t.stream_key });
      let connectAddress: string | null;
      try {
        // Resolved and checked again at every start (the name may point elsewhere since it was
        // saved); the relay then connects to this address only, on every attempt.
        connectAddress = await resolveTargetHost(new URL(t.url).hostname.replace(/^\[|\]$/g, ''), this.d.allowPrivateTargets, this.d.resolve);
      } catch (err) {
        this.last.set(t.id, { state: 'stopped', connects: 0, lastError: (err as Error).message, bytesSent: 0 });
        this.refused.set(t.id, channel);
        this.d.logger.warn({ channel, target: t.id, err: (err as Error).message }, 'restream target refused');
        continue;
      }
      if (!this.pushable(channel) || this.running.has(t.id)) continue;
      const info = this.d.relays.startRelay({ direction: 'push', channel, url: pushUrl, ...(connectAddress ? { connectAddress } : {}) });
      this.running.set(t.id, { relayId: info.id, channel, pushUrl, key: t.stream_key });
      this.last.delete(t.id);
      this.refused.delete(t.id);
      this.d.logger.info({ channel, target: t.id, name: t.name, relay: info.id }, 'restream started');
    }
  }

  private async stopTarget(id: string): Promise<void> {
    const r = this.running.get(id);
    if (!r) return;
    const s = this.statusOfRelay(r);
    this.running.delete(id);
    await this.d.relays.stopRelay(r.relayId);
    this.last.set(id, { ...s, state: 'stopped' });
    this.d.logger.info({ channel: r.channel, target: id, relay: r.relayId, connects: s.connects, bytesSent: s.bytesSent }, 'restream stopped');
  }

  private statusOfRelay(r: Running, relays?: RelayInfo[]): TargetStatus {
    const info = (relays ?? this.d.relays.listRelays()).find((x) => x.id === r.relayId);
    if (!info) return { state: 'connecting', connects: 0, lastError: null, bytesSent: 0 };
    return {
      state: info.state,
      connects: info.connects,
      lastError: info.lastError ? publicRelayError(scrubKey(info.lastError, r.key)) : null,
      bytesSent: info.bytesSent ?? 0,
    };
  }

  /**
   * status of one target: stopped when disabled (or refused by the address check while live,
   * with the reason in lastError), idle while the channel is not live here, else its relay's
   * state (connecting, running, or waiting to reconnect).
   */
  status(t: Pick<RestreamTargetsTable, 'id' | 'enabled'>, relays?: RelayInfo[]): TargetStatus {
    const r = this.running.get(t.id);
    if (r) return this.statusOfRelay(r, relays);
    const last = this.last.get(t.id);
    const base = last ?? { connects: 0, lastError: null, bytesSent: 0 };
    if (t.enabled !== 1 || !this.d.enabled || this.refused.has(t.id)) return { ...base, state: 'stopped' };
    return { ...base, state: 'idle' };
  }

  /** statuses of many targets with one relay listing. */
  statuses(targets: Pick<RestreamTargetsTable, 'id' | 'enabled'>[]): TargetStatus[] {
    const relays = this.d.relays.listRelays();
    return targets.map((t) => this.status(t, relays));
  }

  /** activeTargets lists the targets with a relay on a channel (for the operators' streams list). */
  activeTargets(channel: string): string[] {
    return [...this.running].filter(([, r]) => r.channel === channel).map(([id]) => id);
  }

  /** forget drops what is remembered of a deleted target. */
  forget(id: string): void {
    this.last.delete(id);
    this.refused.delete(id);
  }
}
