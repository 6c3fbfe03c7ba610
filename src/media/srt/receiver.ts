/**
 * SrtReceiver: the receiving half of one live-mode SRT connection, without a socket or a timer
 * (the owner calls onData/onAckAck/onDropRequest as packets come and tick() every few ms).
 *
 *   data ──► loss detection (sequence gaps → NAK at once, again every NAK interval while missing)
 *        ──► receive buffer (bounded) ──TSBPD: at timestamp + latency──► deliver(payload) in order
 *            a packet still missing when a later one is due is given up (gap(n), counted as dropped)
 *   every ACK_INTERVAL_MS: full ACK (first missing sequence number, RTT, buffer room, rates)
 *   ACKACK ──► RTT / RTT variance (smoothed as the spec says: 7/8 and 3/4)
 *
 * Times are in milliseconds from `now()`; packet timestamps are the sender's microseconds.
 */
import { seqAdd, seqDiff, type AckInfo, type SeqRange, type SrtDataPacket } from '../../formats/srt-packet.js';

/** Full ACKs go out this often (the spec's SYN interval). */
export const ACK_INTERVAL_MS = 10;
/** Least time between two reports of the same lost packet. */
export const NAK_MIN_INTERVAL_MS = 20;
const INITIAL_RTT_MS = 100;
const INITIAL_RTT_VAR_MS = 50;
/** The clock offset between sender and us is re-measured over windows this long. */
const DRIFT_WINDOW_MS = 1000;
/** Full ACKs remembered for their ACKACK (older ones no longer give an RTT). */
const ACK_HISTORY = 64;
const TIMESTAMP_WRAP = 2 ** 32;
/** Loss ranges per NAK packet at most (2 words each, well inside one datagram). */
const MAX_NAK_RANGES = 150;
const RATE_WINDOW_MS = 1000;

export interface ReceiverOptions {
  /** The caller's initial sequence number (the first data packet's). */
  initialSeq: number;
  latencyMs: number;
  /** Receive buffer in packets; the window between the oldest undelivered and newest packet never exceeds it. */
  bufferPackets: number;
  now(): number;
  deliver(payload: Buffer): void;
  /** packets were given up (lost for good) before the next deliver. */
  gap(packets: number): void;
  sendAck(ackNumber: number, ack: AckInfo): void;
  sendNak(lost: SeqRange[]): void;
}

export interface ReceiverStats {
  packets: number;
  bytes: number;
  retransmitted: number;
  duplicates: number;
  /** Packets found missing (a sequence gap); recovered ones included. */
  lost: number;
  recovered: number;
  /** Packets given up: not recovered in time, dropped by the sender, or pushed out of a full buffer. */
  dropped: number;
  naksSent: number;
  acksSent: number;
  /** Packets that arrived after their delivery time had passed. */
  late: number;
}

interface Slot {
  payload: Buffer;
  /** Unwrapped sender timestamp in µs. */
  ts: number;
}

export class SrtReceiver {
  readonly stats: ReceiverStats = { packets: 0, bytes: 0, retransmitted: 0, duplicates: 0, lost: 0, recovered: 0, dropped: 0, naksSent: 0, acksSent: 0, late: 0 };
  /** Smoothed RTT and its variance in ms. */
  rttMs = INITIAL_RTT_MS;
  rttVarMs = INITIAL_RTT_VAR_MS;
  private rttSamples = 0;
  /** Next sequence number to deliver (everything before it is delivered or given up). */
  private head: number;
  /** One past the highest sequence number received. */
  private next: number;
  private readonly buffer = new Map<number, Slot>();
  /** Missing sequence numbers → when they were last reported in a NAK. */
  private readonly loss = new Map<number, number>();
  /** Sequence numbers the sender said it will not send again (DROPREQ). */
  private readonly abandoned = new Set<number>();
  private ackNumber = 0;
  private readonly ackSent = new Map<number, number>();
  private lastAckAt = 0;
  private lastAckSeq = -1;
  private lastPeriodicNakAt = 0;
  /** Sender time → our time offset (ms): our clock at the sender's timestamp 0, plus the path delay. */
  private base: number | null = null;
  private windowMin = Infinity;
  private windowStart = 0;
  private lastTs = -1;
  private rateStart = 0;
  private ratePackets = 0;
  private rateBytes = 0;
  private packetsPerSecond = 0;
  private bytesPerSecond = 0;

  constructor(private readonly o: ReceiverOptions) {
    this.head = o.initialSeq;
    this.next = o.initialSeq;
    this.rateStart = o.now();
  }

  /** Packets held for delivery now. */
  get buffered(): number {
    return this.buffer.size;
  }

  /** Missing packets still awaited. */
  get missing(): number {
    return this.loss.size;
  }

