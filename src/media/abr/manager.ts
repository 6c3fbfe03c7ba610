/**
 * AbrManager runs one AbrTranscoder per live channel with ABR on (config media.abr.enabled,
 * overridden per channel), answers which hub names are renditions of which channel (for the
 * LL-HLS multivariant playlist), and guards rendition names against user publishes.
 */
import prom from 'prom-client';
import type { OnairConfig } from '../../config/index.js';
import type { Logger } from '../../observability/logger.js';
import type { StreamHub } from '../hub/hub.js';
import { splitRenditionName } from './ladder.js';
import { AbrTranscoder, type AbrMetricsSink, type AbrTranscoderOptions } from './transcoder.js';
import { metricOnce } from '../../observability/metrics.js';

export interface AbrManagerOptions {
  hub: StreamHub;
  config: OnairConfig;
  logger: Logger;
  /** Path of ffmpeg (src/media/ffmpeg.ts); without it ABR stays off. */
  ffmpeg: string | undefined;
  registry?: prom.Registry;
  /** Whether a channel has ABR on: its own setting, else config media.abr.enabled. */
  isEnabled(channel: string): Promise<boolean>;
  spawnFfmpeg?: AbrTranscoderOptions['spawnFfmpeg'];
}

/** ABR_CAPACITY is the refusal code of a channel whose renditions wait for a transcoder slot (the studio words it). */
export const ABR_CAPACITY = 'abr_capacity';

/** AbrChannelInfo describes a channel's transcoder for the API and stats. */
export interface AbrChannelInfo {
  channel: string;
  running: boolean;
  pid?: number;
  rungs: string[];
  renditions: string[];
  restarts: number;
  lastError?: string;
  /** Set when the channel wants ABR but media.abr.maxTranscoders are busy: it streams its source only. */
  refused?: { code: typeof ABR_CAPACITY; max: number };
}

/** abrMetrics registers (once per registry) the transcoder gauges and counters. */
export function abrMetrics(registry: prom.Registry): AbrMetricsSink {
  const running = metricOnce<prom.Gauge>(registry, 'onair_abr_transcoders_running', () =>
    new prom.Gauge({ name: 'onair_abr_transcoders_running', help: 'Live ABR ffmpeg processes running.', registers: [registry] }),
  );
  const restarts = metricOnce<prom.Counter<'channel'>>(registry, 'onair_abr_transcoder_restarts_total', () =>
    new prom.Counter({ name: 'onair_abr_transcoder_restarts_total', help: 'Live ABR transcoders that exited while their source was live (restarted with backoff).', labelNames: ['channel'], registers: [registry] }),
  );
  const speed = metricOnce<prom.Gauge<'channel'>>(registry, 'onair_abr_transcoder_speed', () =>
    new prom.Gauge({ name: 'onair_abr_transcoder_speed', help: 'Encoding speed of a live ABR transcoder (ffmpeg -progress speed; below 1 it falls behind).', labelNames: ['channel'], registers: [registry] }),
  );
  const skipped = metricOnce<prom.Counter>(registry, 'onair_abr_input_skipped_frames_total', () =>
    new prom.Counter({ name: 'onair_abr_input_skipped_frames_total', help: 'Source frames not given to a live ABR transcoder that was behind (it resumes at a keyframe).', registers: [registry] }),
  );
  return {
    running: (d) => running.inc(d),
    restarted: (channel) => restarts.inc({ channel }),
    speed: (channel, v) => {
      if (v === undefined) speed.remove({ channel });
      else speed.set({ channel }, v);
    },
    inputSkipped: (n) => skipped.inc(n),
  };
}

export class AbrManager {
  private readonly transcoders = new Map<string, AbrTranscoder>();
  private readonly restartsOf = new Map<string, number>();
  private readonly metrics: AbrMetricsSink;
  private readonly logger: Logger;
  private started = false;
  /** Start decisions in flight (the per-channel setting is read from the database). */
  private readonly deciding = new Map<string, Promise<void>>();
  /** Live channels that want ABR but found every transcoder slot taken (media.abr.maxTranscoders). */
  private readonly waiting = new Set<string>();

  constructor(private readonly o: AbrManagerOptions) {
    this.logger = o.logger.child({ component: 'abr' });
    const sink = abrMetrics(o.registry ?? new prom.Registry());
    this.metrics = {
      ...sink,
      restarted: (channel) => {
        this.restartsOf.set(channel, (this.restartsOf.get(channel) ?? 0) + 1);
        sink.restarted(channel);
      },
    };
  }

  private get ladder() {
    return this.o.config.media.abr.ladder;
  }

