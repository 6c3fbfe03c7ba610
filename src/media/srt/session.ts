/**
 * SrtSession: one accepted SRT publisher. It owns the receiver (loss recovery, TSBPD) and the
 * TS ingest (demux → hub); the server hands it the packets addressed to its socket id and calls
 * tick() every few milliseconds.
 *
 * Ends: SHUTDOWN from the peer, nothing heard for the idle timeout, the hub kicking the publisher
 * (the peer gets a SHUTDOWN), another publisher winning the channel, server stop.
 */
import type { Logger } from '../../observability/logger.js';
import { CTRL_KEEPALIVE, CTRL_SHUTDOWN, encodeAck, encodeControl, encodeNak, type SrtPacket } from '../../formats/srt-packet.js';
import { SrtReceiver } from './receiver.js';
import { TsIngest, type TsHub } from './ingest.js';

/** A keepalive goes out when nothing was sent for this long (the spec's default). */
export const SRT_KEEPALIVE_MS = 1000;
/** Keepalive and shutdown carry a 4-byte zero CIF, as libsrt sends them. */
const EMPTY_CIF = Buffer.alloc(4);

/** SrtEndReason says why a publish ended (a metrics label). */
export type SrtEndReason = 'shutdown' | 'timeout' | 'kicked' | 'conflict' | 'stopped';

export interface SrtSessionOptions {
  socketId: number;
  peerSocketId: number;
  address: string;
  port: number;
  channel: string;
  initialSeq: number;
  latencyMs: number;
  bufferPackets: number;
  idleTimeoutMs: number;
  hub: TsHub;
  logger: Logger;
  send(buf: Buffer, port: number, address: string): void;
  onClosed(s: SrtSession, reason: SrtEndReason): void;
  onLive?(s: SrtSession): void;
  onRtt?(ms: number): void;
  now?: () => number;
}

export class SrtSession {
  readonly socketId: number;
  readonly peerSocketId: number;
  readonly address: string;
  readonly port: number;
  readonly channel: string;
  readonly createdAt: number;
  readonly receiver: SrtReceiver;
  readonly ingest: TsIngest;
  private lastHeard: number;
  private lastSent: number;
  closed = false;
  wentLive = false;
  reason?: SrtEndReason;
  /** The handshake response, sent again if the caller repeats its conclusion. */
  conclusionResponse?: Buffer;

  constructor(private readonly o: SrtSessionOptions) {
    this.socketId = o.socketId;
    this.peerSocketId = o.peerSocketId;
    this.address = o.address;
    this.port = o.port;
    this.channel = o.channel;
    this.createdAt = this.now();
    this.lastHeard = this.createdAt;
    this.lastSent = this.createdAt;
    this.ingest = new TsIngest({
      channel: o.channel, hub: o.hub, logger: o.logger, clientIp: o.address, now: () => this.now(),
      onEnd: (reason) => this.close(reason === 'channel already live' ? 'conflict' : 'kicked', true),
      onLive: () => {
        this.wentLive = true;
        o.onLive?.(this);
      },
    });
    this.receiver = new SrtReceiver({
      initialSeq: o.initialSeq,
      latencyMs: o.latencyMs,
      bufferPackets: o.bufferPackets,
      now: () => this.now(),
      deliver: (payload) => this.ingest.push(payload),
      gap: () => this.ingest.gap(),
      sendAck: (n, ack) => this.send(encodeAck(n, ack, this.timestamp(), this.peerSocketId)),
      sendNak: (lost) => this.send(encodeNak(lost, this.timestamp(), this.peerSocketId)),
    });
  }

  private now(): number {
    return this.o.now ? this.o.now() : performance.now();
  }

  /** Our timestamp for packets we send: µs since the session began (wrapping at 2^32). */
  private timestamp(): number {
    return Math.floor((this.now() - this.createdAt) * 1000) % 2 ** 32;
  }

  send(buf: Buffer): void {
    if (this.closed) return;
    this.lastSent = this.now();
    this.o.send(buf, this.o.port, this.o.address);
  }

  /** handle takes one packet addressed to this session (already matched by socket id and peer). */
  handle(p: SrtPacket): void {
    if (this.closed) return;
    this.lastHeard = this.now();
    switch (p.kind) {
      case 'data':
        this.receiver.onData(p);
        return;
      case 'ackack': {
        this.receiver.onAckAck(p.ackNumber);
        this.o.onRtt?.(this.receiver.rttMs);
        // An ACKACK is answered with nothing.
        return;
      }
      case 'keepalive':
        return;
      case 'shutdown':
        this.close('shutdown', false);
        return;
      case 'dropreq':
        this.receiver.onDropRequest(p.first, p.last);
        return;
      case 'handshake':
        // A repeated conclusion (our answer was lost): answer again.
        if (this.conclusionResponse) this.send(this.conclusionResponse);
        return;
      case 'ack':
      case 'nak':
      case 'other':
        // We send no data: ACK/NAK from the peer carry nothing for us.
        return;
    }
  }

  /** tick runs the receiver's timers, keepalive and the idle timeout. */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    if (now - this.lastHeard >= this.o.idleTimeoutMs) {
      this.close('timeout', true);
      return;
    }
    this.receiver.tick();
    if (!this.closed && now - this.lastSent >= SRT_KEEPALIVE_MS) this.send(encodeControl(CTRL_KEEPALIVE, 0, this.timestamp(), this.peerSocketId, EMPTY_CIF));
  }

  /** close ends the session (and its hub stream); a SHUTDOWN tells the peer unless it left already. */
  close(reason: SrtEndReason, tellPeer: boolean): void {
    if (this.closed) return;
    if (tellPeer) this.send(encodeControl(CTRL_SHUTDOWN, 0, this.timestamp(), this.peerSocketId, EMPTY_CIF));
    this.closed = true;
    this.reason = reason;
    this.ingest.end(reason === 'shutdown' ? 'publisher left' : reason === 'timeout' ? 'publisher timed out' : reason);
    this.o.onClosed(this, reason);
  }
}