  private unwrapTs(ts: number): number {
    if (this.lastTs < 0) {
      this.lastTs = ts;
      return ts;
    }
    const period = Math.floor(this.lastTs / TIMESTAMP_WRAP) * TIMESTAMP_WRAP;
    let v = period + ts;
    if (v - this.lastTs > TIMESTAMP_WRAP / 2) v -= TIMESTAMP_WRAP;
    else if (this.lastTs - v > TIMESTAMP_WRAP / 2) v += TIMESTAMP_WRAP;
    if (v > this.lastTs) this.lastTs = v;
    return v;
  }

  private deliveryAt(slot: Slot): number {
    return (this.base ?? 0) + slot.ts / 1000 + this.o.latencyMs;
  }

  onData(p: SrtDataPacket): void {
    const now = this.o.now();
    this.stats.packets++;
    this.stats.bytes += p.payload.length;
    this.ratePackets++;
    this.rateBytes += p.payload.length;
    if (p.retransmitted) this.stats.retransmitted++;
    const ts = this.unwrapTs(p.timestamp);
    // The clock offset follows the quickest packets (the least queued), re-measured each window.
    if (!p.retransmitted) {
      const offset = now - ts / 1000;
      if (this.base === null) {
        this.base = offset;
        this.windowStart = now;
      }
      if (offset < this.windowMin) this.windowMin = offset;
      if (now - this.windowStart >= DRIFT_WINDOW_MS) {
        this.base = this.windowMin;
        this.windowMin = Infinity;
        this.windowStart = now;
      }
    }
    const seq = p.seq;
    const behindHead = seqDiff(seq, this.head);
    if (behindHead < 0) {
      this.stats.duplicates++; // delivered or given up already
      return;
    }
    const ahead = seqDiff(seq, this.next);
    if (ahead >= 0) {
      if (behindHead >= this.o.bufferPackets) {
        // Far ahead of what the buffer holds: give up everything before it.
        this.dropUntil(seqAdd(seq, -(this.o.bufferPackets - 1)));
      }
      if (ahead > 0) {
        // A gap: the packets between are lost (for now).
        const from = seqDiff(this.next, this.head) < 0 ? this.head : this.next;
        const count = seqDiff(seq, from);
        for (let i = 0; i < count; i++) this.loss.set(seqAdd(from, i), now);
        this.stats.lost += count;
        if (count > 0) this.nak([{ first: from, last: seqAdd(seq, -1) }]);
      }
      this.next = seqAdd(seq, 1);
    } else {
      if (this.buffer.has(seq)) {
        this.stats.duplicates++;
        return;
      }
      if (this.loss.delete(seq)) this.stats.recovered++;
      else if (this.abandoned.has(seq)) return;
    }
    const slot = { payload: p.payload, ts };
    if (now > this.deliveryAt(slot)) this.stats.late++;
    this.buffer.set(seq, slot);
    this.deliverDue(now);
  }

  /** onAckAck takes the peer's answer to a full ACK: one RTT sample. */
  onAckAck(ackNumber: number): void {
    const sentAt = this.ackSent.get(ackNumber);
    if (sentAt === undefined) return;
    this.ackSent.delete(ackNumber);
    const sample = Math.max(0, this.o.now() - sentAt);
    if (this.rttSamples++ === 0) {
      this.rttMs = sample;
      this.rttVarMs = sample / 2;
    } else {
      this.rttVarMs = (3 * this.rttVarMs + Math.abs(this.rttMs - sample)) / 4;
      this.rttMs = (7 * this.rttMs + sample) / 8;
    }
  }

  /** onDropRequest: the sender will not retransmit first..last (they were too old for it). */
  onDropRequest(first: number, last: number): void {
    const n = seqDiff(last, first);
    if (n < 0 || n > this.o.bufferPackets) return;
    for (let i = 0; i <= n; i++) {
      const s = seqAdd(first, i);
      if (this.loss.delete(s)) this.abandoned.add(s);
    }
    this.deliverDue(this.o.now());
  }

  /** tick delivers what is due, sends the periodic ACK and repeats NAKs for packets still missing. */
  tick(): void {
    const now = this.o.now();
    this.deliverDue(now);
    if (now - this.rateStart >= RATE_WINDOW_MS) {
      const secs = (now - this.rateStart) / 1000;
      this.packetsPerSecond = this.ratePackets / secs;
      this.bytesPerSecond = this.rateBytes / secs;
      this.ratePackets = 0;
      this.rateBytes = 0;
      this.rateStart = now;
    }
    if (this.stats.packets > 0 && now - this.lastAckAt >= ACK_INTERVAL_MS) this.ack(now);
    const nakInterval = Math.max(NAK_MIN_INTERVAL_MS, (this.rttMs + 4 * this.rttVarMs) / 2);
    if (this.loss.size > 0 && now - this.lastPeriodicNakAt >= NAK_MIN_INTERVAL_MS) {
      this.lastPeriodicNakAt = now;
      const due: number[] = [];
      for (const [s, at] of this.loss) if (now - at >= nakInterval) due.push(s);
      if (due.length) {
        for (const s of due) this.loss.set(s, now);
        this.nak(toRanges(due));
      }
    }
  }

