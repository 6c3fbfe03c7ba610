/**
 * Prometheus metrics of the chat proxies.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ProxyKind } from './protocol.js';

/**
 * ProxyOutcome labels how a proxy call ended: the backend's `result`, `error` or `disconnect`,
 * or a failure onair turns into error 100 (see ProxyFailure).
 */
export type ProxyOutcome = 'result' | 'error' | 'disconnect' | ProxyFailure;

/** ProxyFailure is why a call produced no usable answer. */
export type ProxyFailure = 'timeout' | 'unreachable' | 'http_status' | 'bad_response' | 'too_large' | 'overloaded';

/** ProxyMetrics is the narrow metrics surface the proxy writes to. */
export interface ProxyMetrics {
  /** observe records one call's duration (seconds) by kind and outcome; failures are also counted. */
  observe(kind: ProxyKind, outcome: ProxyOutcome, seconds: number): void;
}

/** createProxyMetrics registers onair_chat_proxy_*; safe to call twice on one registry. */
export function createProxyMetrics(registry: Registry): ProxyMetrics {
  const durationName = 'onair_chat_proxy_call_seconds';
  const errorsName = 'onair_chat_proxy_errors_total';
  const duration =
    (registry.getSingleMetric(durationName) as Histogram<'kind' | 'outcome'> | undefined) ??
    new Histogram({
      name: durationName,
      help: 'Proxy calls to the application backend: time from the call to its answer (or failure), by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  const errors =
    (registry.getSingleMetric(errorsName) as Counter<'kind' | 'reason'> | undefined) ??
    new Counter({
      name: errorsName,
      help: 'Proxy calls that produced no usable answer (clients got error 100), by kind and reason.',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    });
  return {
    observe(kind, outcome, seconds) {
      duration.observe({ kind, outcome }, seconds);
      if (outcome !== 'result' && outcome !== 'error' && outcome !== 'disconnect') errors.inc({ kind, reason: outcome });
    },
  };
}
