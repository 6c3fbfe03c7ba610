/**
 * RtpReorderBuffer: a small jitter buffer by sequence number for RTP received over UDP (RTSP
 * publish), which may arrive out of order, twice, or not at all. Over TCP none of that happens,
 * so only the UDP path uses it.
 *
 * Packets come out in sequence order. A gap is waited for until `maxHeld` packets are held behind
 * it or the oldest held one has waited `maxWaitMs` (expire, called by the session's timer); then
 * the missing ones are counted lost and the depacketizers see the jump (H.264 drops the broken
 * frame, AAC the broken element). Duplicates and packets older than the ones already passed on
 * are dropped. It also keeps the counts an RTCP receiver report needs (RFC 3550 A.3).
 */
import type { RtpPacket } from '../../formats/rtp-packet.js';

const SEQ_MOD = 0x10000;
/** A jump this far ahead is a restarted sender, not loss: the buffer starts over. */
const MAX_DROPOUT = 3000;

export interface ReorderStats {
  received: number;
  /** Packets that came after a later one and were put back in order. */
  reordered: number;
  duplicates: number;
  /** Packets older than what was already passed on (arrived after their gap was given up). */
  late: number;
  /** Sequence numbers given up as lost. */
  lost: number;
}

/** seqDiff is b - a in 16-bit sequence space, from -32768 to 32767. */
function seqDiff(a: number, b: number): number {
  return (((b - a) % SEQ_MOD) + SEQ_MOD + SEQ_MOD / 2) % SEQ_MOD - SEQ_MOD / 2;
}

export class RtpReorderBuffer {
  private next: number | null = null;
  private readonly held = new Map<number, { p: RtpPacket; at: number }>();
  /** Extended highest sequence number passed on, and the first one (for expected counts). */
  private cycles = 0;
  private baseSeq = 0;
  private maxSeq = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** Packets received since baseSeq (a restarted sender starts the count again). */
  private receivedSinceBase = 0;
  /** Sender's SSRC as last seen. */
  ssrc = 0;
  readonly stats: ReorderStats = { received: 0, reordered: 0, duplicates: 0, late: 0, lost: 0 };

  constructor(private readonly opts: { maxHeld: number; maxWaitMs: number }) {}

  /** push takes one packet and returns the packets now in order (possibly none). */
  push(p: RtpPacket, now: number): RtpPacket[] {
    this.ssrc = p.ssrc;
    if (this.next === null) {
      this.next = p.sequenceNumber;
      this.baseSeq = this.maxSeq = p.sequenceNumber;
    }
    const d = seqDiff(this.next, p.sequenceNumber);
    if (d < 0) {
      if (d < -MAX_DROPOUT) return this.restart(p);
      this.stats.late++;
      return [];
    }
    if (d > MAX_DROPOUT) return this.restart(p);
    if (this.held.has(p.sequenceNumber)) {
      this.stats.duplicates++;
      return [];
    }
    this.stats.received++;
    this.receivedSinceBase++;
    if (d === 0) {
      const out = [p];
      this.advance(p.sequenceNumber);
      this.drain(out);
      return out;
    }
    this.held.set(p.sequenceNumber, { p, at: now });
    if (this.held.size > this.opts.maxHeld) return this.skipGap();
    return [];
  }

  /** expire gives up the gap in front of packets held longer than maxWaitMs. */
  expire(now: number): RtpPacket[] {
    let oldest = Infinity;
    for (const h of this.held.values()) oldest = Math.min(oldest, h.at);
    return now - oldest > this.opts.maxWaitMs ? this.skipGap() : [];
  }

  /** report gives the receiver-report counts since the last call (RFC 3550 A.3). */
  report(): { highestSeq: number; cumulativeLost: number; fractionLost: number } {
    const highestSeq = this.cycles + this.maxSeq;
    const expected = highestSeq - this.baseSeq + 1;
    const received = this.receivedSinceBase;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = received;
    const lostInterval = expectedInterval - receivedInterval;
    return { highestSeq, cumulativeLost: expected - received, fractionLost: expectedInterval > 0 && lostInterval > 0 ? lostInterval / expectedInterval : 0 };
  }

  private advance(seq: number): void {
    if (seqDiff(this.maxSeq, seq) > 0) {
      if (seq < this.maxSeq) this.cycles += SEQ_MOD; // wrapped
      this.maxSeq = seq;
    }
    this.next = (seq + 1) % SEQ_MOD;
  }

  private drain(out: RtpPacket[]): void {
    for (;;) {
      const h = this.next === null ? undefined : this.held.get(this.next);
      if (!h) return;
      this.held.delete(h.p.sequenceNumber);
      this.stats.reordered++;
      out.push(h.p);
      this.advance(h.p.sequenceNumber);
    }
  }

  /** skipGap counts the sequence numbers before the earliest held packet lost and passes on from there. */
  private skipGap(): RtpPacket[] {
    if (this.next === null || this.held.size === 0) return [];
    let first: number | null = null;
    for (const seq of this.held.keys()) if (first === null || seqDiff(first, seq) < 0) first = seq;
    if (first === null) return [];
    this.stats.lost += seqDiff(this.next, first);
    // The held packets were counted as reordered when drained; the first one was not out of order.
    this.stats.reordered--;
    this.next = first;
    const out: RtpPacket[] = [];
    this.drain(out);
    return out;
  }

  private restart(p: RtpPacket): RtpPacket[] {
    const out: RtpPacket[] = [];
    const flushed = [...this.held.values()].map((h) => h.p).sort((a, b) => seqDiff(b.sequenceNumber, a.sequenceNumber));
    this.held.clear();
    out.push(...flushed);
    this.next = p.sequenceNumber;
    this.baseSeq = this.maxSeq = p.sequenceNumber;
    this.cycles = this.expectedPrior = this.receivedPrior = 0;
    this.receivedSinceBase = 1;
    this.stats.received++;
    out.push(p);
    this.advance(p.sequenceNumber);
    return out;
  }
}