  private readonly onStart = (channel: string) => void this.consider(channel);
  private readonly onEnd = (channel: string) => this.stopChannel(channel);

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (!this.o.ffmpeg) this.logger.warn('no ffmpeg: live ABR is off');
    this.o.hub.on('streamStart', this.onStart);
    this.o.hub.on('streamEnd', this.onEnd);
    for (const ch of this.o.hub.liveChannels()) void this.consider(ch);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.o.hub.off('streamStart', this.onStart);
    this.o.hub.off('streamEnd', this.onEnd);
    await Promise.allSettled([...this.deciding.values()]);
    for (const ch of [...this.transcoders.keys()]) this.stopChannel(ch);
    this.waiting.clear();
  }

  /** isRendition tells whether a hub name is a rendition published by one of our transcoders. */
  isRendition(name: string): boolean {
    return this.renditionOf(name) !== undefined;
  }

  /** renditionOf maps `{channel}_{rung}` of a running transcoder to its channel and rung name. */
  renditionOf(name: string): { channel: string; rendition: string } | undefined {
    const split = splitRenditionName(name, this.ladder);
    if (!split) return undefined;
    const t = this.transcoders.get(split.channel);
    return t && t.rungNames().includes(split.rung.name) ? { channel: split.channel, rendition: split.rung.name } : undefined;
  }

  /**
   * publishRefusal says why a user may not publish to `channel` (a rendition name of a channel
   * with ABR on), or null when it may. Our transcoders publish straight into the hub.
   */
  async publishRefusal(channel: string): Promise<string | null> {
    const split = splitRenditionName(channel, this.ladder);
    if (!split) return null;
    if (this.transcoders.has(split.channel) || (await this.o.isEnabled(split.channel).catch(() => false))) {
      return `${channel} is the ${split.rung.name} rendition of ${split.channel} (live ABR)`;
    }
    return null;
  }

  /** refresh re-reads a channel's setting: starts or stops its transcoder while it is live. */
  async refresh(channel: string): Promise<void> {
    const enabled = await this.o.isEnabled(channel).catch(() => false);
    if (!enabled) this.stopChannel(channel);
    else await this.consider(channel);
  }

  /** info describes every running transcoder (or one channel's). */
  info(channel?: string): AbrChannelInfo[] {
    const out: AbrChannelInfo[] = [];
    const max = this.o.config.media.abr.maxTranscoders;
    for (const ch of this.waiting) {
      if (channel === undefined || ch === channel) out.push({ channel: ch, running: false, rungs: [], renditions: [], restarts: 0, refused: { code: ABR_CAPACITY, max } });
    }
    for (const t of this.transcoders.values()) {
      if (channel !== undefined && t.channel !== channel) continue;
      out.push({
        channel: t.channel, running: t.pid !== undefined, ...(t.pid !== undefined ? { pid: t.pid } : {}), rungs: t.rungNames(), renditions: t.renditions(),
        restarts: this.restartsOf.get(t.channel) ?? 0, ...(t.lastError ? { lastError: t.lastError } : {}),
      });
    }
    return out;
  }

  private consider(channel: string): Promise<void> {
    const inFlight = this.deciding.get(channel);
    if (inFlight) return inFlight;
    const p = (async () => {
      if (!this.started || !this.o.ffmpeg || this.transcoders.has(channel)) return;
      // A rendition (ours, or a name a transcoder will use) is never transcoded again.
      if (splitRenditionName(channel, this.ladder) && (this.isRendition(channel) || this.transcoders.has(splitRenditionName(channel, this.ladder)!.channel))) return;
      let enabled = false;
      try {
        enabled = await this.o.isEnabled(channel);
      } catch (err) {
        this.logger.warn({ err, channel }, 'could not read the ABR setting; not transcoding');
      }
      if (!enabled || !this.started || this.transcoders.has(channel) || !this.o.hub.isLive(channel)) return;
      const abr = this.o.config.media.abr;
      if (abr.maxTranscoders > 0 && this.transcoders.size >= abr.maxTranscoders) {
        // The stream itself stays live (source only); it is reconsidered when a slot frees up.
        if (!this.waiting.has(channel)) this.logger.warn({ channel, max: abr.maxTranscoders }, 'live ABR refused: every transcoder slot is taken (media.abr.maxTranscoders); streaming the source only');
        this.waiting.add(channel);
        return;
      }
      this.waiting.delete(channel);
      const t = new AbrTranscoder({
        channel, hub: this.o.hub, ffmpeg: this.o.ffmpeg, ladder: abr.ladder, preset: abr.preset,
        restartMinMs: abr.restartMinMs, restartMaxMs: abr.restartMaxMs, logger: this.logger, metrics: this.metrics,
        ...(this.o.spawnFfmpeg ? { spawnFfmpeg: this.o.spawnFfmpeg } : {}),
      });
      this.transcoders.set(channel, t);
      t.start();
    })().finally(() => this.deciding.delete(channel));
    this.deciding.set(channel, p);
    return p;
  }

  private stopChannel(channel: string): void {
    this.waiting.delete(channel);
    const t = this.transcoders.get(channel);
    if (!t) return;
    this.transcoders.delete(channel);
    t.stop();
    // A slot is free: the longest-waiting live channel gets it.
    const next = [...this.waiting].find((ch) => this.o.hub.isLive(ch));
    if (next && this.started) void this.consider(next);
  }
}
