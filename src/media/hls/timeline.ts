/**
 * Timestamp helpers for the HLS packager: RTMP millisecond timestamps are 32-bit and wrap
 * (every ~49.7 days); fMP4 decode times are 64-bit and must keep increasing.
 */

/** RTMP_TIMESTAMP_MODULUS is 2^32 ms, where RTMP/FLV timestamps wrap. */
export const RTMP_TIMESTAMP_MODULUS = 2 ** 32;
const HALF_MODULUS = 2 ** 31;

/** TimestampUnwrapper turns wrapping 32-bit ms timestamps into a monotonic 53-bit timeline. */
export class TimestampUnwrapper {
  private last: number | undefined;
  private offset = 0;

  /** unwrap maps one raw timestamp; a backward jump of more than half the range is a wrap. */
  unwrap(raw: number): number {
    if (this.last !== undefined) {
      const delta = raw - this.last;
      if (delta < -HALF_MODULUS) this.offset += RTMP_TIMESTAMP_MODULUS;
      else if (delta > HALF_MODULUS && this.offset >= RTMP_TIMESTAMP_MODULUS) this.offset -= RTMP_TIMESTAMP_MODULUS; // a late frame from before the wrap
    }
    this.last = raw;
    return raw + this.offset;
  }
}

/** msToTicks converts a millisecond time to a timescale, rounding each absolute time (no drift). */
export function msToTicks(ms: number, timescale: number): number {
  return Math.round((ms * timescale) / 1000);
}

/**
 * AudioClock assigns sample-exact decode times to AAC frames: while the incoming ms time
 * stays within half a frame of the expected next time, the frames are contiguous
 * (exactly frameSamples apart); a larger gap or overlap resynchronises to the incoming time.
 */
export class AudioClock {
  private next: number | undefined;

  constructor(
    readonly sampleRate: number,
    readonly frameSamples = 1024,
  ) {}

  /** place returns the decode time (in samples) of a frame stamped `ms`. */
  place(ms: number): number {
    const measured = msToTicks(ms, this.sampleRate);
    let t = measured;
    if (this.next !== undefined && Math.abs(measured - this.next) <= this.frameSamples / 2) t = this.next;
    this.next = t + this.frameSamples;
    return t;
  }

  reset(): void {
    this.next = undefined;
  }
}
