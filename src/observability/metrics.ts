import { Registry, collectDefaultMetrics } from 'prom-client';

/** createRegistry makes the process's Prometheus registry with process and Node runtime metrics. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'onair_' });
  return registry;
}