  /** The first sequence number not received yet: what a full ACK acknowledges up to. */
  private ackSeq(): number {
    let first = this.next;
    for (const s of this.loss.keys()) if (seqDiff(s, first) < 0) first = s;
    return first;
  }

  private ack(now: number): void {
    const seq = this.ackSeq();
    // Nothing new to acknowledge: skip (keepalives keep the connection up).
    if (seq === this.lastAckSeq && now - this.lastAckAt < 10 * ACK_INTERVAL_MS) return;
    this.lastAckAt = now;
    this.lastAckSeq = seq;
    this.ackNumber = (this.ackNumber + 1) >>> 0 || 1;
    this.ackSent.set(this.ackNumber, now);
    if (this.ackSent.size > ACK_HISTORY) this.ackSent.delete(this.ackSent.keys().next().value!);
    this.stats.acksSent++;
    const room = Math.max(2, this.o.bufferPackets - Math.max(0, seqDiff(this.next, this.head)));
    this.o.sendAck(this.ackNumber, {
      lastAckSeq: seq,
      rttUs: this.rttMs * 1000,
      rttVarUs: this.rttVarMs * 1000,
      availableBuffer: room,
      packetsPerSecond: this.packetsPerSecond,
      linkCapacity: Math.max(this.packetsPerSecond * 2, 1000),
      bytesPerSecond: this.bytesPerSecond,
    });
  }

  private nak(ranges: SeqRange[]): void {
    for (let i = 0; i < ranges.length; i += MAX_NAK_RANGES) {
      this.stats.naksSent++;
      this.o.sendNak(ranges.slice(i, i + MAX_NAK_RANGES));
    }
  }

  private deliverDue(now: number): void {
    while (seqDiff(this.next, this.head) > 0) {
      const slot = this.buffer.get(this.head);
      if (slot) {
        if (now < this.deliveryAt(slot)) return;
        this.buffer.delete(this.head);
        this.head = seqAdd(this.head, 1);
        this.o.deliver(slot.payload);
        continue;
      }
      // The head is missing: skip it if the sender gave it up, or once a later packet is due.
      if (this.abandoned.delete(this.head)) {
        this.giveUp(1);
        continue;
      }
      const later = this.nextPresent();
      if (later === null || now < this.deliveryAt(this.buffer.get(later)!)) return;
      this.giveUp(seqDiff(later, this.head));
    }
  }

  private nextPresent(): number | null {
    const span = seqDiff(this.next, this.head);
    for (let i = 1; i < span; i++) {
      const s = seqAdd(this.head, i);
      if (this.buffer.has(s)) return s;
    }
    return null;
  }

  /** giveUp skips n missing packets at the head (nothing of them is in the buffer). */
  private giveUp(n: number): void {
    for (let i = 0; i < n; i++) {
      this.loss.delete(this.head);
      this.abandoned.delete(this.head);
      this.head = seqAdd(this.head, 1);
    }
    this.stats.dropped += n;
    if (n > 0) this.o.gap(n);
  }

  /** dropUntil gives up everything before seq, received or not (the buffer would overflow). */
  private dropUntil(seq: number): void {
    let n = 0;
    const dist = seqDiff(seq, this.head);
    if (dist > this.o.bufferPackets) {
      this.buffer.clear();
      this.loss.clear();
      this.abandoned.clear();
      this.head = seq;
      n = dist;
    }
    while (seqDiff(seq, this.head) > 0) {
      this.buffer.delete(this.head);
      this.loss.delete(this.head);
      this.abandoned.delete(this.head);
      this.head = seqAdd(this.head, 1);
      n++;
    }
    if (seqDiff(this.next, this.head) < 0) this.next = this.head;
    if (n > 0) {
      this.stats.dropped += n;
      this.o.gap(n);
    }
  }
}

/** toRanges turns sequence numbers (in the order they went missing) into sorted inclusive ranges. */
export function toRanges(seqs: number[]): SeqRange[] {
  const ref = seqs[0];
  if (ref === undefined) return [];
  const [first0, ...rest] = [...seqs].sort((a, b) => seqDiff(a, ref) - seqDiff(b, ref));
  const out: SeqRange[] = [];
  let first = first0 ?? ref;
  let last = first;
  for (const s of rest) {
    if (s === seqAdd(last, 1)) last = s;
    else {
      out.push({ first, last });
      first = s;
      last = s;
    }
  }
  out.push({ first, last });
  return out;
}
