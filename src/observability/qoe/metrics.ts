/**
 * QoE metrics: beacons become Prometheus histograms and counters labelled {variant, protocol},
 * and a per-node summary the admin page compares side by side. Variant labels come from
 * clients, so their number is capped: past the cap, new names count as "other".
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { metricOnce } from '../metrics.js';
import type { QoeBeacon, QoeProtocol } from './beacon.js';

export const STARTUP_BUCKETS_S = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 30];
export const LATENCY_BUCKETS_S = [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 10, 20, 60];
/** The label of variants past the cap, and of beacons no one labelled. */
export const OTHER_VARIANT = 'other';
export const DEFAULT_VARIANT = 'default';

type Labels = 'variant' | 'protocol';

/** BucketCounts is one histogram's counts per bucket (the last slot: above the top bound). */
class BucketCounts {
  readonly counts: number[];
  n = 0;
  sum = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  add(v: number): void {
    let i = this.bounds.findIndex((b) => v <= b);
    if (i < 0) i = this.bounds.length;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n++;
    this.sum += v;
  }
  /** quantile estimates the q-quantile by linear interpolation inside its bucket (as Prometheus' histogram_quantile does). */
  quantile(q: number): number | null {
    if (this.n === 0) return null;
    const rank = q * this.n;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i] ?? 0;
      if (seen + c >= rank && c > 0) {
        const lower = i === 0 ? 0 : (this.bounds[i - 1] ?? 0);
        const upper = this.bounds[i] ?? lower; // above the top bound: the top bound is the best we know
        return lower + (upper - lower) * ((rank - seen) / c);
      }
      seen += c;
    }
    return this.bounds[this.bounds.length - 1] ?? null;
  }
}

/** ArmSummary is one variant × protocol on this node, for the admin comparison. */
export interface ArmSummary {
  variant: string;
  protocol: QoeProtocol;
  beacons: number;
  sessions: number;
  startupP50Ms: number | null;
  startupP95Ms: number | null;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  stalls: number;
  /** Stalled time over stalled plus played time, when players reported their played time. */
  stallRatio: number | null;
  errors: number;
  switches: number;
  droppedFrames: number;
}

class Arm {
  readonly startup = new BucketCounts(STARTUP_BUCKETS_S);
  readonly latency = new BucketCounts(LATENCY_BUCKETS_S);
  beacons = 0;
  sessions = 0;
  stalls = 0;
  stallMs = 0;
  playedMs = 0;
  errors = 0;
  switches = 0;
  droppedFrames = 0;
  constructor(readonly variant: string, readonly protocol: QoeProtocol) {}
  summary(): ArmSummary {
    const ms = (s: number | null) => (s === null ? null : Math.round(s * 1000));
    const time = this.stallMs + this.playedMs;
    return {
      variant: this.variant,
      protocol: this.protocol,
      beacons: this.beacons,
      sessions: this.sessions,
      startupP50Ms: ms(this.startup.quantile(0.5)),
      startupP95Ms: ms(this.startup.quantile(0.95)),
      latencyP50Ms: ms(this.latency.quantile(0.5)),
      latencyP95Ms: ms(this.latency.quantile(0.95)),
      stalls: this.stalls,
      stallRatio: this.playedMs > 0 ? Math.round((this.stallMs / time) * 10_000) / 10_000 : null,
      errors: this.errors,
      switches: this.switches,
      droppedFrames: this.droppedFrames,
    };
  }
}

export class QoeMetrics {
  private readonly startup: Histogram<Labels>;
  private readonly latency: Histogram<Labels>;
  private readonly beaconsTotal: Counter<Labels>;
  private readonly sessionsTotal: Counter<Labels>;
  private readonly stallsTotal: Counter<Labels>;
  private readonly stallSeconds: Counter<Labels>;
  private readonly playedSeconds: Counter<Labels>;
  private readonly errorsTotal: Counter<Labels>;
  private readonly switchesTotal: Counter<Labels>;
  private readonly droppedFramesTotal: Counter<Labels>;
  private readonly variants = new Set<string>();
  private readonly arms = new Map<string, Arm>();

