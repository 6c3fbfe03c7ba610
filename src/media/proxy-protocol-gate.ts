/**
 * ProxyProtocolGate sits in front of a TCP listener (RTMP, RTSP) and decides each connection's
 * client address before the protocol session sees a byte:
 *
 * - PROXY protocol off: the socket's peer address, nothing read.
 * - On, peer in `trusted` (a load balancer): the connection must start with a PROXY header; the
 *   client is the header's source address (a LOCAL/UNKNOWN header keeps the peer's). No header,
 *   a malformed one, or none within the timeout: the connection is closed.
 * - On, any other peer: a connection that starts with a PROXY header is closed (nobody else may
 *   claim an address); any other first bytes go to the session untouched.
 *
 * Bytes read past the header are pushed back onto the socket, so the session reads the stream
 * from its first protocol byte. close() drops connections still waiting for their header.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';
import { ProxyHeaderParser, ProxyProtocolError, sniffProxyHeader } from '../formats/proxy-protocol.js';
import { normalizeAddress, trustOf, type Trust } from '../http/client-address.js';

export interface ProxyProtocolOptions {
  enabled: boolean;
  /** Addresses/CIDR blocks of the proxies allowed (and required) to send the header. */
  trusted: readonly string[];
  headerTimeoutMs: number;
}

/** Accepted is called once per admitted connection, with its client address; the socket is paused until the callee reads. */
export type Accepted = (socket: Socket, clientIp: string) => void;

/** proxyProtocolOptions reads media.proxyProtocol. */
export function proxyProtocolOptions(c: { enabled: boolean; trusted: readonly string[]; headerTimeoutSeconds: number }): ProxyProtocolOptions {
  return { enabled: c.enabled, trusted: c.trusted, headerTimeoutMs: c.headerTimeoutSeconds * 1000 };
}

export class ProxyProtocolGate {
  private readonly trust: Trust;
  private readonly waiting = new Set<Socket>();
  /** Connections refused, by reason, for the listener's logs and tests. */
  readonly refused = { missing: 0, malformed: 0, untrusted: 0, timeout: 0 };

  constructor(private readonly opts: ProxyProtocolOptions, private readonly log: Logger) {
    this.trust = trustOf(opts.enabled ? opts.trusted : false);
  }

  /** admit runs the checks above and calls `accepted` for a connection that passes. */
  admit(socket: Socket, accepted: Accepted): void {
    const peer = normalizeAddress(socket.remoteAddress);
    if (!this.opts.enabled) return accepted(socket, peer);
    const trusted = this.trust(peer);
    const parser = new ProxyHeaderParser();
    let head: Buffer = Buffer.alloc(0);
    this.waiting.add(socket);
    const timer = setTimeout(() => refuse('timeout', 'no PROXY header in time'), this.opts.headerTimeoutMs);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      this.waiting.delete(socket);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const refuse = (reason: keyof ProxyProtocolGate['refused'], detail: string): void => {
      done();
      this.refused[reason]++;
      this.log.info({ peer, reason, detail }, 'connection refused by the PROXY protocol check');
      socket.destroy();
    };
    const pass = (clientIp: string, rest: Buffer): void => {
      done();
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      accepted(socket, clientIp);
      socket.resume();
    };
    const onData = (chunk: Buffer): void => {
      if (!trusted) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const sniff = sniffProxyHeader(head);
        if (sniff === 'yes') return refuse('untrusted', 'a PROXY header from a peer not in media.proxyProtocol.trusted');
        if (sniff === 'no') pass(peer, head);
        return;
      }
      try {
        const r = parser.push(chunk);
        if (r.done) pass(r.header.kind === 'proxied' ? normalizeAddress(r.header.source.address) : peer, r.rest);
      } catch (err) {
        if (!(err instanceof ProxyProtocolError)) throw err;
        refuse(/did not start/.test(err.message) ? 'missing' : 'malformed', err.message);
      }
    };
    const onError = (): void => undefined;
    const onClose = (): void => done();
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  /** close drops every connection still waiting for its header. */
  close(): void {
    for (const s of [...this.waiting]) s.destroy();
    this.waiting.clear();
  }
}
