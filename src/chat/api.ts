/**
 * Server HTTP API, Centrifugo v5 style: `POST /api/{method}` with header
 * `X-API-Key: KEY` (or `Authorization: apikey KEY`); the body holds the params.
 * Answers `{"result":{...}}` or `{"error":{"code","message"}}` (HTTP 200);
 * a missing or wrong key gets HTTP 401, an unknown method HTTP 404.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ChatNode } from './node.js';
import { ChatError, Disconnects, Errors, type ProtocolError } from './protocol/codes.js';
import { encodeHistoryResult, encodePresenceMap, rawJson, type Publication } from './protocol/codec.js';

export const API_PREFIX = '/api/';

type Params = Record<string, unknown>;
/** ApiMethod answers the JSON text of a result, or throws ChatError. */
type ApiMethod = (node: ChatNode, p: Params) => Promise<string>;

function bad(): never {
  throw new ChatError(Errors.badRequest);
}

function str(p: Params, k: string, required = false): string {
  const v = p[k];
  if (v === undefined || v === null || v === '') {
    if (required) bad();
    return '';
  }
  if (typeof v !== 'string') bad();
  return v;
}

function channelOf(node: ChatNode, p: Params): string {
  const ch = str(p, 'channel', true);
  if (!node.namespaces.resolve(ch)) throw new ChatError(Errors.unknownChannel);
  return ch;
}

function tagsOf(p: Params): Record<string, string> | undefined {
  const t = p.tags;
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'object' || Array.isArray(t)) bad();
  for (const v of Object.values(t)) if (typeof v !== 'string') bad();
  return t as Record<string, string>;
}

async function publishOne(node: ChatNode, ch: string, p: Params): Promise<string> {
  if (p.data === undefined) bad();
  const pub: Publication = { data: rawJson(p.data)! };
  const tags = tagsOf(p);
  if (tags) pub.tags = tags;
  if (p.delta !== undefined && typeof p.delta !== 'boolean') bad();
  if (p.delta === true) pub.deltaWanted = true;
  const pos = await node.publish(ch, pub, { skipHistory: p.skip_history === true });
  return pos.offset > 0 ? '{"offset":' + pos.offset + ',"epoch":' + JSON.stringify(pos.epoch) + '}' : '{}';
}

function errorJson(e: ProtocolError): string {
  return '{"code":' + e.code + ',"message":' + JSON.stringify(e.message) + '}';
}

function toProtocolError(e: unknown, node: ChatNode): ProtocolError {
  if (e instanceof ChatError) return e.toProtocol();
  node.logger.error({ err: e }, 'chat api: failed');
  return Errors.internal;
}

