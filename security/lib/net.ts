/** Small bounded network clients the attacks share: raw TCP and UDP probes, HTTP with timeouts, WebSockets. */
import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import WebSocket from 'ws';
import type { HostPort } from './options.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface TcpProbeResult {
  connected: boolean;
  /** The server closed (or reset) the connection before we did. */
  closedByServer: boolean;
  received: number;
  /** The first bytes the server answered, as latin1 text. */
  head: string;
}

const PROBE_HEAD_BYTES = 200;

/** answeredOrClosed: the server closed the connection, or answered an RTSP/HTTP-style 4xx/5xx. */
export function answeredOrClosed(r: TcpProbeResult): boolean {
  return r.closedByServer || /^(RTSP|HTTP)\/\d\.\d [45]\d\d/.test(r.head);
}

/**
 * tcpProbe connects, writes each chunk in turn, then waits up to waitMs for the server to close.
 * It never holds the socket longer than waitMs after the last write.
 */
export function tcpProbe(at: HostPort, chunks: Buffer[], waitMs: number): Promise<TcpProbeResult> {
  return new Promise((resolve) => {
    const r: TcpProbeResult = { connected: false, closedByServer: false, received: 0, head: '' };
    const s = connect({ host: at.host, port: at.port });
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    s.on('data', (d) => {
      r.received += d.length;
      if (r.head.length < PROBE_HEAD_BYTES) r.head += d.subarray(0, PROBE_HEAD_BYTES).toString('latin1');
    });
    s.on('error', () => { if (r.connected) r.closedByServer = true; done(); });
    s.on('close', () => { if (r.connected) r.closedByServer = true; done(); });
    s.on('connect', () => {
      r.connected = true;
      for (const c of chunks) if (!s.destroyed) s.write(c);
      timer = setTimeout(() => { s.removeAllListeners('close'); done(); }, waitMs);
    });
    s.setTimeout(waitMs + 5000, done);
  });
}

/** TcpHold is one of many connections a flood keeps open. */
export interface TcpHold {
  socket: Socket;
  connected: boolean;
  closedByServer: boolean;
}

/** openTcp opens a connection, writes the first bytes, and records whether the server closes it. */
export function openTcp(at: HostPort, first: Buffer | undefined, connectTimeoutMs: number): Promise<TcpHold> {
  return new Promise((resolve) => {
    const h: TcpHold = { socket: connect({ host: at.host, port: at.port }), connected: false, closedByServer: false };
    const timer = setTimeout(() => { h.socket.destroy(); resolve(h); }, connectTimeoutMs);
    h.socket.on('error', () => {});
    h.socket.on('close', () => { if (h.connected) h.closedByServer = true; clearTimeout(timer); resolve(h); });
    h.socket.on('connect', () => {
      h.connected = true;
      if (first) h.socket.write(first);
      clearTimeout(timer);
      resolve(h);
    });
    h.socket.on('data', () => {});
  });
}

/** closeAll ends every held socket without waiting for the peer. */
export function closeAll(holds: Array<{ socket: Socket } | { ws: WebSocket }>): void {
  for (const h of holds) {
    if ('socket' in h) h.socket.destroy();
    else h.ws.terminate();
  }
}

/** udpExchange sends each datagram from its own socket and counts the answers within waitMs. */
export async function udpExchange(at: HostPort, datagrams: Buffer[], waitMs: number): Promise<{ sent: number; answered: number; replies: Buffer[] }> {
  const replies: Buffer[] = [];
  let answered = 0;
  const sockets = datagrams.map((d) => {
    const s = createSocket(at.host.includes(':') ? 'udp6' : 'udp4');
    let got = false;
    s.on('message', (m) => { replies.push(m); if (!got) { got = true; answered++; } });
    s.on('error', () => {});
    s.send(d, at.port, at.host);
    return s;
  });
  await sleep(waitMs);
  for (const s of sockets) s.close();
  return { sent: datagrams.length, answered, replies };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

/** http sends one request with a time bound; a network failure or timeout is status 0. */
export async function http(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<HttpResult> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, ms: performance.now() - t0 };
  } catch (e) {
    return { status: 0, headers: new Headers(), text: String(e), ms: performance.now() - t0 };
  }
}

export interface WsHold {
  ws: WebSocket;
  opened: boolean;
  closedByServer: boolean;
  /** HTTP status of a refused upgrade. */
  refusedStatus?: number;
}

/** openWs opens a WebSocket and records whether the upgrade was refused or the server closed it. */
export function openWs(url: string, headers: Record<string, string>, timeoutMs: number): Promise<WsHold> {
  return new Promise((resolve) => {
    const h: WsHold = { ws: new WebSocket(url, { headers, handshakeTimeout: timeoutMs }), opened: false, closedByServer: false };
    h.ws.on('unexpected-response', (_req, res) => { h.refusedStatus = res.statusCode; res.resume(); h.ws.terminate(); resolve(h); });
    h.ws.on('error', () => resolve(h));
    h.ws.on('open', () => { h.opened = true; resolve(h); });
    h.ws.on('close', () => { if (h.opened) h.closedByServer = true; resolve(h); });
  });
}

/** percentile of a list of numbers (nearest rank); NaN for an empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** proxyV1Header is a PROXY protocol v1 line naming a made-up TCP source. */
export function proxyV1Header(source: string, at: HostPort): Buffer {
  const v6 = source.includes(':');
  const dst = v6 ? '::1' : '127.0.0.1';
  return Buffer.from(`PROXY ${v6 ? 'TCP6' : 'TCP4'} ${source} ${dst} ${40000 + Math.floor(Math.random() * 20000)} ${at.port}\r\n`);
}
