/**
 * The studio's ways in: REST routes under /api/v1/channels/{name}/moderation
 * and chat RPCs `mod.*`. Both build the same Command values the chat
 * commands parse to and run them through ModerationEngine.execute, so the
 * permission checks, effects and audit are identical everywhere.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator } from '../../http/auth.js';
import { AppError, type ErrorCode } from '../../http/errors.js';
import type { ChatExtensionPoint, RpcHandler } from '../hooks.js';
import { ModerationError, type ModerationCodeName } from './codes.js';
import {
  DEFAULT_TIMEOUT_MS, isFilterAction, MAX_BAN_MS, MAX_FILTER_WORD, MAX_FOLLOW_MINUTES, MAX_SLOW_SECONDS, MAX_TIMEOUT_MS, type Command, type ModeName, type ModeSettings,
} from './commands.js';
import type { Actor, ModerationEngine } from './engine.js';
import { FILTER_ACTIONS, type FilterAction } from './filter.js';
import type { AuditLog, HeldList, ModerationOverview } from '../../api/schemas.js';

const bad = (m: string) => new ModerationError('badArguments', m);

function str(p: Record<string, unknown>, k: string, max = 64): string {
  const v = p[k];
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) throw bad(`${k}: a non-empty string of at most ${max} characters is required`);
  return v.trim();
}
function optStr(p: Record<string, unknown>, k: string, max = 300): string | undefined {
  const v = p[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw bad(`${k}: a string of at most ${max} characters`);
  return v.trim() || undefined;
}
function optInt(p: Record<string, unknown>, k: string, min: number, max: number): number | undefined {
  const v = p[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${k}: an integer between ${min} and ${max}`);
  return v;
}
function bool(p: Record<string, unknown>, k: string, dflt = true): boolean {
  const v = p[k];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw bad(`${k}: true or false`);
  return v;
}

/** MODE_FIELDS maps each settings field to its mode command. */
const MODE_FIELDS: Record<keyof ModeSettings, ModeName> = {
  slowSeconds: 'slow', subOnly: 'subonly', followOnlyMinutes: 'followonly', emoteOnly: 'emoteonly', uniqueChat: 'uniquechat', blockLinks: 'blocklinks', defaultFilter: 'defaultfilter',
};

/** modeCommand validates one settings field into a mode command. */
export function modeCommand(field: keyof ModeSettings, value: unknown): Command {
  const mode = MODE_FIELDS[field];
  if (!mode) throw bad(`unknown mode field "${field}"`);
  switch (field) {
    case 'slowSeconds':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_SLOW_SECONDS) throw bad(`slowSeconds: 0 (off) to ${MAX_SLOW_SECONDS}`);
      return { kind: 'mode', mode, patch: { slowSeconds: value } };
    case 'followOnlyMinutes':
      if (value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_FOLLOW_MINUTES)) throw bad(`followOnlyMinutes: null (off) or 0 to ${MAX_FOLLOW_MINUTES}`);
      return { kind: 'mode', mode, patch: { followOnlyMinutes: value } };
    default:
      if (typeof value !== 'boolean') throw bad(`${field}: true or false`);
      return { kind: 'mode', mode, patch: { [field]: value } };
  }
}

