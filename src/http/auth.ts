import type { FastifyRequest } from 'fastify';
import type { Platform } from '../platform/index.js';
import type { UsersTable } from '../platform/db/schema.js';
import { safeEqual } from '../platform/ids.js';
import { unauthorized, forbidden } from './errors.js';

export const SESSION_COOKIE = 'onair_session';

/** Principal is who made a request: a user (by session) or the operator (admin token). */
export type Principal = { kind: 'user'; user: UsersTable; token: string } | { kind: 'admin-token' };

/** readCookie extracts one cookie value without pulling in a cookie library for a single name. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function bearerOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h && /^Bearer\s+/i.test(h)) return h.replace(/^Bearer\s+/i, '').trim();
  return readCookie(req.headers.cookie, SESSION_COOKIE);
}

/** Authenticator resolves request credentials to a principal. */
export class Authenticator {
  constructor(private readonly platform: Platform, private readonly adminToken: string) {}

  async optional(req: FastifyRequest): Promise<Principal | undefined> {
    const token = bearerOf(req);
    if (!token) return undefined;
    if (safeEqual(token, this.adminToken)) return { kind: 'admin-token' };
    const user = await this.platform.sessions.resolve(token);
    if (!user) throw unauthorized('the session token is unknown or expired; log in again');
    return { kind: 'user', user, token };
  }

  async required(req: FastifyRequest): Promise<Principal> {
    const p = await this.optional(req);
    if (!p) throw unauthorized('log in first (Authorization: Bearer TOKEN or the session cookie)');
    return p;
  }

  /** user requires a logged-in user account (the admin token is not a user). */
  async user(req: FastifyRequest): Promise<UsersTable> {
    const p = await this.required(req);
    if (p.kind !== 'user') throw forbidden('this action needs a user account, not the admin token');
    return p.user;
  }

  async admin(req: FastifyRequest): Promise<Principal> {
    const p = await this.required(req);
    if (p.kind === 'admin-token' || p.user.is_admin === 1) return p;
    throw forbidden('admins only');
  }
}

/** actorOf presents a principal as the user-shaped actor permission checks take. */
export function actorOf(p: Principal): { id: string; is_admin: number } {
  return p.kind === 'admin-token' ? { id: '', is_admin: 1 } : p.user;
}
