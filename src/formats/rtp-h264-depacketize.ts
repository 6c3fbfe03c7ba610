/**
 * The receiving side of H.264 over RTP (RFC 6184, packetization-mode=1) for ingest: RTP packets
 * in arrival order → whole access units (NAL units of one picture) in decode order. Pure: no
 * sockets, no timers; the caller hands packets in and gets events back.
 *
 *   push(packet) ──► reorder window (by sequence number) ──► access unit assembly
 *                    (a hole still open after WINDOW later       (same RTP timestamp, ends at
 *                     packets, or after maxWaitMs, is lost)       the marker bit or a new timestamp)
 *
 * Loss handling: an access unit that had a hole in it (or right before it, where we cannot tell
 * whether its first packets were lost) is dropped, never passed on damaged, and so is every
 * following unit until an IDR picture that arrived whole: later pictures reference the lost one.
 * Each time this starts, onKeyframeNeeded asks the caller to send a PLI.
 *
 * Payload types (RFC 6184 5.6–5.8): 1–23 single NAL unit, 24 STAP-A, 28 FU-A. Anything else
 * (STAP-B, MTAP, FU-B: interleaved mode only) makes the unit unusable, like a loss.
 */
import { NAL_TYPE_IDR } from './avc.js';
import { depacketizeH264, nalType, RtpError } from './rtp-h264.js';

const SEQ_MODULO = 0x1_0000;
const SEQ_HALF = 0x8000;
/** Packets kept waiting for a missing one before it is declared lost (about 50 ms of 2 Mbit/s video). */
export const H264_REORDER_WINDOW = 64;
/** Longest a hole is waited for (a retransmission after a NACK), in ms, when the caller gives arrival times. */
export const H264_REORDER_MAX_WAIT_MS = 200;
/** A packet this far behind or ahead of the expected sequence number restarts the stream (sender reset). */
export const H264_SEQ_RESYNC_DISTANCE = 3000;
/** Largest access unit we assemble, in RTP packets and in bytes (guards memory against a hostile peer). */
export const H264_MAX_AU_PACKETS = 8192;
export const H264_MAX_AU_BYTES = 16 * 1024 * 1024;

export interface RtpVideoPacket {
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
}

export interface H264AccessUnit {
  /** The RTP timestamp (90 kHz, 32-bit) shared by the unit's packets. */
  timestamp: number;
  /** NAL units in decode order (no start codes, no length prefixes). */
  nals: Buffer[];
  /** The unit holds an IDR slice. */
  keyframe: boolean;
}

export interface H264DepacketizerEvents {
  onAccessUnit(au: H264AccessUnit): void;
  /** Decoding cannot go on without a new IDR picture (loss or a bad unit): send a PLI. */
  onKeyframeNeeded?(): void;
}

export interface H264DepacketizerStats {
  packets: number;
  /** Packets never received (holes declared lost). */
  lost: number;
  /** Packets that came too late (their place was passed) or twice. */
  late: number;
  duplicates: number;
  /** Access units passed on. */
  units: number;
  /** Access units dropped: damaged, unreadable, or waiting for a keyframe. */
  dropped: number;
  keyframeRequests: number;
}

interface Pending {
  timestamp: number;
  payloads: Buffer[];
  bytes: number;
  broken: boolean;
}

/** seqDistance is b - a on the 16-bit sequence circle, in -32768..32767. */
export function seqDistance(a: number, b: number): number {
  const d = (b - a + SEQ_MODULO) % SEQ_MODULO;
  return d >= SEQ_HALF ? d - SEQ_MODULO : d;
}

export class H264Depacketizer {
  private readonly buffered = new Map<number, RtpVideoPacket>();
  private expected: number | null = null;
  private gapBefore = false;
  private cur: Pending | null = null;
  private waitingKey = true;
  private askedKey = false;
  /** When the current hole opened (caller's clock), if arrival times are given. */
  private holeSince: number | null = null;
  readonly stats: H264DepacketizerStats = { packets: 0, lost: 0, late: 0, duplicates: 0, units: 0, dropped: 0, keyframeRequests: 0 };

  constructor(
    private readonly events: H264DepacketizerEvents,
    private readonly window = H264_REORDER_WINDOW,
    private readonly maxWaitMs = H264_REORDER_MAX_WAIT_MS,
  ) {}

  /** waitingForKeyframe is true until the first whole IDR unit, and again after a loss. */
  get waitingForKeyframe(): boolean {
    return this.waitingKey;
  }

