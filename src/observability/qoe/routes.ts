/**
 * QoE routes:
 *   POST /api/v1/qoe        one beacon or {beacons: [...]}; anonymous; same-site browsers only;
 *                           202 {accepted}; rate-limited per client address
 *   GET  /api/v1/admin/qoe  this node's variant × protocol comparison (admins)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { crossSiteSender } from '../../http/auth.js';
import { AppError, badRequest } from '../../http/errors.js';
import { TokenBucket } from '../../http/token-bucket.js';
import type { ApiContext } from '../../http/routes/context.js';
import { addressKey } from '../../http/login-throttle.js';
import { parseBeacons, VARIANT_RE } from './beacon.js';
import type { QoeMetrics } from './metrics.js';
import { QoeAdminSchema, type QoeAdmin } from '../../api/schemas.js';

/** A beacon request is small: 20 beacons of about 200 bytes. */
export const QOE_BODY_LIMIT_BYTES = 8 * 1024;
export const VARIANT_HEADER = 'x-onair-variant';

export interface QoeRoutesOptions {
  /** This node's own variant label (config `variant`, ONAIR_VARIANT), for beacons that name none. */
  nodeVariant?: string;
  /** Beacon requests per client address: a burst, refilled per minute. */
  burst: number;
  perMinute: number;
  /** Whether X-Onair-Variant on the request may be believed (it comes from a trusted proxy). */
  trustVariantHeader: (req: FastifyRequest) => boolean;
}


/** variantOf picks the label a request's beacons count under: a trusted proxy's, the beacon's, the node's. */
function variantOf(req: FastifyRequest, own: string | undefined, opts: QoeRoutesOptions): string | undefined {
  const stamped = req.headers[VARIANT_HEADER];
  if (typeof stamped === 'string' && VARIANT_RE.test(stamped) && opts.trustVariantHeader(req)) return stamped;
  return own ?? opts.nodeVariant;
}

export function qoeRoutes(app: FastifyInstance, ctx: ApiContext, metrics: QoeMetrics, opts: QoeRoutesOptions): void {
  const limiter = new TokenBucket(opts.burst, opts.perMinute / 60);

  app.post('/api/v1/qoe', { bodyLimit: QOE_BODY_LIMIT_BYTES }, async (req, reply) => {
    const from = crossSiteSender(req);
    if (from !== null) throw new AppError('cross_origin_beacon', `QoE beacons come from this site's player; refused one from ${from}`);
    if (!limiter.take(addressKey(req.clientIp))) throw new AppError('too_many_requests', `at most ${opts.perMinute} beacon requests per minute from one address`);
    const parsed = parseBeacons(req.body);
    if (!parsed.ok) throw badRequest(parsed.reason);
    for (const b of parsed.beacons) metrics.record(b, variantOf(req, b.variant, opts));
    return reply.status(202).send({ accepted: parsed.beacons.length });
  });

  app.get('/api/v1/admin/qoe', async (req): Promise<QoeAdmin> => {
    await ctx.auth.admin(req);
    return QoeAdminSchema.parse({ node: opts.nodeVariant ?? null, variants: metrics.summary() });
  });
}
