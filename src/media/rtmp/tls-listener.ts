/**
 * RtmpsListener accepts RTMP inside TLS (rtmps://) on its own port and hands every secure
 * socket to the same RtmpSession as the plain listener: same handshake, publish check, play
 * path and limits; only the transport name differs (publisher protocol `rtmps`).
 *
 * The certificate and key are read at start (a ConfigError naming the key when a file is
 * unreadable or the pair does not match) and re-read when their mtime or size changes, polled
 * every reloadIntervalMs: a good new pair replaces the secure context for new connections,
 * a bad one is logged and counted and the old pair stays. Open sessions are not touched.
 * Clients that fail the TLS handshake (plain RTMP, garbage, untrusted peers) or do not finish
 * it within handshakeTimeoutMs are dropped and counted; nothing else is affected.
 */
import { readFileSync, statSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ConfigError } from '../../config/load.js';
import type { Logger } from '../../observability/logger.js';
import { RtmpSession, type RtmpSessionContext } from './session.js';
import { normalizeAddress } from '../../http/client-address.js';
import type { ListenerLimits } from '../../net/listener-limits.js';

export const METRIC_RTMPS_HANDSHAKE_FAILURES = 'onair_rtmps_handshake_failures_total';
export const METRIC_RTMPS_CERT_RELOADS = 'onair_rtmps_cert_reloads_total';
export const METRIC_RTMPS_SESSIONS = 'onair_rtmps_sessions';
const METRIC_NAMES = [METRIC_RTMPS_HANDSHAKE_FAILURES, METRIC_RTMPS_CERT_RELOADS, METRIC_RTMPS_SESSIONS];

/** Config keys named in start errors. */
const KEY_CERT = 'media.rtmps.certFile';
const KEY_KEY = 'media.rtmps.keyFile';
/** Node's code for a handshake not finished within the server's handshakeTimeout. */
const ERR_HANDSHAKE_TIMEOUT = 'ERR_TLS_HANDSHAKE_TIMEOUT';
/** OpenSSL reasons seen when the first bytes are not a TLS record (plain RTMP's C0 = 0x03, HTTP, garbage). */
const NOT_TLS = /WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE|UNEXPECTED_RECORD|BAD_RECORD_TYPE/i;

/** HandshakeFailureReason labels onair_rtmps_handshake_failures_total. */
export type HandshakeFailureReason = 'timeout' | 'not_tls' | 'tls';

export interface RtmpsListenerOptions {
  certFile: string;
  keyFile: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** A TCP connection that has not completed the TLS handshake this long is destroyed. */
  handshakeTimeoutMs: number;
  /** Period of the certificate/key change check (0: no polling; reload() still works). */
  reloadIntervalMs: number;
  /** Metrics go here when given (removed again by close()). */
  registry?: Registry;
  /** limits.rtmps: connections per client address and in all; over a cap the TCP connection is closed before TLS. */
  limits?: ListenerLimits;
}

/** CertReloadResult says whether reload() installed a new pair, kept the old one, or had nothing new. */
export type CertReloadResult = { status: 'reloaded' } | { status: 'unchanged' } | { status: 'failed'; error: string };

interface FileStamp {
  cert: string;
  key: string;
}

/** handshakeFailureReason maps a tlsClientError to a metric label. */
export function handshakeFailureReason(err: NodeJS.ErrnoException & { reason?: string }): HandshakeFailureReason {
  if (err.code === ERR_HANDSHAKE_TIMEOUT) return 'timeout';
  if (NOT_TLS.test(`${err.code ?? ''} ${err.reason ?? ''} ${err.message}`)) return 'not_tls';
  return 'tls';
}

/**
 * loadKeyPair reads a PEM certificate chain and key and checks they belong together;
 * a failure is a ConfigError naming the key of the file at fault.
 */
