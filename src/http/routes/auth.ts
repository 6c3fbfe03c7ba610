import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { SESSION_COOKIE } from '../auth.js';
import { toPublicUser, USERNAME_PATTERN } from '../../platform/index.js';
import { unauthorized } from '../errors.js';
import { AuthSessionSchema, MeSchema, type Me } from '../../api/schemas.js';

const credentials = {
  type: 'object',
  required: ['username', 'password'],
  additionalProperties: false,
  properties: {
    username: { type: 'string', minLength: 2, maxLength: 32, pattern: USERNAME_PATTERN },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
    displayName: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

function sessionCookie(token: string, expiresAt: number): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax; Expires=${new Date(expiresAt).toUTCString()}`;
}

/** authRoutes: register, login (cookie + bearer), logout, me. */
export function authRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { platform, auth } = ctx;

  app.post('/api/v1/auth/register', { schema: { body: credentials } }, async (req, reply) => {
    const b = req.body as { username: string; password: string; displayName?: string };
    const user = await platform.users.create(b);
    const s = await platform.sessions.create(user.id);
    reply.header('set-cookie', sessionCookie(s.token, s.expiresAt));
    return reply.status(201).send(AuthSessionSchema.parse({ user, token: s.token, expiresAt: s.expiresAt }));
  });

  app.post('/api/v1/auth/login', { schema: { body: { ...credentials, properties: { username: { type: 'string', maxLength: 64 }, password: credentials.properties.password } } } }, async (req, reply) => {
    const b = req.body as { username: string; password: string };
    const user = await platform.users.verifyPassword(b.username, b.password);
    if (!user) throw unauthorized('wrong username or password');
    const s = await platform.sessions.create(user.id);
    reply.header('set-cookie', sessionCookie(s.token, s.expiresAt));
    return AuthSessionSchema.parse({ token: s.token, expiresAt: s.expiresAt, user: toPublicUser(user) });
  });

  app.post('/api/v1/auth/logout', async (req, reply) => {
    const p = await auth.required(req);
    if (p.kind === 'user') await platform.sessions.revoke(p.token);
    reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
    return reply.status(204).send();
  });

  app.get('/api/v1/me', async (req): Promise<Me> => {
    const p = await auth.required(req);
    if (p.kind === 'admin-token') return { admin: true, user: null, roles: {} };
    return MeSchema.parse({ user: toPublicUser(p.user), admin: p.user.is_admin === 1, roles: await platform.channels.rolesByChannel(p.user.id) });
  });
}
