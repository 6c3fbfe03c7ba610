import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { INVITE_NOTE_MAX_LENGTH } from '../../platform/index.js';
import { notFound } from '../errors.js';

/** INVITE_TTL_MAX_HOURS bounds a code's lifetime: an invite is for someone expected soon. */
const INVITE_TTL_MAX_HOURS = 24 * 365;

/** inviteRoutes: admins create, list and delete invite codes (auth.registration.mode invite). */
export function inviteRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { platform, auth } = ctx;
  const defaultTtlHours = ctx.config.auth.registration.inviteTtlHours;

  app.post('/api/v1/invites', {
    schema: { body: { type: 'object', additionalProperties: false, properties: { ttlHours: { type: 'number', minimum: 1, maximum: INVITE_TTL_MAX_HOURS }, note: { type: 'string', maxLength: INVITE_NOTE_MAX_LENGTH } } } },
  }, async (req, reply) => {
    const p = await auth.admin(req);
    const b = (req.body ?? {}) as { ttlHours?: number; note?: string };
    const { invite, code } = await platform.invites.create({ ttlMs: (b.ttlHours ?? defaultTtlHours) * 3_600_000, createdBy: p.kind === 'user' ? p.user.id : null, note: b.note ?? null });
    // The code is shown here only; the server keeps its hash.
    return reply.status(201).send({ invite, code });
  });

  app.get('/api/v1/invites', async (req) => {
    await auth.admin(req);
    return { invites: await platform.invites.list() };
  });

  app.delete('/api/v1/invites/:id', { schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } } }, async (req, reply) => {
    await auth.admin(req);
    if (!(await platform.invites.remove((req.params as { id: string }).id))) throw notFound('no such invite');
    return reply.status(204).send();
  });
}