  /**
   * push takes one RTP packet of the H.264 stream, in any order. Never throws for bad input.
   * `nowMs` (any monotonic clock) lets a hole be given up after maxWaitMs, not only when the
   * window is full.
   */
  push(p: RtpVideoPacket, nowMs?: number): void {
    this.stats.packets++;
    const seq = p.sequenceNumber & 0xffff;
    if (this.expected === null) this.expected = seq;
    const d = seqDistance(this.expected, seq);
    if (d < -H264_SEQ_RESYNC_DISTANCE || d > H264_SEQ_RESYNC_DISTANCE) {
      this.resync(seq);
    } else if (d < 0) {
      this.stats.late++;
      return;
    } else if (this.buffered.has(seq)) {
      this.stats.duplicates++;
      return;
    }
    this.buffered.set(seq, p);
    this.drain();
    if (this.buffered.size > this.window) this.skipHole();
    if (nowMs !== undefined) this.expire(nowMs);
  }

  /** expire gives up a hole that has been open longer than maxWaitMs (call it now and then while packets pause). */
  expire(nowMs: number): void {
    if (this.buffered.size === 0) {
      this.holeSince = null;
      return;
    }
    if (this.holeSince === null) this.holeSince = nowMs;
    else if (nowMs - this.holeSince > this.maxWaitMs) {
      this.skipHole();
      this.holeSince = this.buffered.size > 0 ? nowMs : null;
    }
  }

  /** flush declares the current hole (if any) lost and passes on what can be passed (end of stream). */
  flush(): void {
    while (this.buffered.size > 0) this.skipHole();
    if (this.cur && !this.cur.broken) this.finish();
  }

  private resync(seq: number): void {
    // Everything held belongs to the old numbering: it is lost for us.
    this.stats.lost += this.buffered.size;
    this.buffered.clear();
    this.expected = seq;
    this.gapBefore = true;
  }

  private drain(): void {
    for (;;) {
      const p = this.buffered.get(this.expected!);
      if (!p) return;
      this.buffered.delete(this.expected!);
      this.expected = (this.expected! + 1) % SEQ_MODULO;
      const gap = this.gapBefore;
      this.gapBefore = false;
      this.process(p, gap);
    }
  }

  /** skipHole gives up on the missing packets before the oldest one held. */
  private skipHole(): void {
    let best = -1;
    let bestSeq = 0;
    for (const seq of this.buffered.keys()) {
      const d = seqDistance(this.expected!, seq);
      if (best < 0 || d < best) {
        best = d;
        bestSeq = seq;
      }
    }
    if (best < 0) return;
    this.stats.lost += best;
    this.expected = bestSeq;
    if (best > 0) this.gapBefore = true;
    this.drain();
  }

  private process(p: RtpVideoPacket, gap: boolean): void {
    const ts = p.timestamp >>> 0;
    if (this.cur && this.cur.timestamp !== ts) this.finish();
    if (!this.cur) this.cur = { timestamp: ts, payloads: [], bytes: 0, broken: false };
    const cur = this.cur;
    if (gap) cur.broken = true;
    if (!cur.broken) {
      if (p.payload.length === 0 || cur.payloads.length >= H264_MAX_AU_PACKETS || cur.bytes + p.payload.length > H264_MAX_AU_BYTES) {
        cur.broken = true;
        cur.payloads = [];
      } else {
        cur.payloads.push(p.payload);
        cur.bytes += p.payload.length;
      }
    }
    if (p.marker) this.finish();
  }

  private finish(): void {
    const cur = this.cur;
    this.cur = null;
    if (!cur) return;
    let nals: Buffer[] | null = null;
    if (!cur.broken) {
      try {
        nals = depacketizeH264(cur.payloads).filter((n) => n.length > 0);
      } catch (err) {
        if (!(err instanceof RtpError)) throw err;
        nals = null;
      }
    }
    if (!nals || nals.length === 0) {
      this.stats.dropped++;
      this.needKey();
      return;
    }
    const keyframe = nals.some((n) => nalType(n) === NAL_TYPE_IDR);
    if (this.waitingKey && !keyframe) {
      this.stats.dropped++;
      this.needKey();
      return;
    }
    this.waitingKey = false;
    this.askedKey = false;
    this.stats.units++;
    this.events.onAccessUnit({ timestamp: cur.timestamp, nals, keyframe });
  }

  private needKey(): void {
    this.waitingKey = true;
    // One request per episode; the caller paces repeats (a PLI may itself be lost).
    if (this.askedKey) return;
    this.askedKey = true;
    this.stats.keyframeRequests++;
    this.events.onKeyframeNeeded?.();
  }

  /** requestAgain lets the next drop ask for a keyframe again (the caller's PLI timer fired). */
  requestAgain(): void {
    this.askedKey = false;
  }
}