/** commandFromParams builds a Command from structured parameters (RPC `mod.<kind>` and REST bodies). */
export function commandFromParams(kind: string, p: Record<string, unknown>): Command {
  switch (kind) {
    case 'ban': {
      const d = optInt(p, 'durationSeconds', 1, MAX_BAN_MS / 1000);
      // Without durationSeconds a ban lasts moderation.banDefaultSeconds, unless `permanent: true`.
      if (d === undefined && bool(p, 'permanent', false)) return { kind: 'ban', target: str(p, 'user'), permanent: true, reason: optStr(p, 'reason') };
      return { kind: 'ban', target: str(p, 'user'), durationMs: d === undefined ? undefined : d * 1000, reason: optStr(p, 'reason') };
    }
    case 'timeout': {
      const d = optInt(p, 'seconds', 1, MAX_TIMEOUT_MS / 1000);
      return { kind: 'timeout', target: str(p, 'user'), durationMs: d === undefined ? DEFAULT_TIMEOUT_MS : d * 1000, reason: optStr(p, 'reason') };
    }
    case 'unban': case 'untimeout': case 'mod': case 'unmod':
      return { kind, target: str(p, 'user') };
    case 'slow': return modeCommand('slowSeconds', p.seconds ?? 0);
    case 'subonly': return modeCommand('subOnly', bool(p, 'on'));
    case 'followonly': return modeCommand('followOnlyMinutes', p.minutes === undefined ? 0 : p.minutes);
    case 'emoteonly': return modeCommand('emoteOnly', bool(p, 'on'));
    case 'uniquechat': return modeCommand('uniqueChat', bool(p, 'on'));
    case 'blocklinks': return modeCommand('blockLinks', bool(p, 'on'));
    case 'clear': return { kind: 'clear' };
    case 'delete': return { kind: 'delete', messageId: str(p, 'id') };
    case 'mods': return { kind: 'mods' };
    case 'filter': {
      const op = str(p, 'op', 16);
      if (op === 'list') return { kind: 'filter_list' };
      const word = str(p, 'word', MAX_FILTER_WORD * 2);
      if (op === 'remove') return { kind: 'filter_remove', word };
      if (op !== 'add') throw bad('op: add, remove or list');
      const action = optStr(p, 'action', 8) ?? 'mask';
      if (!isFilterAction(action)) throw bad('action: mask, hold, block or allow');
      return { kind: 'filter_add', word, action };
    }
    default:
      throw new ModerationError('unknownCommand', `unknown moderation method "${kind}"`);
  }
}

const channelOf = (p: Record<string, unknown>): string => str(p, 'channel').replace(/^chat:/, '');

/** RPC_KINDS are the structured `mod.<kind>` methods; `mod.command`, `mod.settings` and `mod.audit` come on top. */
export const RPC_KINDS = ['ban', 'unban', 'timeout', 'untimeout', 'slow', 'subonly', 'followonly', 'emoteonly', 'uniquechat', 'blocklinks', 'clear', 'delete', 'mod', 'unmod', 'mods', 'filter'] as const;

/** registerModerationRpcs adds the `mod.*` RPC methods to the chat server; the caller is the token's user. */
export function registerModerationRpcs(chat: Pick<ChatExtensionPoint, 'registerRpc'>, engine: ModerationEngine): void {
  const wrap = (fn: (actor: Actor, p: Record<string, unknown>) => Promise<unknown>): RpcHandler => async (ctx) => {
    if (!ctx.user) throw new ModerationError('loginRequired', 'log in to moderate');
    const p = (ctx.data && typeof ctx.data === 'object' && !Array.isArray(ctx.data) ? ctx.data : {}) as Record<string, unknown>;
    return fn({ id: ctx.user }, p);
  };
  for (const kind of RPC_KINDS) {
    chat.registerRpc(`mod.${kind}`, wrap((actor, p) => engine.execute(actor, channelOf(p), commandFromParams(kind, p))));
  }
  chat.registerRpc('mod.command', wrap((actor, p) => engine.executeText(actor, channelOf(p), str(p, 'command', 500))));
  chat.registerRpc('mod.settings', wrap(async (actor, p) => {
    const ch = channelOf(p);
    await engine.assertCanModerate(actor, ch);
    return engine.overview(ch);
  }));
  chat.registerRpc('mod.audit', wrap(async (actor, p) => {
    const ch = channelOf(p);
    const id = await engine.assertCanModerate(actor, ch);
    return { entries: await engine.store.auditLog(id, { limit: optInt(p, 'limit', 1, 500), before: optInt(p, 'before', 0, Number.MAX_SAFE_INTEGER) }) };
  }));
}

const HTTP_CODES: Partial<Record<ModerationCodeName, ErrorCode>> = {
  notAllowed: 'forbidden', targetProtected: 'forbidden', loginRequired: 'unauthorized',
  targetNotFound: 'not_found', targetAmbiguous: 'conflict', unknownChannel: 'not_found', badArguments: 'validation_failed', unknownCommand: 'bad_request',
};

