import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { sql } from 'kysely';
import type { Db } from '../../platform/index.js';
import { safeEqual } from '../../platform/ids.js';
import { unauthorized } from '../errors.js';
import type { Health } from '../../api/schemas.js';

const startedAt = Date.now();

/** healthRoutes: liveness with a database round trip, and Prometheus metrics (behind metricsToken when set). */
export function healthRoutes(app: FastifyInstance, deps: { db: Db; registry: Registry; roles: string[]; metricsToken?: string }): void {
  app.get('/healthz', async (_req, reply) => {
    let db = 'ok';
    try {
      await sql`select 1`.execute(deps.db.kysely);
    } catch (err) {
      db = `error: ${(err as Error).message}`;
    }
    const ok = db === 'ok';
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', db, roles: deps.roles, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) } satisfies Health);
  });
  app.get('/metrics', async (req, reply) => {
    if (deps.metricsToken !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      const presented = m?.[1];
      if (presented === undefined || !safeEqual(presented, deps.metricsToken)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw unauthorized('/metrics needs Authorization: Bearer <metrics.token>');
      }
    }
    reply.header('content-type', deps.registry.contentType);
    return deps.registry.metrics();
  });
}
