/**
 * ProxyHttp POSTs proxy request bodies to the backend over kept-alive node:http(s)
 * connections: one timeout per call, a bound on calls in flight per kind, a cap on the
 * response size, and a metric for every call.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../observability/logger.js';
import type { ProxyKind } from './protocol.js';
import type { ProxyFailure, ProxyMetrics, ProxyOutcome } from './metrics.js';

/** HTTP_OK is the only status whose body is read as a proxy response. */
const HTTP_OK = 200;
/** FAILURE_LOG_INTERVAL_MS spaces out warnings about a failing backend (one per kind per interval). */
const FAILURE_LOG_INTERVAL_MS = 5000;

/** ProxyEndpoint is where one kind of event goes. */
export interface ProxyEndpoint {
  url: string;
  timeoutMs: number;
}

/** ProxyCallError is a call that produced no usable answer; clients get error 100 for it. */
export class ProxyCallError extends Error {
  constructor(readonly reason: ProxyFailure, message: string) {
    super(message);
  }
}

export interface ProxyHttpOptions {
  staticHeaders: Record<string, string>;
  maxResponseBytes: number;
  maxInFlight: number;
  metrics: ProxyMetrics;
  logger: Logger;
}

/** ProxyHttp performs proxy calls; one per chat node. */
export class ProxyHttp {
  private readonly inFlight = new Map<ProxyKind, number>();
  private readonly lastWarn = new Map<ProxyKind, number>();
  private readonly staticHeaders: Record<string, string>;
  /** One keep-alive pool per protocol; per-origin reuse is the agent's. */
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true });

  constructor(private readonly opts: ProxyHttpOptions) {
    this.staticHeaders = {};
    for (const [k, v] of Object.entries(opts.staticHeaders)) this.staticHeaders[k.toLowerCase()] = v;
  }

  /** inFlightOf is the number of calls of a kind waiting for the backend. */
  inFlightOf(kind: ProxyKind): number {
    return this.inFlight.get(kind) ?? 0;
  }

  /**
   * call POSTs `body` and returns the parsed JSON response, or throws ProxyCallError. Forwarded
   * client headers win over static ones of the same name; Content-Type is always JSON. `decode`
   * turns the JSON into the caller's reply and reports its outcome for the metric (its
   * exceptions count as bad_response and reach the caller as ProxyCallError).
   */
  async call<R>(
    kind: ProxyKind,
    ep: ProxyEndpoint,
    body: string,
    forwarded: Record<string, string> | undefined,
    decode: (json: unknown) => { value: R; outcome: ProxyOutcome },
  ): Promise<R> {
    const start = performance.now();
    const n = this.inFlightOf(kind);
    if (n >= this.opts.maxInFlight) {
      this.fail(kind, start, new ProxyCallError('overloaded', `${this.opts.maxInFlight} ${kind} proxy calls in flight`));
    }
    this.inFlight.set(kind, n + 1);
    try {
      const json = await this.post(ep, body, forwarded);
      let decoded: { value: R; outcome: ProxyOutcome };
      try {
        decoded = decode(json);
      } catch (e) {
        throw new ProxyCallError('bad_response', (e as Error).message);
      }
      this.opts.metrics.observe(kind, decoded.outcome, (performance.now() - start) / 1000);
      return decoded.value;
    } catch (e) {
      if (e instanceof ProxyCallError) this.fail(kind, start, e);
      throw e;
    } finally {
      this.inFlight.set(kind, this.inFlightOf(kind) - 1);
    }
  }

  private fail(kind: ProxyKind, start: number, e: ProxyCallError): never {
    this.opts.metrics.observe(kind, e.reason, (performance.now() - start) / 1000);
    const now = Date.now();
    if (now - (this.lastWarn.get(kind) ?? 0) >= FAILURE_LOG_INTERVAL_MS) {
      this.lastWarn.set(kind, now);
      this.opts.logger.warn({ kind, reason: e.reason, err: e.message }, 'chat: proxy call failed, clients get error 100');
    }
    throw e;
  }

  /**
   * post sends one request on the kept-alive pool of its origin. node:http with a keep-alive
   * agent rather than global fetch: a loopback call costs ~0.15 ms instead of ~0.5–1 ms here.
   */
  private post(ep: ProxyEndpoint, body: string, forwarded: Record<string, string> | undefined): Promise<unknown> {
    const headers: Record<string, string> = { ...this.staticHeaders };
    if (forwarded) Object.assign(headers, forwarded);
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
    const url = new URL(ep.url);
    const https = url.protocol === 'https:';
    const max = this.opts.maxResponseBytes;
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let req: ClientRequest | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: ProxyCallError | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          req?.destroy();
          reject(err);
        } else resolve(value);
      };
      let responded = false;
      const onResponse = (res: IncomingMessage): void => {
        responded = true;
        if (res.statusCode !== HTTP_OK) {
          res.resume();
          finish(new ProxyCallError('http_status', `backend answered HTTP ${res.statusCode}`));
          return;
        }
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (declared > max) {
          finish(new ProxyCallError('too_large', `response of ${declared} bytes (limit ${max})`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) finish(new ProxyCallError('too_large', `response over ${max} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            finish(new ProxyCallError('bad_response', 'backend answered invalid JSON'));
            return;
          }
          finish(null, json);
        });
        res.on('error', (e) => finish(new ProxyCallError('unreachable', causeMessage(e))));
      };
      const send = (retry: boolean): void => {
        try {
          req = (https ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: https ? this.httpsAgent : this.httpAgent }, onResponse);
        } catch (e) {
          // e.g. a header value node:http refuses
          finish(new ProxyCallError('unreachable', causeMessage(e)));
          return;
        }
        const r = req;
        r.on('error', (e: NodeJS.ErrnoException) => {
          // A kept-alive socket the backend closed as we reused it: send once more on a fresh one.
          // Only before any answer: the backend cannot have handled it.
          if (retry && r.reusedSocket && e.code === 'ECONNRESET' && !responded && !settled) send(false);
          else finish(new ProxyCallError('unreachable', causeMessage(e)));
        });
        r.end(body);
      };
      timer = setTimeout(() => finish(new ProxyCallError('timeout', `no answer within ${ep.timeoutMs} ms`)), ep.timeoutMs);
      send(true);
    });
  }

  /** close drops the kept-alive sockets (the chat service stops). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function causeMessage(e: unknown): string {
  const err = e as { message?: string; code?: string };
  return err.code ?? err.message ?? String(e);
}
