import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/** createRegistry makes the process's Prometheus registry with process and Node runtime metrics. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'onair_' });
  return registry;
}

/**
 * metricOnce returns the metric of that name already in the registry, or makes (and registers)
 * it: services that start more than once on one registry (tests, restarts) share their metrics.
 */
export function metricOnce<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}
