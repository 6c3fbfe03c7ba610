/**
 * ProxyHttp POSTs proxy request bodies to the backend with Node's global fetch (undici,
 * keep-alive pool per origin): one timeout per call, a bound on calls in flight per kind,
 * a cap on the response size, and a metric for every call.
 */
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

  private async post(ep: ProxyEndpoint, body: string, forwarded: Record<string, string> | undefined): Promise<unknown> {
    const headers: Record<string, string> = { ...this.staticHeaders };
    if (forwarded) Object.assign(headers, forwarded);
    headers['content-type'] = 'application/json';
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), ep.timeoutMs);
    try {
      let res: Response;
      try {
        res = await fetch(ep.url, { method: 'POST', headers, body, signal: ac.signal });
      } catch (e) {
        if (ac.signal.aborted) throw new ProxyCallError('timeout', `no answer within ${ep.timeoutMs} ms`);
        throw new ProxyCallError('unreachable', causeMessage(e));
      }
      if (res.status !== HTTP_OK) {
        await res.body?.cancel().catch(() => undefined);
        throw new ProxyCallError('http_status', `backend answered HTTP ${res.status}`);
      }
      const text = await this.readLimited(res, ac);
      try {
        return JSON.parse(text);
      } catch {
        throw new ProxyCallError('bad_response', 'backend answered invalid JSON');
      }
    } catch (e) {
      if (e instanceof ProxyCallError) throw e;
      if (ac.signal.aborted) throw new ProxyCallError('timeout', `no answer within ${ep.timeoutMs} ms`);
      throw new ProxyCallError('unreachable', causeMessage(e));
    } finally {
      clearTimeout(timer);
    }
  }

  /** readLimited reads the body as UTF-8, failing as soon as it passes maxResponseBytes. */
  private async readLimited(res: Response, ac: AbortController): Promise<string> {
    const max = this.opts.maxResponseBytes;
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > max) {
      await res.body?.cancel().catch(() => undefined);
      throw new ProxyCallError('too_large', `response of ${declared} bytes (limit ${max})`);
    }
    if (!res.body) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        ac.abort();
        await reader.cancel().catch(() => undefined);
        throw new ProxyCallError('too_large', `response over ${max} bytes`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

function causeMessage(e: unknown): string {
  const err = e as { message?: string; cause?: { message?: string; code?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
