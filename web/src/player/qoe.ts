/**
 * player/qoe.ts: what a viewer's playback was like, reported to POST /api/v1/qoe — startup,
 * latency, stalls, switches, errors, dropped frames — every REPORT_MS and when playback ends.
 * The server labels the numbers by A/B variant (docs/operators.md), so an operator can compare
 * a canary against the rest before cutting over.
 */
import type { Protocol } from './engines';

/** Between 10 and 30 s, as the operators' kit asks; a page may lower it for tests (?qoeMs=). */
export const REPORT_MS = 20_000;
const MIN_REPORT_MS = 1_000;

type BeaconProtocol = 'webrtc' | 'llhls' | 'native' | 'flv';

interface Beacon {
  protocol: BeaconProtocol;
  event: 'start' | 'periodic' | 'end';
  variant?: string;
  startupMs?: number;
  latencyMs?: number;
  stalls?: number;
  stallMs?: number;
  playedMs?: number;
  switches?: number;
  errors?: number;
  droppedFrames?: number;
}

const VARIANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const clampInt = (n: number, max: number) => Math.max(0, Math.min(max, Math.round(n)));

/** reportInterval reads ?qoeMs= (tests), else REPORT_MS. */
function reportInterval(): number {
  const q = Number(new URLSearchParams(location.search).get('qoeMs'));
  return Number.isFinite(q) && q >= MIN_REPORT_MS ? q : REPORT_MS;
}

function send(beacon: Beacon): void {
  // keepalive lets the last report of a closing page arrive.
  void fetch('/api/v1/qoe', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(beacon), keepalive: true, credentials: 'same-origin' }).catch(() => undefined);
}

/**
 * QoeSession watches one engine's playback on one <video>: it starts when the engine starts and
 * ends (with a last report) when the engine is torn down or the page goes away.
 */
export class QoeSession {
  private readonly startedAt = performance.now();
  private startupMs: number | undefined;
  private stalls = 0;
  private stallMs = 0;
  private stallSince = 0;
  private playedMs = 0;
  private playingSince = 0;
  private errors = 0;
  private switches = 0;
  private droppedBase: number;
  private ended = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly listeners: [string, () => void][];
  private readonly onHide = () => this.end();

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly protocol: Protocol,
    private readonly latency: () => number | undefined,
    /** The serving variant the engine saw (an X-Onair-Variant response header), if it could. */
    private readonly variant: () => string | undefined,
  ) {
    this.droppedBase = this.droppedFrames();
    this.listeners = [
      ['playing', () => this.playing()],
      ['waiting', () => this.waiting()],
      ['pause', () => this.stopClock()],
    ];
    for (const [name, fn] of this.listeners) video.addEventListener(name, fn);
    addEventListener('pagehide', this.onHide);
    this.timer = setInterval(() => this.report('periodic'), reportInterval());
  }

  error(): void {
    this.errors++;
  }

  switched(): void {
    this.switches++;
  }

  private droppedFrames(): number {
    return this.video.getVideoPlaybackQuality?.().droppedVideoFrames ?? 0;
  }

  private playing(): void {
    const now = performance.now();
    if (this.startupMs === undefined) {
      this.startupMs = now - this.startedAt;
      this.report('start');
    }
    if (this.stallSince) {
      this.stallMs += now - this.stallSince;
      this.stallSince = 0;
    }
    if (!this.playingSince) this.playingSince = now;
  }

  private waiting(): void {
    // Before the first frame it is startup, not a stall.
    if (this.startupMs === undefined || this.stallSince) return;
    this.stopClock();
    this.stalls++;
    this.stallSince = performance.now();
  }

  private stopClock(): void {
    if (!this.playingSince) return;
    this.playedMs += performance.now() - this.playingSince;
    this.playingSince = 0;
  }

  private report(event: Beacon['event']): void {
    if (this.ended) return;
    const now = performance.now();
    // Running clocks are cut at the report, so each beacon carries this period's share.
    if (this.playingSince) { this.playedMs += now - this.playingSince; this.playingSince = now; }
    if (this.stallSince) { this.stallMs += now - this.stallSince; this.stallSince = now; }
    if (event === 'periodic' && this.startupMs === undefined) return; // nothing played yet
    const dropped = this.droppedFrames();
    const lat = this.latency();
    const variant = this.variant();
    const beacon: Beacon = {
      protocol: this.protocol === 'native' ? 'native' : this.protocol,
      event,
      ...(variant !== undefined && VARIANT_RE.test(variant) ? { variant } : {}),
      ...(event === 'start' && this.startupMs !== undefined ? { startupMs: clampInt(this.startupMs, 120_000) } : {}),
      ...(lat !== undefined && this.startupMs !== undefined ? { latencyMs: clampInt(lat * 1000, 600_000) } : {}),
      stalls: clampInt(this.stalls, 10_000),
      stallMs: clampInt(this.stallMs, 3_600_000),
      playedMs: clampInt(this.playedMs, 3_600_000),
      switches: clampInt(this.switches, 10_000),
      errors: clampInt(this.errors, 10_000),
      droppedFrames: clampInt(dropped - this.droppedBase, 10_000_000),
    };
    this.stalls = 0; this.stallMs = 0; this.playedMs = 0; this.switches = 0; this.errors = 0;
    this.droppedBase = dropped;
    send(beacon);
  }

  /** end sends the last report and stops watching. */
  end(): void {
    if (this.ended) return;
    this.report('end');
    this.ended = true;
    clearInterval(this.timer);
    removeEventListener('pagehide', this.onHide);
    for (const [name, fn] of this.listeners) this.video.removeEventListener(name, fn);
  }
}
