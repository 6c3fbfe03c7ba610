import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { clearedSessionCookie, sessionCookie } from '../auth.js';
import { chatRevocationCutoff, toPublicUser, USERNAME_PATTERN } from '../../platform/index.js';
import { AppError, badRequest, unauthorized } from '../errors.js';
import { LoginThrottle } from '../login-throttle.js';
import { BoundedQueue, QueueFullError } from '../bounded-queue.js';
import { RegistrationLimit } from '../registration-limit.js';
import { inviteRoutes } from './invites.js';
import { AuthSessionSchema, MeSchema, type Me, type PasswordChanged, type RegistrationModeAnswer } from '../../api/schemas.js';

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

const passwordChange = {
  type: 'object',
  required: ['currentPassword', 'newPassword'],
  additionalProperties: false,
  properties: {
    currentPassword: { type: 'string', minLength: 1, maxLength: 1024 },
    newPassword: { type: 'string', minLength: 1, maxLength: 1024 },
  },
} as const;

/** registerBody: the credentials plus an invite code (auth.registration.mode invite). */
const registerBody = {
  ...credentials,
  properties: { ...credentials.properties, invite: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

/** authRoutes: register, login (cookie + bearer), logout, log out everywhere, password change, me. */
export function authRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { platform, auth } = ctx;
  const limits = ctx.config.auth;
  const throttle = new LoginThrottle({
    freeFailuresPerUsername: limits.login.freeFailuresPerUsername,
    freeFailuresPerIp: limits.login.freeFailuresPerIp,
    backoffBaseMs: limits.login.backoffBaseSeconds * 1000,
    backoffMaxMs: limits.login.backoffMaxSeconds * 1000,
    forgetAfterMs: limits.login.forgetAfterSeconds * 1000,
    maxTrackedEntries: limits.login.maxTrackedEntries,
  });
  const hashing = new BoundedQueue(limits.passwordHashing.concurrency, limits.passwordHashing.maxQueued);
  /** hashed runs a password hash or check in the hashing queue; a full queue is a fast 503. */
  const hashed = async <T>(task: () => Promise<T>): Promise<T> => {
    try {
      return await hashing.run(task);
    } catch (err) {
      if (err instanceof QueueFullError) throw new AppError('login_busy', 'too many logins are being checked right now; retry in a second', { retryAfterSeconds: 1 });
      throw err;
    }
  };
  const throttled = (waitMs: number) =>
    new AppError('login_throttled', `too many failed logins; retry in ${Math.ceil(waitMs / 1000)} s`, { retryAfterSeconds: Math.ceil(waitMs / 1000) });

  const registration = limits.registration;
  inviteRoutes(app, ctx);
  // The sign-up form asks which fields to show (an invite code) or whether to offer sign-up at all.
  app.get('/api/v1/auth/registration', async () => ({ mode: registration.mode }) satisfies RegistrationModeAnswer);
  const registrations = new RegistrationLimit(registration.perAddress, registration.windowSeconds * 1000);
  app.post('/api/v1/auth/register', { schema: { body: registerBody } }, async (req, reply) => {
    const { invite, ...b } = req.body as { username: string; password: string; displayName?: string; invite?: string };
    if (registration.mode === 'closed') throw new AppError('registration_closed', 'this server does not accept new accounts; ask its admin');
    const wait = registrations.retryAfterMs(req.clientIp);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new AppError('registration_throttled', `too many accounts from this address; retry in ${seconds} s`, { retryAfterSeconds: seconds });
    }
    // invite: the code is taken before the account is made, so two sign-ups cannot share it.
    let inviteId: string | null = null;
    if (registration.mode === 'invite') {
      inviteId = invite ? await platform.invites.claim(invite) : null;
      if (!inviteId) throw new AppError('invite_required', 'registration needs a valid invite code (unused and not expired)');
    }
    let user;
    try {
      user = await hashed(() => platform.users.create(b));
    } catch (err) {
      if (inviteId) await platform.invites.release(inviteId);
      throw err;
    }
    if (inviteId) await platform.invites.usedBy(inviteId, user.id);
    registrations.counted(req.clientIp);
    const s = await platform.sessions.create(user.id);
    reply.header('set-cookie', sessionCookie(req, s.token, s.expiresAt));
    return reply.status(201).send(AuthSessionSchema.parse({ user, token: s.token, expiresAt: s.expiresAt }));
  });

  app.post('/api/v1/auth/login', { schema: { body: { ...credentials, properties: { username: { type: 'string', maxLength: 64 }, password: credentials.properties.password } } } }, async (req, reply) => {
    const b = req.body as { username: string; password: string };
    const ip = req.clientIp;
    const wait = throttle.retryAfterMs(ip, b.username);
    if (wait > 0) throw throttled(wait);
    const user = await hashed(() => platform.users.verifyPassword(b.username, b.password));
    if (!user) {
      throttle.failed(ip, b.username);
      throw unauthorized('wrong username or password');
    }
    throttle.succeeded(b.username);
    const s = await platform.sessions.create(user.id);
    reply.header('set-cookie', sessionCookie(req, s.token, s.expiresAt));
    return AuthSessionSchema.parse({ token: s.token, expiresAt: s.expiresAt, user: toPublicUser(user) });
  });

  app.post('/api/v1/auth/logout', async (req, reply) => {
    const p = await auth.required(req);
    if (p.kind === 'user') await platform.sessions.revoke(p.token);
    reply.header('set-cookie', clearedSessionCookie(req));
    return reply.status(204).send();
  });

  /** endSessions ends the user's sessions (all, or all but the one kept) and revokes their chat tokens. */
  const endSessions = async (userId: string, keepToken?: string): Promise<number> => {
    const ended = await platform.sessions.revokeAllOf(userId, keepToken);
    // Kept in the database too, so a chat node that restarts still refuses the revoked tokens.
    await platform.chatRevocations.record(userId, chatRevocationCutoff(Date.now()));
    await ctx.revokeChatTokens?.(userId);
    return ended;
  };

  app.post('/api/v1/auth/password', { schema: { body: passwordChange } }, async (req) => {
    const p = await auth.required(req);
    if (p.kind !== 'user') throw badRequest('the admin token has no password; change a user account\'s password while logged in as that user');
    const b = req.body as { currentPassword: string; newPassword: string };
    const ip = req.clientIp;
    const name = p.user.username;
    // The current password is a login in disguise: the same throttle and hashing queue.
    const wait = throttle.retryAfterMs(ip, name);
    if (wait > 0) throw throttled(wait);
    if (!(await hashed(() => platform.users.checkPassword(p.user, b.currentPassword)))) {
      throttle.failed(ip, name);
      throw new AppError('wrong_password', 'the current password is wrong');
    }
    throttle.succeeded(name);
    await hashed(() => platform.users.setPassword(p.user.id, b.newPassword));
    // Whoever else knew the old password is logged out; this browser stays in.
    const endedSessions = await endSessions(p.user.id, p.token);
    return { endedSessions } satisfies PasswordChanged;
  });

  app.post('/api/v1/auth/logout-all', async (req, reply) => {
    const p = await auth.required(req);
    if (p.kind !== 'user') throw badRequest('the admin token has no sessions; use it with a user account\'s session instead');
    await endSessions(p.user.id);
    reply.header('set-cookie', clearedSessionCookie(req));
    return reply.status(204).send();
  });

  app.get('/api/v1/me', async (req): Promise<Me> => {
    const p = await auth.required(req);
    if (p.kind === 'admin-token') return { admin: true, user: null, roles: {} };
    return MeSchema.parse({ user: toPublicUser(p.user), admin: p.user.is_admin === 1, roles: await platform.channels.rolesByChannel(p.user.id) });
  });
}
