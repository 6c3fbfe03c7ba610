import type { FastifyRequest } from 'fastify';
import type { Platform } from '../platform/index.js';
import type { UsersTable } from '../platform/db/schema.js';
import { safeEqual } from '../platform/ids.js';
import { AppError, unauthorized, forbidden } from './errors.js';

export const SESSION_COOKIE = 'onair_session';

/** SAFE_METHODS read only, so a cross-site request with the cookie cannot change anything. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Sec-Fetch-Site values a cookie-authenticated write may carry: our own page, or the user typing the address. */
const ALLOWED_FETCH_SITES = new Set(['same-origin', 'none']);

/**
 * sessionCookie is the Set-Cookie value for a session; `Secure` when the request came over HTTPS
 * (request.protocol honours X-Forwarded-Proto from http.trustProxy addresses).
 */
export function sessionCookie(req: FastifyRequest, token: string, expiresAt: number): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax${req.protocol === 'https' ? '; Secure' : ''}; Expires=${new Date(expiresAt).toUTCString()}`;
}

/** clearedSessionCookie is the Set-Cookie value that removes the session cookie (logout). */
export function clearedSessionCookie(req: FastifyRequest): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax${req.protocol === 'https' ? '; Secure' : ''}; Max-Age=0`;
}

/**
 * assertSameOrigin refuses a cookie-authenticated write another site made the browser send:
 * Sec-Fetch-Site must be same-origin (browsers set it and pages cannot forge it); without it,
 * Origin must name this host. A request with neither is not from a browser, so not a CSRF.
 */
export function assertSameOrigin(req: FastifyRequest): void {
  if (SAFE_METHODS.has(req.method)) return;
  const from = crossSiteSender(req);
  if (from !== null) throw new AppError('cross_site_request', `refused a ${req.method} from ${from} authenticated by the session cookie; send it from this site or with Authorization: Bearer`);
}

/**
 * crossSiteSender names where a browser request came from when that is another site (by
 * Sec-Fetch-Site, else Origin), or null for this site and for requests no browser made.
 */
export function crossSiteSender(req: FastifyRequest): string | null {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return ALLOWED_FETCH_SITES.has(site) ? null : `a ${site} page`;
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let originHost: string | undefined;
  try {
    originHost = origin === 'null' ? undefined : new URL(origin).host;
  } catch {
    originHost = undefined;
  }
  return originHost !== undefined && originHost.toLowerCase() === req.host.toLowerCase() ? null : `origin ${origin}`;
}

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

/** credentialOf finds the token: the Authorization header wins over the session cookie. */
function credentialOf(req: FastifyRequest): { token: string; via: 'header' | 'cookie' } | undefined {
  const h = req.headers.authorization;
  if (h && /^Bearer\s+/i.test(h)) return { token: h.replace(/^Bearer\s+/i, '').trim(), via: 'header' };
  const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
  return cookie ? { token: cookie, via: 'cookie' } : undefined;
}

/** Authenticator resolves request credentials to a principal. */
export class Authenticator {
  constructor(private readonly platform: Platform, private readonly adminToken: string) {}

  async optional(req: FastifyRequest): Promise<Principal | undefined> {
    const cred = credentialOf(req);
    if (!cred) return undefined;
    // The browser attaches the cookie to any site's request; a bearer header only our code sets.
    if (cred.via === 'cookie') assertSameOrigin(req);
    const token = cred.token;
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
