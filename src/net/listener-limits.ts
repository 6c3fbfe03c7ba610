/**
 * ListenerLimits is one listener's ConnectionLimiter with what every refusal needs: a debug log
 * line and a count in onair_connections_refused_total{listener,reason}. limitSettingsOf reads a
 * listener's caps from the config, taking the global cap from the listener's older key where
 * one exists (media.rtsp.maxConnections, media.srt.maxSessions, media.webrtc.maxViewers,
 * chat.pusher.maxConnections), so there is one cap per listener, not two.
 */
import prom from 'prom-client';
import type { OnairConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { metricOnce } from '../observability/metrics.js';
import { AppError } from '../http/errors.js';
import { ConnectionLimiter, type Admission, type Lease, type LimitRefusal, type LimitSettings } from './connection-limits.js';

export const METRIC_CONNECTIONS_REFUSED = 'onair_connections_refused_total';
/** Seconds an HTTP client refused by a global cap is asked to wait (Retry-After). */
export const FULL_RETRY_AFTER_SECONDS = 10;

/** ListenerName is the `listener` label and the key under `limits`. */
export type ListenerName = 'rtmp' | 'rtmps' | 'rtsp' | 'srt' | 'whep' | 'whip' | 'chatWs' | 'chatHttp' | 'pusher' | 'flv';

/** refusedCounter registers (once per registry) the refusal counter every listener shares. */
export function refusedCounter(registry: prom.Registry): prom.Counter<'listener' | 'reason'> {
  return metricOnce(registry, METRIC_CONNECTIONS_REFUSED, () => new prom.Counter({
    name: METRIC_CONNECTIONS_REFUSED,
    help: 'Connections refused by the per-address or global connection limits (limits.*), by listener and reason (per_ip, global).',
    labelNames: ['listener', 'reason'],
    registers: [registry],
  }));
}

/** limitSettingsOf is a listener's caps from the config. */
export function limitSettingsOf(config: Pick<OnairConfig, 'limits' | 'media' | 'chat'>, listener: ListenerName): LimitSettings {
  const l = config.limits;
  switch (listener) {
    case 'rtsp': return { perIp: l.rtsp.perIp, global: config.media.rtsp.maxConnections };
    case 'srt': return { perIp: l.srt.perIp, global: config.media.srt.maxSessions };
    case 'whep': return { perIp: l.whep.perIp, global: config.media.webrtc.maxViewers };
    case 'pusher': return { perIp: l.pusher.perIp, global: config.chat.pusher.maxConnections };
    case 'rtmp': case 'rtmps': case 'whip': case 'chatWs': case 'chatHttp': case 'flv': return { ...l[listener] };
  }
}

export interface ListenerLimitsOptions {
  listener: ListenerName;
  settings: LimitSettings;
  /** limits.exempt: addresses and CIDR blocks that skip the per-address cap. */
  exempt: readonly string[];
  logger?: Logger;
  registry?: prom.Registry;
}

export class ListenerLimits {
  readonly listener: ListenerName;
  private readonly limiter: ConnectionLimiter;
  private readonly log: Logger | undefined;
  private readonly metric: prom.Counter<'listener' | 'reason'> | null;
  /** Refusals by reason, for tests and for an absent registry. */
  readonly refused: Record<LimitRefusal, number> = { per_ip: 0, global: 0 };

  constructor(o: ListenerLimitsOptions) {
    this.listener = o.listener;
    this.limiter = new ConnectionLimiter(o.settings, o.exempt);
    this.log = o.logger;
    this.metric = o.registry ? refusedCounter(o.registry) : null;
  }

  /** size is the number of connections holding a lease. */
  get size(): number {
    return this.limiter.size;
  }

  get settings(): LimitSettings {
    return this.limiter.settings;
  }

  /** admit takes a lease for a connection from `clientIp`, or counts and logs its refusal. */
  admit(clientIp: string): Admission {
    const a = this.limiter.acquire(clientIp);
    if (!a.ok) {
      this.refused[a.reason]++;
      this.metric?.inc({ listener: this.listener, reason: a.reason });
      this.log?.debug({ listener: this.listener, clientIp, reason: a.reason, limits: this.limiter.settings }, 'connection refused by the connection limits');
    }
    return a;
  }

  /** refusalFor is the error a connection from `clientIp` would be refused with now, or null; a question, so nothing is taken or counted. */
  refusalFor(clientIp: string): AppError | null {
    const reason = this.limiter.refusalOf(clientIp);
    return reason === null ? null : refusalError(this.listener, reason, this.limiter.settings);
  }

  /** admitOrThrow is admit for HTTP routes: a refusal is an AppError (429 too_many_connections, 503 server_full). */
  admitOrThrow(clientIp: string): Lease {
    const a = this.admit(clientIp);
    if (a.ok) return a.lease;
    throw refusalError(this.listener, a.reason, this.limiter.settings);
  }
}

/**
 * rawHttpRefusal is a refusal as a whole HTTP/1.1 response, for sockets no framework answers any
 * more (WebSocket upgrades, hijacked streams): status, JSON error body, Retry-After for a full node.
 */
export function rawHttpRefusal(err: AppError): string {
  const body = JSON.stringify({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
  const phrase = err.status === 429 ? 'Too Many Requests' : 'Service Unavailable';
  const retry = err.details?.retryAfterSeconds !== undefined ? `Retry-After: ${String(err.details.retryAfterSeconds)}\r\n` : '';
  return `HTTP/1.1 ${err.status} ${phrase}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`;
}

/** refusalError is the HTTP error of a refusal; the web app words it from the code and details. */
export function refusalError(listener: ListenerName, reason: LimitRefusal, settings: LimitSettings): AppError {
  return reason === 'per_ip'
    ? new AppError('too_many_connections', `too many ${listener} connections from this address (at most ${settings.perIp})`, { listener, limit: settings.perIp })
    : new AppError('server_full', `this server holds its most ${listener} connections (${settings.global}); try again later`, { listener, limit: settings.global, retryAfterSeconds: FULL_RETRY_AFTER_SECONDS });
}

/** listenerLimits builds a listener's limits from the config. */
export function listenerLimits(config: Pick<OnairConfig, 'limits' | 'media' | 'chat'>, listener: ListenerName, logger?: Logger, registry?: prom.Registry): ListenerLimits {
  return new ListenerLimits({ listener, settings: limitSettingsOf(config, listener), exempt: config.limits.exempt, logger, registry });
}