  constructor(registry: Registry, private readonly maxVariants: number) {
    const labelNames: Labels[] = ['variant', 'protocol'];
    const histogram = (name: string, help: string, buckets: number[]) => metricOnce(registry, name, () => new Histogram({ name, help, labelNames, buckets, registers: [registry] }));
    const counter = (name: string, help: string) => metricOnce(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
    this.startup = histogram('onair_qoe_startup_seconds', 'Players: from the play request to the first frame', STARTUP_BUCKETS_S);
    this.latency = histogram('onair_qoe_latency_seconds', 'Players: behind the live edge, sampled per beacon', LATENCY_BUCKETS_S);
    this.beaconsTotal = counter('onair_qoe_beacons_total', 'QoE beacons accepted');
    this.sessionsTotal = counter('onair_qoe_sessions_total', 'Playback sessions that reported their startup');
    this.stallsTotal = counter('onair_qoe_stalls_total', 'Stalls (rebuffering) players reported');
    this.stallSeconds = counter('onair_qoe_stall_seconds_total', 'Stalled time players reported');
    this.playedSeconds = counter('onair_qoe_played_seconds_total', 'Played time players reported (the stall ratio denominator)');
    this.errorsTotal = counter('onair_qoe_errors_total', 'Player errors reported');
    this.switchesTotal = counter('onair_qoe_switches_total', 'Rendition or protocol switches reported');
    this.droppedFramesTotal = counter('onair_qoe_dropped_frames_total', 'Frames the browsers dropped');
  }

  /** label is the variant label a beacon counts under: its own, capped in number. */
  label(variant: string | undefined): string {
    const v = variant ?? DEFAULT_VARIANT;
    if (this.variants.has(v)) return v;
    if (this.variants.size >= this.maxVariants) return OTHER_VARIANT;
    this.variants.add(v);
    return v;
  }

  record(beacon: QoeBeacon, variant: string | undefined): void {
    const labels = { variant: this.label(variant), protocol: beacon.protocol };
    const key = `${labels.variant}\u0000${labels.protocol}`;
    let arm = this.arms.get(key);
    if (!arm) this.arms.set(key, (arm = new Arm(labels.variant, labels.protocol)));
    arm.beacons++;
    this.beaconsTotal.inc(labels);
    if (beacon.startupMs !== undefined && beacon.event === 'start') {
      this.startup.observe(labels, beacon.startupMs / 1000);
      arm.startup.add(beacon.startupMs / 1000);
      arm.sessions++;
      this.sessionsTotal.inc(labels);
    }
    if (beacon.latencyMs !== undefined) {
      this.latency.observe(labels, beacon.latencyMs / 1000);
      arm.latency.add(beacon.latencyMs / 1000);
    }
    const add = (n: number | undefined, counter: Counter<Labels>, scale = 1): number => {
      if (n === undefined || n === 0) return 0;
      counter.inc(labels, n / scale);
      return n;
    };
    arm.stalls += add(beacon.stalls, this.stallsTotal);
    arm.stallMs += add(beacon.stallMs, this.stallSeconds, 1000);
    arm.playedMs += add(beacon.playedMs, this.playedSeconds, 1000);
    arm.errors += add(beacon.errors, this.errorsTotal);
    arm.switches += add(beacon.switches, this.switchesTotal);
    arm.droppedFrames += add(beacon.droppedFrames, this.droppedFramesTotal);
  }

  /** summary lists every variant × protocol seen on this node, by variant then protocol. */
  summary(): ArmSummary[] {
    return [...this.arms.values()].map((a) => a.summary()).sort((a, b) => a.variant.localeCompare(b.variant) || a.protocol.localeCompare(b.protocol));
  }
}
