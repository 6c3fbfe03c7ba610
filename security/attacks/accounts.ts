/** Attacks on accounts: login and registration floods, channel creation, a cross-site cookie write. */
import { randomBytes } from 'node:crypto';
import type { Attack, AttackContext } from '../lib/context.js';
import { http, type HttpResult } from '../lib/net.js';

const PARALLEL = 20;

/** flood sends up to `count` requests, PARALLEL at a time, until the time bound; returns the status counts. */
async function flood(ctx: AttackContext, count: number, send: (i: number) => Promise<HttpResult>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < count && ctx.msLeft() > 0) {
      const r = await send(next++);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return statuses;
}

const describe = (s: Map<number, number>) => [...s.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`).join(' ');
const json = (ctx: AttackContext) => ({ 'content-type': 'application/json', ...ctx.attackerHeaders() });

export const loginFlood: Attack = {
  name: 'login-flood',
  what: 'parallel wrong passwords for one account from one address; expect 429 login_throttled or 503 login_busy',
  async run(ctx) {
    const s = await flood(ctx, ctx.opts.count, (i) => http(`${ctx.base}/api/v1/auth/login`, {
      method: 'POST', headers: json(ctx), body: JSON.stringify({ username: ctx.accounts.attacker.username, password: `wrong-${i}` }),
    }));
    return { refused: (s.get(429) ?? 0) + (s.get(503) ?? 0) > 0, detail: describe(s) };
  },
};

export const registrationFlood: Attack = {
  name: 'registration-flood',
  what: 'new accounts from one address as fast as it answers; expect refusals (throttle or closed registration)',
  async run(ctx) {
    const s = await flood(ctx, Math.min(ctx.opts.count, 100), () => http(`${ctx.base}/api/v1/auth/register`, {
      method: 'POST', headers: json(ctx), body: JSON.stringify({ username: `hostile-reg-${randomBytes(5).toString('hex')}`, password: `pw-${randomBytes(8).toString('hex')}` }),
    }));
    // 503 login_busy is the password-hashing queue overflowing, not a limit on who may register.
    const refused = [...s.keys()].some((k) => k === 403 || k === 429);
    return { refused, detail: describe(s) };
  },
};

export const channelFlood: Attack = {
  name: 'channel-flood',
  what: 'one account creates channel after channel; expect a per-user channel limit',
  async run(ctx) {
    const s = await flood(ctx, Math.min(ctx.opts.count, 60), () => http(`${ctx.base}/api/v1/channels`, {
      method: 'POST', headers: { ...json(ctx), authorization: `Bearer ${ctx.accounts.attacker.token}` }, body: JSON.stringify({ name: `hc${randomBytes(5).toString('hex')}` }),
    }));
    const refused = [...s.keys()].some((k) => k === 403 || k === 409 || k === 429);
    return { refused, detail: describe(s) };
  },
};

export const csrfCookieWrite: Attack = {
  name: 'csrf-cookie-write',
  what: 'a bodyless cross-site and a same-site (sibling origin) POST with the session cookie (stream-key rotation); expect 403 cross_site_request',
  async run(ctx) {
    const a = ctx.accounts.attacker;
    const login = await http(`${ctx.base}/api/v1/auth/login`, { method: 'POST', headers: json(ctx), body: JSON.stringify({ username: a.username, password: a.password }) });
    const cookie = /onair_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0];
    if (!cookie) return { skipped: `login gave no session cookie (status ${login.status})` };
    const url = `${ctx.base}/api/v1/channels/${a.channel}/stream-key/rotate`;
    const crossSite = await http(url, { method: 'POST', headers: { ...ctx.attackerHeaders(), cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    const sameSite = await http(url, { method: 'POST', headers: { ...ctx.attackerHeaders(), cookie, origin: `https://evil.${ctx.opts.target.hostname}`, 'sec-fetch-site': 'same-site' } });
    const noFetchMeta = await http(url, { method: 'POST', headers: { ...ctx.attackerHeaders(), cookie, origin: 'https://evil.example' } });
    const statuses = [crossSite.status, sameSite.status, noFetchMeta.status];
    return { refused: statuses.every((s) => s === 403), detail: `cross-site ${crossSite.status}, same-site ${sameSite.status}, Origin only ${noFetchMeta.status}` };
  },
};