export function loadKeyPair(certFile: string, keyFile: string, minVersion: RtmpsListenerOptions['minVersion']): SecureContextOptions {
  const read = (path: string, key: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const cert = read(certFile, KEY_CERT);
  const key = read(keyFile, KEY_KEY);
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(KEY_CERT, `${certFile} holds no PEM certificate`);
  if (!key.includes('PRIVATE KEY-----')) throw new ConfigError(KEY_KEY, `${keyFile} holds no PEM private key`);
  // Each file alone first, so the error names the file at fault; then the pair
  // (OpenSSL says "key values mismatch" for a key of another certificate).
  const tryContext = (o: SecureContextOptions, configKey: string, what: string) => {
    try {
      createSecureContext(o);
    } catch (err) {
      throw new ConfigError(configKey, `${what} (${(err as Error).message})`);
    }
  };
  tryContext({ cert }, KEY_CERT, `cannot use ${certFile} as a certificate chain`);
  tryContext({ key }, KEY_KEY, `cannot use ${keyFile} as a private key`);
  const opts: SecureContextOptions = { cert, key, minVersion };
  tryContext(opts, KEY_KEY, `${keyFile} does not match the certificate in ${certFile}`);
  return opts;
}

function stampOf(certFile: string, keyFile: string): FileStamp | null {
  try {
    const c = statSync(certFile);
    const k = statSync(keyFile);
    return { cert: `${c.mtimeMs}:${c.size}:${c.ino}`, key: `${k.mtimeMs}:${k.size}:${k.ino}` };
  } catch {
    return null; // a file missing for a moment (renewal in progress): check again next time
  }
}

export class RtmpsListener {
  private server: TlsServer | null = null;
  /** TCP connections, handshaking or not, so close() need not wait for a handshake timeout. */
  private readonly sockets = new Set<Socket>();
  /** TCP connections the limits refused (their TLS sockets still report a handshake error). */
  private readonly refusedSockets = new WeakSet<Socket>();
  readonly sessions = new Set<RtmpSession>();
  private readonly ctx: RtmpSessionContext;
  private readonly log: Logger;
  /** Stamp of the files last tried (loaded or refused), so one bad pair is reported once. */
  private tried: FileStamp | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures: Counter<'reason'> | null = null;
  private reloads: Counter<'result'> | null = null;
  /** Plain counts kept for tests and for an absent registry. */
  readonly counts = { handshakeFailures: { timeout: 0, not_tls: 0, tls: 0 } as Record<HandshakeFailureReason, number>, reloaded: 0, reloadFailed: 0 };

  constructor(ctx: RtmpSessionContext, private readonly opts: RtmpsListenerOptions) {
    this.ctx = { ...ctx, protocol: 'rtmps' };
    this.log = ctx.logger.child({ transport: 'rtmps' });
  }

  /** port is the bound port while listening (null before listen and after close). */
  get port(): number | null {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : null;
  }

  /** listen loads the key pair and starts accepting; port 0 picks a free port. Resolves with the bound port. */
  async listen(port: number, host: string): Promise<number> {
    const { certFile, keyFile, minVersion } = this.opts;
    this.tried = stampOf(certFile, keyFile);
    const pair = loadKeyPair(certFile, keyFile, minVersion);
    const server = createTlsServer({ ...pair, handshakeTimeout: this.opts.handshakeTimeoutMs }, (socket: TLSSocket) => this.accept(socket));
    server.on('connection', (s: Socket) => {
      // Counted from the TCP accept, so TLS handshakes (the costly part) are bounded per address too.
      const admission = this.opts.limits?.admit(normalizeAddress(s.remoteAddress));
      if (admission && !admission.ok) {
        this.refusedSockets.add(s);
        s.destroy();
        return;
      }
      s.setNoDelay(true);
      this.sockets.add(s);
      s.once('close', () => {
        this.sockets.delete(s);
        admission?.lease.release();
      });
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => this.onHandshakeFailure(err, socket));
    this.registerMetrics();
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.server = null;
      this.removeMetrics();
      throw err;
    }
    server.on('error', (err) => this.log.error({ err }, 'rtmps listener error'));
    if (this.opts.reloadIntervalMs > 0) {
      this.timer = setInterval(() => void this.reload(false), this.opts.reloadIntervalMs);
      this.timer.unref();
    }
    return (server.address() as AddressInfo).port;
  }

  /**
   * reload re-reads the certificate and key when they changed since the last try (or always,
   * with force) and installs them for new connections when they load and match.
   */
  reload(force = true): CertReloadResult {
    const server = this.server;
    if (!server) return { status: 'unchanged' };
    const { certFile, keyFile, minVersion } = this.opts;
    const stamp = stampOf(certFile, keyFile);
    if (!force && (!stamp || (this.tried && stamp.cert === this.tried.cert && stamp.key === this.tried.key))) return { status: 'unchanged' };
    this.tried = stamp;
    try {
      server.setSecureContext(loadKeyPair(certFile, keyFile, minVersion));
    } catch (err) {
      const error = (err as Error).message;
      this.counts.reloadFailed++;
      this.reloads?.inc({ result: 'failed' });
      this.log.error({ err: error }, 'rtmps certificate reload failed; keeping the current certificate');
      return { status: 'failed', error };
    }
    this.counts.reloaded++;
    this.reloads?.inc({ result: 'ok' });
    this.log.info({ certFile }, 'rtmps certificate reloaded');
    return { status: 'reloaded' };
  }

  private accept(socket: TLSSocket): void {
    const session = new RtmpSession(socket, this.ctx, (s) => this.sessions.delete(s));
    this.sessions.add(session);
  }

  private onHandshakeFailure(err: NodeJS.ErrnoException, socket: TLSSocket): void {
    // A connection the limits refused is counted there, not as a failed handshake.
    if (this.refusedSockets.has((socket as unknown as { _parent?: Socket })._parent ?? socket)) return;
    const reason = handshakeFailureReason(err);
    this.counts.handshakeFailures[reason]++;
    this.failures?.inc({ reason });
    this.log.debug({ reason, err: err.message, clientIp: socket.remoteAddress }, 'rtmps handshake failed');
    socket.destroy();
  }

  private registerMetrics(): void {
    const registry = this.opts.registry;
    if (!registry) return;
    this.removeMetrics();
    this.failures = new Counter({
      name: METRIC_RTMPS_HANDSHAKE_FAILURES,
      help: 'TLS handshakes on the RTMPS port that failed, by reason (timeout, not_tls: plain RTMP or garbage, tls: any other).',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.reloads = new Counter({
      name: METRIC_RTMPS_CERT_RELOADS,
      help: 'RTMPS certificate reloads after a file change, by result (ok, failed: the old pair was kept).',
      labelNames: ['result'],
      registers: [registry],
    });
    const sessions = this.sessions;
    new Gauge({
      name: METRIC_RTMPS_SESSIONS,
      help: 'Open RTMPS sessions (TLS established: publishers, players and ones still in the RTMP handshake).',
      registers: [registry],
      collect() {
        this.set(sessions.size);
      },
    });
  }

  private removeMetrics(): void {
    const registry = this.opts.registry;
    if (registry) for (const name of METRIC_NAMES) registry.removeSingleMetric(name);
    this.failures = null;
    this.reloads = null;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of [...this.sessions]) s.close('server shutting down');
    this.sessions.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.removeMetrics();
  }
}
