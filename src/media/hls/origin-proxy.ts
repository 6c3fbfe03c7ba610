/**
 * The LL-HLS origin proxy: a media node that does not hold a channel's publisher answers that
 * channel's LL-HLS requests with the origin's own bytes, so playlists, parts, segments and init
 * segments have the same names and media sequence numbers whichever node a load balancer picks.
 *
 * Identical requests share one origin request (a blocking reload for the same _HLS_msn/_HLS_part
 * from 500 viewers is one request to the origin), and answers whose URL is unique — immutable
 * resources and blocking reloads — are kept in a small LRU bounded in bytes and time. Every
 * origin request carries the cluster secret, so the origin counts it as a node, not a viewer.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { CLUSTER_SECRET_HEADER } from '../cluster/secret.js';

/** Headers of an origin answer passed on to viewers (everything else is hop-by-hop or the origin's business). */
const PASSED_HEADERS = ['content-type', 'cache-control', 'etag', 'vary', 'access-control-allow-origin'] as const;
/** An origin answer larger than this is refused (a segment of a few seconds is far smaller). */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** Sockets kept open to each origin (blocking reloads hold one each while they wait). */
const MAX_SOCKETS_PER_ORIGIN = 64;

/** OriginAnswer is an origin's answer as the proxy hands it to every waiting viewer. */
export interface OriginAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface OriginProxyOptions {
  /** cluster.secret, sent on every origin request. */
  secret: string | undefined;
  /** An origin request (a held blocking reload included) is abandoned after this long. */
  timeoutMs: number;
  /** Distinct origin requests in flight at most; more are refused (503) until one ends. */
  maxInFlight: number;
  /** Bytes of answers kept for reuse at most (least recently used dropped first). */
  cacheBytes: number;
  /** An answer is kept at most this long, whatever its max-age. */
  cacheMaxAgeMs: number;
  now?: () => number;
}

/** OriginProxyError says why no origin answer could be had (the caller answers 503). */
export class OriginProxyError extends Error {
  constructor(readonly reason: 'busy' | 'timeout' | 'unreachable' | 'too_large', message: string) {
    super(message);
  }
}

interface CacheEntry {
  answer: OriginAnswer;
  expiresAt: number;
}

export interface OriginProxyStats {
  /** Requests sent to origins. */
  originRequests: number;
  /** Viewer requests answered from the cache. */
  cacheHits: number;
  /** Viewer requests that joined an origin request already in flight. */
  coalesced: number;
  inFlight: number;
  cacheBytes: number;
}

/** cacheLifetimeMs is how long an answer may be reused: only unique URLs (immutable, or a blocking reload), for their max-age. */
export function cacheLifetimeMs(status: number, cacheControl: string | undefined, blocking: boolean): number {
  if (status !== 200 || !cacheControl || !/\bpublic\b/.test(cacheControl)) return 0;
  if (!blocking && !/\bimmutable\b/.test(cacheControl)) return 0;
  const m = /\bmax-age=(\d+)/.exec(cacheControl);
  return m ? Number(m[1]) * 1000 : 0;
}

/** HlsOriginProxy fetches LL-HLS answers from origin nodes, coalesced and briefly cached. */
export class HlsOriginProxy {
  private readonly inFlight = new Map<string, Promise<OriginAnswer>>();
  /** Insertion order is recency order (an entry read is moved to the end). */
  private readonly cache = new Map<string, CacheEntry>();
  private cachedBytes = 0;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_ORIGIN });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_ORIGIN });
  private readonly now: () => number;
  private readonly counts = { originRequests: 0, cacheHits: 0, coalesced: 0 };

  constructor(private readonly o: OriginProxyOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * get answers `pathAndQuery` (e.g. /live/cam/source/playlist.m3u8?_HLS_msn=5&_HLS_part=2)
   * from the origin at `originUrl`; rejects with OriginProxyError when it cannot.
   */
  get(originUrl: string, pathAndQuery: string): Promise<OriginAnswer> {
    const key = originUrl + pathAndQuery;
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.expiresAt > this.now()) {
        this.cache.delete(key);
        this.cache.set(key, hit);
        this.counts.cacheHits++;
        return Promise.resolve(hit.answer);
      }
      this.drop(key, hit);
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.counts.coalesced++;
      return pending;
    }
    if (this.inFlight.size >= this.o.maxInFlight) {
      return Promise.reject(new OriginProxyError('busy', `too many origin requests in flight (${this.o.maxInFlight})`));
    }
    const blocking = /[?&]_HLS_msn=/.test(pathAndQuery);
    const p = this.fetch(originUrl, pathAndQuery).then((answer) => {
      this.keep(key, answer, cacheLifetimeMs(answer.status, answer.headers['cache-control'], blocking));
      return answer;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  stats(): OriginProxyStats {
    return { ...this.counts, inFlight: this.inFlight.size, cacheBytes: this.cachedBytes };
  }

  /** close drops the cache and the idle origin sockets. */
  close(): void {
    this.cache.clear();
    this.cachedBytes = 0;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private keep(key: string, answer: OriginAnswer, lifetimeMs: number): void {
    const size = answer.body.length;
    if (lifetimeMs <= 0 || size > this.o.cacheBytes) return;
    const old = this.cache.get(key);
    if (old) this.drop(key, old);
    while (this.cachedBytes + size > this.o.cacheBytes) {
      const oldest = this.cache.entries().next();
      if (oldest.done) break;
      this.drop(oldest.value[0], oldest.value[1]);
    }
    this.cache.set(key, { answer, expiresAt: this.now() + Math.min(lifetimeMs, this.o.cacheMaxAgeMs) });
    this.cachedBytes += size;
  }

  private drop(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.cachedBytes -= entry.answer.body.length;
  }

  private fetch(originUrl: string, pathAndQuery: string): Promise<OriginAnswer> {
    this.counts.originRequests++;
    const url = new URL(pathAndQuery, originUrl);
    const https = url.protocol === 'https:';
    const headers: Record<string, string> = { accept: '*/*' };
    if (this.o.secret) headers[CLUSTER_SECRET_HEADER] = this.o.secret;
    return new Promise<OriginAnswer>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(url, { method: 'GET', headers, agent: https ? this.httpsAgent : this.httpAgent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            clearTimeout(timer);
            req.destroy();
            reject(new OriginProxyError('too_large', `origin ${url.origin}: answer larger than ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (err) => reject(new OriginProxyError('unreachable', `origin ${url.origin}: ${err.message}`)));
        res.on('end', () => {
          clearTimeout(timer);
          const out: Record<string, string> = {};
          for (const h of PASSED_HEADERS) {
            const v = res.headers[h];
            if (typeof v === 'string') out[h] = v;
          }
          resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
        });
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new OriginProxyError('timeout', `origin ${url.origin} did not answer within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      timer.unref();
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(new OriginProxyError('unreachable', `origin ${url.origin}: ${err.message}`));
      });
      req.end();
    });
  }
}