const METHODS: Record<string, ApiMethod> = {
  async publish(node, p) {
    return publishOne(node, channelOf(node, p), p);
  },
  async broadcast(node, p) {
    const chans = p.channels;
    if (!Array.isArray(chans) || chans.length === 0) bad();
    const parts = await Promise.all(
      chans.map(async (ch) => {
        try {
          if (typeof ch !== 'string' || !node.namespaces.resolve(ch)) throw new ChatError(Errors.unknownChannel);
          return '{"result":' + (await publishOne(node, ch, p)) + '}';
        } catch (e) {
          return '{"error":' + errorJson(toProtocolError(e, node)) + '}';
        }
      }),
    );
    return '{"responses":[' + parts.join(',') + ']}';
  },
  async subscribe(node, p) {
    const user = str(p, 'user', true);
    const ch = channelOf(node, p);
    await node.broker.publishControl({
      type: 'subscribe',
      user,
      channel: ch,
      client: str(p, 'client') || undefined,
      session: str(p, 'session') || undefined,
      chanInfo: rawJson(p.info),
    });
    return '{}';
  },
  async unsubscribe(node, p) {
    const user = str(p, 'user', true);
    const ch = channelOf(node, p);
    await node.broker.publishControl({ type: 'unsubscribe', user, channel: ch, client: str(p, 'client') || undefined, session: str(p, 'session') || undefined });
    return '{}';
  },
  async disconnect(node, p) {
    const user = str(p, 'user', true);
    let code: number = Disconnects.forceNoReconnect.code;
    let reason: string = Disconnects.forceNoReconnect.reason;
    const d = p.disconnect;
    if (d !== undefined && d !== null) {
      if (typeof d !== 'object' || Array.isArray(d)) bad();
      const dd = d as Params;
      if (typeof dd.code !== 'number' || !Number.isInteger(dd.code) || dd.code < 3000 || dd.code > 4999) bad();
      code = dd.code;
      reason = typeof dd.reason === 'string' ? dd.reason : '';
    }
    let whitelist: string[] | undefined;
    if (Array.isArray(p.whitelist)) whitelist = p.whitelist.filter((x): x is string => typeof x === 'string');
    await node.broker.publishControl({ type: 'disconnect', user, client: str(p, 'client') || undefined, session: str(p, 'session') || undefined, whitelist, code, reason });
    return '{}';
  },
  async refresh(node, p) {
    const user = str(p, 'user', true);
    const expireAt = p.expire_at;
    if (expireAt !== undefined && (typeof expireAt !== 'number' || !Number.isInteger(expireAt) || expireAt < 0)) bad();
    await node.broker.publishControl({
      type: 'refresh',
      user,
      client: str(p, 'client') || undefined,
      session: str(p, 'session') || undefined,
      expired: p.expired === true,
      expireAt: expireAt,
    });
    return '{}';
  },
  async presence(node, p) {
    const ch = channelOf(node, p);
    if (!node.namespaces.resolve(ch)!.options.presence) throw new ChatError(Errors.notAvailable);
    await node.requireChannel(ch, node.namespaces.resolve(ch)!);
    return '{"presence":' + encodePresenceMap(await node.presence.presence(ch)) + '}';
  },
  async presence_stats(node, p) {
    const ch = channelOf(node, p);
    if (!node.namespaces.resolve(ch)!.options.presence) throw new ChatError(Errors.notAvailable);
    await node.requireChannel(ch, node.namespaces.resolve(ch)!);
    const s = await node.presence.presenceStats(ch);
    return '{"num_clients":' + s.numClients + ',"num_users":' + s.numUsers + '}';
  },
  async history(node, p) {
    const ch = channelOf(node, p);
    if (node.namespaces.resolve(ch)!.options.historySize <= 0) throw new ChatError(Errors.notAvailable);
    const limit = p.limit === undefined ? 0 : p.limit;
    if (typeof limit !== 'number' || !Number.isInteger(limit)) bad();
    let since: { offset: number; epoch: string } | undefined;
    if (p.since !== undefined && p.since !== null) {
      const s = p.since as Params;
      if (typeof s !== 'object' || typeof (s.offset ?? 0) !== 'number') bad();
      since = { offset: (s.offset as number) ?? 0, epoch: typeof s.epoch === 'string' ? s.epoch : '' };
    }
    const res = await node.history(ch, limit, since, p.reverse === true);
    return encodeHistoryResult(res.publications, res.position);
  },
  async history_remove(node, p) {
    await node.broker.removeHistory(channelOf(node, p));
    return '{}';
  },
  async channels(node, p) {
    const pattern = str(p, 'pattern');
    const counts = await node.surveyChannels();
    const re = pattern ? globToRegExp(pattern) : null;
    const parts: string[] = [];
    for (const [ch, n] of Object.entries(counts)) {
      if (re && !re.test(ch)) continue;
      parts.push(JSON.stringify(ch) + ':{"num_clients":' + n + '}');
    }
    return '{"channels":{' + parts.join(',') + '}}';
  },
  async info(node) {
    return JSON.stringify({ nodes: node.liveNodes() });
  },
  async batch(node, p) {
    const cmds = p.commands;
    if (!Array.isArray(cmds)) bad();
    const run = async (c: unknown): Promise<string> => {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) return '{"error":' + errorJson(Errors.badRequest) + '}';
      const [entry, ...more] = Object.entries(c as Params);
      if (!entry || more.length > 0) return '{"error":' + errorJson(Errors.badRequest) + '}';
      const [method, params] = entry;
      const m = METHODS[method];
      if (!m || method === 'batch') return '{"error":' + errorJson(Errors.methodNotFound) + '}';
      try {
        const r = await m(node, (params ?? {}) as Params);
        return '{' + JSON.stringify(method) + ':' + r + '}';
      } catch (e) {
        return '{"error":' + errorJson(toProtocolError(e, node)) + '}';
      }
    };
    const parts: string[] = [];
    if (p.parallel === true) parts.push(...(await Promise.all(cmds.map(run))));
    else for (const c of cmds) parts.push(await run(c));
    return '{"replies":[' + parts.join(',') + ']}';
  },
};

/** API_METHODS lists the server API methods. */
export const API_METHODS = Object.keys(METHODS);

function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp('^' + esc + '$');
}

function keyMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** apiKeyOf extracts the key from `X-API-Key` or `Authorization: apikey KEY`. */
export function apiKeyOf(headers: Record<string, string | string[] | undefined>): string {
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x !== '') return x;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const key = /^apikey\s+(.+)$/i.exec(auth.trim())?.[1];
    if (key !== undefined) return key;
  }
  return '';
}

/**
 * bodyAsJson reads the server API's body as JSON whatever its declared type: Centrifugo does, and
 * `curl -d` sends `application/x-www-form-urlencoded`. Only these routes do; the rest of the API
 * stays JSON-only (415) on purpose.
 */
function bodyAsJson(_req: unknown, body: string, done: (err: Error | null, value?: unknown) => void): void {
  if (body.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(body));
  } catch {
    done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }));
  }
}

/** registerServerApi adds `POST /api/:method` to a Fastify app, in its own scope for the body parser. */
export function registerServerApi(app: FastifyInstance, node: ChatNode, apiKey: string): void {
  void app.register((scope, _opts, ready) => {
    scope.addContentTypeParser('*', { parseAs: 'string' }, bodyAsJson);
    routeServerApi(scope, node, apiKey);
    ready();
  });
}

function routeServerApi(app: FastifyInstance, node: ChatNode, apiKey: string): void {
  app.post<{ Params: { method: string } }>(API_PREFIX + ':method', async (req, reply) => {
    const key = apiKeyOf(req.headers);
    if (key === '' || !keyMatches(key, apiKey)) {
      return reply.code(401).type('application/json').send('{"error":{"code":101,"message":"unauthorized"}}');
    }
    const m = METHODS[req.params.method];
    reply.type('application/json');
    if (!m) return reply.code(404).send('{"error":' + errorJson(Errors.methodNotFound) + '}');
    const body = req.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
      return reply.send('{"error":' + errorJson(Errors.badRequest) + '}');
    }
    try {
      const result = await m(node, (body ?? {}) as Params);
      // eslint-disable-next-line @typescript-eslint/return-await -- a FastifyReply is thenable; fastify takes it back unawaited
      return reply.send('{"result":' + result + '}');
    } catch (e) {
      return reply.send('{"error":' + errorJson(toProtocolError(e, node)) + '}');
    }
  });
}

