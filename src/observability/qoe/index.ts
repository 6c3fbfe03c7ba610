/**
 * qoeFeature: players' QoE beacons (POST /api/v1/qoe) as Prometheus metrics by variant and
 * protocol, and the admin page's side-by-side comparison (api role).
 */
import type { Feature } from '../../app/feature.js';
import { trustOf } from '../../http/client-address.js';
import { QoeMetrics } from './metrics.js';
import { qoeRoutes } from './routes.js';

export { parseBeacons, parseBeacon, type QoeBeacon } from './beacon.js';
export { QoeMetrics, type ArmSummary } from './metrics.js';
export { VARIANT_HEADER } from './routes.js';

export const qoeFeature: Feature<'qoe', {}, QoeMetrics> = {
  name: 'qoe',
  roles: ['api'],
  deps: {},
  create(base) {
    const cfg = base.config.qoe;
    if (!cfg.enabled) return undefined;
    const metrics = new QoeMetrics(base.registry, cfg.maxVariants);
    const trusted = trustOf(base.config.http.trustProxy);
    qoeRoutes(base.http, base.api, metrics, {
      nodeVariant: base.config.variant,
      burst: cfg.burst,
      perMinute: cfg.perMinutePerIp,
      trustVariantHeader: (req) => trusted(req.raw.socket.remoteAddress ?? ''),
    });
    return { api: metrics };
  },
};