/** toAppError renders a ModerationError for the REST API, keeping the moderation code in details. */
export function toAppError(err: unknown): unknown {
  if (!(err instanceof ModerationError)) return err;
  return new AppError(HTTP_CODES[err.reason] ?? 'bad_request', err.message, { moderationCode: err.code, reason: err.reason, ...err.params });
}

async function actorFrom(auth: Authenticator, req: FastifyRequest): Promise<Actor> {
  const p = await auth.required(req);
  return p.kind === 'admin-token' ? { id: '', admin: true } : { id: p.user.id };
}

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const base = '/api/v1/channels/:name/moderation';

/** moderationRoutes registers the REST API (docs/moderation.md lists it). */
export function moderationRoutes(app: FastifyInstance, deps: { auth: Authenticator; engine: ModerationEngine }): void {
  const { auth, engine } = deps;
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toAppError(err);
    }
  };
  const exec = (req: FastifyRequest, kind: string, params: Record<string, unknown>) => run(async () => {
    const actor = await actorFrom(auth, req);
    return engine.execute(actor, (req.params as { name: string }).name, commandFromParams(kind, params));
  });
  const body = (req: FastifyRequest) => (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  const param = (req: FastifyRequest, k: string): string => {
    const v = (req.params as Partial<Record<string, string>>)[k];
    if (v === undefined) throw new AppError('bad_request', `the path has no ${k}`);
    return v;
  };

  app.get(base, { schema: { params: nameParam } }, (req) => run(async (): Promise<ModerationOverview> => {
    const { name } = req.params as { name: string };
    await engine.assertCanModerate(await actorFrom(auth, req), name);
    return engine.overview(name);
  }));

  app.patch(`${base}/modes`, {
    schema: {
      params: nameParam,
      body: {
        type: 'object', additionalProperties: false, minProperties: 1,
        properties: {
          slowSeconds: { type: 'integer' }, subOnly: { type: 'boolean' }, followOnlyMinutes: { type: ['integer', 'null'] },
          emoteOnly: { type: 'boolean' }, uniqueChat: { type: 'boolean' }, blockLinks: { type: 'boolean' }, defaultFilter: { type: 'boolean' },
        },
      },
    },
  }, (req) => run(async () => {
    const actor = await actorFrom(auth, req);
    const { name } = req.params as { name: string };
    const cmds = Object.entries(body(req)).map(([k, v]) => modeCommand(k as keyof ModeSettings, v));
    let modes: unknown;
    for (const c of cmds) modes = (await engine.execute(actor, name, c)).data;
    return modes;
  }));

  app.post(`${base}/command`, {
    schema: { params: nameParam, body: { type: 'object', required: ['command'], additionalProperties: false, properties: { command: { type: 'string', minLength: 1, maxLength: 500 } } } },
  }, (req) => run(async () => engine.executeText(await actorFrom(auth, req), param(req, 'name'), (body(req).command as string).trim())));

  app.get(`${base}/bans`, { schema: { params: nameParam } }, (req) => run(async () => {
    const { name } = req.params as { name: string };
    await engine.assertCanModerate(await actorFrom(auth, req), name);
    return { restrictions: (await engine.overview(name)).restrictions };
  }));
  const userBody = (extra: Record<string, unknown>) => ({ type: 'object', required: ['username'], additionalProperties: false, properties: { username: { type: 'string', maxLength: 64 }, reason: { type: 'string', maxLength: 300 }, ...extra } });
  app.post(`${base}/bans`, { schema: { params: nameParam, body: userBody({ durationSeconds: { type: 'integer', minimum: 1 }, permanent: { type: 'boolean' } }) } },
    (req) => exec(req, 'ban', { ...body(req), user: body(req).username }));
  app.delete(`${base}/bans/:username`, (req) => exec(req, 'unban', { user: param(req, 'username') }));
  app.post(`${base}/timeouts`, { schema: { params: nameParam, body: userBody({ seconds: { type: 'integer', minimum: 1 } }) } },
    (req) => exec(req, 'timeout', { ...body(req), user: body(req).username }));
  app.delete(`${base}/timeouts/:username`, (req) => exec(req, 'untimeout', { user: param(req, 'username') }));
  app.post(`${base}/clear`, { schema: { params: nameParam } }, (req) => exec(req, 'clear', {}));
  app.delete(`${base}/messages/:id`, (req) => exec(req, 'delete', { id: param(req, 'id') }));
  app.put(`${base}/managers/:username`, (req) => exec(req, 'mod', { user: param(req, 'username') }));
  app.delete(`${base}/managers/:username`, (req) => exec(req, 'unmod', { user: param(req, 'username') }));

  app.get(`${base}/filters`, { schema: { params: nameParam } }, (req) => exec(req, 'filter', { op: 'list' }).then((r) => r.data));
  app.post(`${base}/filters`, {
    schema: { params: nameParam, body: { type: 'object', required: ['word'], additionalProperties: false, properties: { word: { type: 'string', minLength: 1, maxLength: MAX_FILTER_WORD }, action: { type: 'string', enum: FILTER_ACTIONS } } } },
  }, (req) => exec(req, 'filter', { op: 'add', word: body(req).word, action: body(req).action }));
  app.delete(`${base}/filters/:word`, (req) => exec(req, 'filter', { op: 'remove', word: param(req, 'word') }));

  // The review queue: messages a `hold` word keeps out of the room until a manager decides.
  app.get(`${base}/held`, { schema: { params: nameParam } }, (req) => run(async (): Promise<HeldList> => {
    const list = await engine.heldMessages(await actorFrom(auth, req), param(req, 'name'));
    return { messages: list.map((h) => ({ id: h.id, userId: h.userId, word: h.word, createdAt: h.createdAt, message: h.message as HeldList['messages'][number]['message'] })) };
  }));
  const heldParams = { type: 'object', required: ['name', 'id'], properties: { name: { type: 'string', maxLength: 64 }, id: { type: 'string', maxLength: 32 } } } as const;
  app.post(`${base}/held/:id/approve`, { schema: { params: heldParams } }, (req) => run(async () => engine.decideHeld(await actorFrom(auth, req), param(req, 'name'), param(req, 'id'), true)));
  app.post(`${base}/held/:id/reject`, { schema: { params: heldParams } }, (req) => run(async () => engine.decideHeld(await actorFrom(auth, req), param(req, 'name'), param(req, 'id'), false)));

  app.get(`${base}/audit`, {
    schema: {
      params: nameParam,
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, before: { type: 'string', pattern: '^[0-9]{1,15}$' }, action: { type: 'string', maxLength: 32 } } },
    },
  }, (req) => run(async () => {
    const id = await engine.assertCanModerate(await actorFrom(auth, req), param(req, 'name'));
    const q = req.query as { limit?: string; before?: string; action?: string };
    return { entries: await engine.store.auditLog(id, { limit: q.limit ? Number(q.limit) : 100, before: q.before ? Number(q.before) : undefined, action: q.action }) } satisfies AuditLog;
  }));

  // Site-wide filter list (admins).
  app.get('/api/v1/moderation/filters', (req) => run(async () => {
    await auth.admin(req);
    return { entries: await engine.globalFilterList() };
  }));
  app.post('/api/v1/moderation/filters', {
    schema: { body: { type: 'object', required: ['word'], additionalProperties: false, properties: { word: { type: 'string', minLength: 1, maxLength: MAX_FILTER_WORD }, action: { type: 'string', enum: FILTER_ACTIONS } } } },
  }, (req, reply) => run(async () => {
    const p = await auth.admin(req);
    const b = body(req) as { word: string; action?: FilterAction };
    await engine.globalFilterAdd(p.kind === 'user' ? { id: p.user.id } : { id: '', admin: true }, b.word.trim(), b.action ?? 'mask');
    return reply.status(201).send({ entries: await engine.globalFilterList() });
  }));
  app.delete('/api/v1/moderation/filters/:word', (req) => run(async () => {
    const p = await auth.admin(req);
    const ok = await engine.globalFilterRemove(p.kind === 'user' ? { id: p.user.id } : { id: '', admin: true }, param(req, 'word'));
    if (!ok) throw new AppError('not_found', 'no such word in the global filter');
    return { entries: await engine.globalFilterList() };
  }));
}
