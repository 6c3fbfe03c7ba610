import { Counter, type Registry } from 'prom-client';

/** SupportersMetrics are the Prometheus series of super chats and effects. */
export interface SupportersMetrics {
  superchats: Counter<'tier'>;
  superchatAmount: Counter;
  reactions: Counter<'effect'>;
  rateLimited: Counter;
  publications: Counter;
}

export function createSupportersMetrics(registry: Registry): SupportersMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    superchats: get('onair_superchats_total', () => new Counter({ name: 'onair_superchats_total', help: 'Super chats paid (replays not counted).', labelNames: ['tier'] as const, registers: [registry] })),
    superchatAmount: get('onair_superchat_amount_krw_total', () => new Counter({ name: 'onair_superchat_amount_krw_total', help: 'KRW paid in super chats.', registers: [registry] })),
    reactions: get('onair_effects_reactions_total', () => new Counter({ name: 'onair_effects_reactions_total', help: 'Emoji reactions accepted (after rate limiting).', labelNames: ['effect'] as const, registers: [registry] })),
    rateLimited: get('onair_effects_rate_limited_total', () => new Counter({ name: 'onair_effects_rate_limited_total', help: 'Emoji reactions refused by the per-user rate limit.', registers: [registry] })),
    publications: get('onair_effects_publications_total', () => new Counter({ name: 'onair_effects_publications_total', help: 'Aggregated effects publications sent (one per channel per window on this node).', registers: [registry] })),
  };
}
