/**
 * StreamClock: one clock for a WHIP publish's audio and video. Pure (times are passed in).
 *
 * Each RTP stream has its own clock (90 kHz video, 48 kHz audio) from a random base. To put
 * both on one timeline we map RTP timestamps to the sender's wallclock:
 *
 *   - with an RTCP sender report for that stream: ntp(SR) + (rtp − rtp(SR)) / rate, moved onto
 *     our clock by one offset (arrival − sender NTP) taken from the first report of either
 *     stream, so both streams share it and keep the sender's lip sync;
 *   - before any report: the arrival time of the stream's first packet + (rtp − its rtp) / rate.
 *
 * Stream time (what the hub gets, in ms) is that wallclock minus the origin, set when the
 * stream goes live (the first keyframe).
 */

const TWO_POW_32 = 2 ** 32;
const HALF_32 = 2 ** 31;

export type ClockTrack = 'video' | 'audio';

interface TrackState {
  rate: number;
  /** Last extended (unwrapped) RTP timestamp seen. */
  ext: number | null;
  arrival?: { ext: number; wallMs: number };
  sr?: { ext: number; ntpMs: number };
}

export class StreamClock {
  private readonly tracks: Record<ClockTrack, TrackState>;
  /** Our wallclock minus the sender's NTP clock, from the first sender report. */
  private ntpOffset: number | null = null;
  private origin: number | null = null;

  constructor(videoRate: number, audioRate: number) {
    this.tracks = { video: { rate: videoRate, ext: null }, audio: { rate: audioRate, ext: null } };
  }

  /** unwrap extends a 32-bit RTP timestamp next to the track's last one. */
  private unwrap(t: TrackState, rtp: number): number {
    const ts = rtp >>> 0;
    if (t.ext === null) return ts;
    const last = t.ext;
    let d = ts - (last % TWO_POW_32 + TWO_POW_32) % TWO_POW_32;
    if (d > HALF_32) d -= TWO_POW_32;
    else if (d < -HALF_32) d += TWO_POW_32;
    return last + d;
  }

  /** wallOf maps a packet's RTP timestamp to our wallclock (ms); `arrivalMs` anchors the first one. */
  wallOf(track: ClockTrack, rtp: number, arrivalMs: number): number {
    const t = this.tracks[track];
    const ext = this.unwrap(t, rtp);
    if (t.ext === null || ext > t.ext) t.ext = ext;
    if (!t.arrival) t.arrival = { ext, wallMs: arrivalMs };
    if (t.sr && this.ntpOffset !== null) return t.sr.ntpMs + this.ntpOffset + ((ext - t.sr.ext) * 1000) / t.rate;
    return t.arrival.wallMs + ((ext - t.arrival.ext) * 1000) / t.rate;
  }

  /** senderReport takes an RTCP SR of a track: its NTP time (ms since 1970) and RTP timestamp. */
  senderReport(track: ClockTrack, ntpMs: number, rtp: number, arrivalMs: number): void {
    const t = this.tracks[track];
    const ext = this.unwrap(t, rtp);
    if (this.ntpOffset === null) {
      // Carry on where the arrival mapping is, so the switch to reports makes no jump.
      const here = t.arrival ? t.arrival.wallMs + ((ext - t.arrival.ext) * 1000) / t.rate : arrivalMs;
      this.ntpOffset = here - ntpMs;
    }
    t.sr = { ext, ntpMs };
  }

  /** setOrigin fixes stream time 0 at a wallclock time (the first keyframe's). */
  setOrigin(wallMs: number): void {
    if (this.origin === null) this.origin = wallMs;
  }

  get started(): boolean {
    return this.origin !== null;
  }

  /** streamMs is a wallclock time on the stream's timeline (ms since the origin; origin unset → 0). */
  streamMs(wallMs: number): number {
    return this.origin === null ? 0 : wallMs - this.origin;
  }
}
