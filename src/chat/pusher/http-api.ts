/**
 * The Pusher HTTP API on the chat HTTP port: trigger events (`POST /apps/{appId}/events`,
 * `/batch_events`) and channel queries (`GET /apps/{appId}/channels[/{name}[/users]]`),
 * signed with Pusher's request signing (docs/pusher.md).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { rawJson } from '../protocol/codec.js';
import { Disconnects } from '../protocol/codes.js';
import { isValidPusherName, toPusherName, type MappedChannel, type PusherChannelType } from './names.js';
import { MAX_EVENT_NAME, TAG_EVENT, TAG_EXCLUDE } from './frames.js';
import { SOCKET_ID_RE, verifyRequest } from './auth.js';
import type { PusherServer } from './server.js';

export const APPS_PREFIX = '/apps/';

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** EventRequest is one event to trigger, validated. */
interface EventRequest {
  name: string;
  data: string;
  channels: MappedChannel[];
  socketId: string;
  /** Attributes to answer per channel (`subscription_count`, `user_count`). */
  info: Set<string>;
}

function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'body must be a JSON object');
  return v as Record<string, unknown>;
}

/** parseEvent validates one event of /events or /batch_events. */
function parseEvent(server: PusherServer, o: Record<string, unknown>, maxChannels: number): EventRequest {
  const name = o.name;
  if (typeof name !== 'string' || name === '' || name.length > MAX_EVENT_NAME) throw new HttpError(400, `name must be a string of 1-${MAX_EVENT_NAME} characters`);
  if (typeof o.data !== 'string') throw new HttpError(400, 'data must be a string');
  if (Buffer.byteLength(o.data) > server.config.maxMessageBytes) throw new HttpError(413, `data is larger than ${server.config.maxMessageBytes} bytes`);
  let names: unknown[];
  if (Array.isArray(o.channels)) names = o.channels;
  else if (typeof o.channel === 'string') names = [o.channel];
  else throw new HttpError(400, 'channel or channels is required');
  if (names.length === 0 || names.length > maxChannels) throw new HttpError(400, `1-${maxChannels} channels per event`);
  const channels: MappedChannel[] = [];
  for (const n of names) {
    const m = typeof n === 'string' ? server.mapper.toOnair(n) : null;
    if (!m) throw new HttpError(400, `invalid channel name ${JSON.stringify(n)}`);
    if (!server.node.namespaces.resolve(m.channel)) throw new HttpError(400, `unknown channel ${String(n)}: no chat namespace for ${m.channel}`);
    channels.push(m);
  }
  let socketId = '';
  if (o.socket_id !== undefined && o.socket_id !== null) {
    if (typeof o.socket_id !== 'string' || !SOCKET_ID_RE.test(o.socket_id)) throw new HttpError(400, 'invalid socket_id');
    socketId = o.socket_id;
  }
  const info = new Set(typeof o.info === 'string' ? o.info.split(',').filter((x) => x !== '') : []);
  for (const a of info) if (a !== 'subscription_count' && a !== 'user_count') throw new HttpError(400, `unknown info attribute ${a}`);
  if (info.has('user_count') && channels.some((c) => c.type !== 'presence')) throw new HttpError(400, 'user_count is only for presence channels');
  return { name, data: o.data, channels, socketId, info };
}

/** channelAttributes answers the `info` of an event for one channel (counts from a survey of every node). */
async function channelAttributes(server: PusherServer, c: MappedChannel, info: Set<string>, counts: Record<string, number>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (info.has('subscription_count')) out.subscription_count = counts[c.channel] ?? 0;
  if (info.has('user_count')) out.user_count = (await server.node.presence.presenceStats(c.channel)).numUsers;
  return out;
}

/**
 * envelope is what Centrifugo subscribers get as publication data: `{"event","data"}`,
 * data parsed when it is JSON text (Pusher data is usually JSON in a string), else the string.
 */
export function envelope(name: string, data: string): string {
  let d: unknown = data;
  try {
    d = JSON.parse(data);
  } catch {
    /* plain text */
  }
  return rawJson({ event: name, data: d })!;
}

/** trigger publishes an event once per onair channel (Pusher names of one onair channel share it). */
async function trigger(server: PusherServer, ev: EventRequest): Promise<void> {
  const tags: Record<string, string> = { [TAG_EVENT]: ev.name };
  if (ev.socketId !== '') tags[TAG_EXCLUDE] = ev.socketId;
  const data = envelope(ev.name, ev.data);
  // Channels of requireChannel namespaces need their onair channel: refused before anything is published.
  for (const c of ev.channels) {
    try {
      await server.node.requireChannel(c.channel, server.node.namespaces.resolve(c.channel)!);
    } catch (e) {
      throw new HttpError(400, `${(e as Error).message} (channel ${c.name})`);
    }
  }
  const seen = new Set<string>();
  await Promise.all(
    // eslint-disable-next-line @typescript-eslint/await-thenable -- the rule misreads the Promise | undefined map; publishes run together and the first failure answers the request
    ev.channels.map((c) => {
      if (seen.has(c.channel)) return undefined;
      seen.add(c.channel);
      return server.node.publish(c.channel, { data, tags });
    }),
  );
}

function infoSet(q: Record<string, string>): Set<string> {
  return new Set((q.info ?? '').split(',').filter((s) => s !== ''));
}

async function presenceUsers(server: PusherServer, channel: string): Promise<string[]> {
  const p = await server.node.presence.presence(channel);
  const users = new Set<string>();
  for (const c of Object.values(p)) if (c.user !== '') users.add(c.user);
  return [...users];
}

/** registerPusherHttpApi adds the Pusher HTTP API routes (in their own scope: raw JSON bodies for body_md5). */
export function registerPusherHttpApi(app: FastifyInstance, server: PusherServer): void {
  const cfg = server.config;
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

    const handle = (route: string, run: (req: FastifyRequest, body: unknown, q: Record<string, string>) => Promise<unknown>) =>
      async (req: FastifyRequest, reply: FastifyReply) => {
        let status = 200;
        try {
          const { appId } = req.params as { appId: string };
          if (appId !== server.secrets.appId) throw new HttpError(404, `unknown app ${appId}`);
          const url = req.raw.url ?? '';
          const qi = url.indexOf('?');
          const path = qi >= 0 ? url.slice(0, qi) : url;
          const q: Record<string, string> = {};
          for (const [k, v] of new URLSearchParams(qi >= 0 ? url.slice(qi + 1) : '')) q[k] = v;
          const raw = typeof req.body === 'string' ? req.body : '';
          const check = verifyRequest({ key: server.secrets.key, secret: server.secrets.secret }, { method: req.method, path, query: q, body: raw }, Math.floor(Date.now() / 1000));
          if (!check.ok) throw new HttpError(check.status, check.message);
          let body: unknown = undefined;
          if (raw !== '') {
            try {
              body = JSON.parse(raw);
            } catch {
              throw new HttpError(400, 'body is not valid JSON');
            }
          }
          const out = await run(req, body, q);
          // eslint-disable-next-line @typescript-eslint/return-await -- a FastifyReply is thenable; fastify takes it back unawaited
          return reply.type('application/json').send(JSON.stringify(out));
        } catch (e) {
          status = e instanceof HttpError ? e.status : 500;
          if (!(e instanceof HttpError)) server.node.logger.error({ err: e, route }, 'pusher: HTTP API call failed');
          // eslint-disable-next-line @typescript-eslint/return-await -- a FastifyReply is thenable; fastify takes it back unawaited
          return reply.status(status).type('application/json').send(JSON.stringify({ error: e instanceof HttpError ? e.message : 'internal error' }));
        } finally {
          server.metrics.httpRequest(route, status);
        }
      };

    scope.post(
      APPS_PREFIX + ':appId/events',
      handle('events', async (_req, body) => {
        const ev = parseEvent(server, asObject(body), cfg.maxEventChannels);
        await trigger(server, ev);
        if (ev.info.size === 0) return {};
        const counts = await server.node.surveyChannels();
        const channels: Record<string, Record<string, number>> = {};
        for (const c of ev.channels) channels[c.name] = await channelAttributes(server, c, ev.info, counts);
        return { channels };
      }),
    );

    scope.post(
      APPS_PREFIX + ':appId/batch_events',
      handle('batch_events', async (_req, body) => {
        const b = asObject(body).batch;
        if (!Array.isArray(b) || b.length === 0 || b.length > cfg.maxBatchEvents) throw new HttpError(400, `batch must hold 1-${cfg.maxBatchEvents} events`);
        const events = b.map((e) => parseEvent(server, asObject(e), 1));
        for (const ev of events) await trigger(server, ev);
        const counts = events.some((e) => e.info.size > 0) ? await server.node.surveyChannels() : {};
        const batch: Record<string, number>[] = [];
        for (const ev of events) {
          const [channel] = ev.channels;
          batch.push(ev.info.size === 0 || channel === undefined ? {} : await channelAttributes(server, channel, ev.info, counts));
        }
        return { batch };
      }),
    );

    // Closes the user's connections on every node: Pusher sockets signed in (or in presence) as
    // that user and the user's Centrifugo connections (the same user ids).
    scope.post(
      APPS_PREFIX + ':appId/users/:userId/terminate_connections',
      handle('terminate_connections', async (req) => {
        const user = (req.params as { userId: string }).userId;
        if (user === '') throw new HttpError(400, 'user id is required');
        await server.node.broker.publishControl({ type: 'disconnect', user, code: Disconnects.forceNoReconnect.code, reason: 'connections terminated' });
        return {};
      }),
    );

    scope.get(
      APPS_PREFIX + ':appId/channels',
      handle('channels', async (_req, _body, q) => {
        const prefix = q.filter_by_prefix ?? '';
        const info = infoSet(q);
        const type: PusherChannelType = prefix.startsWith('presence-') ? 'presence' : prefix.startsWith('private-') ? 'private' : 'public';
        if (info.has('user_count') && type !== 'presence') throw new HttpError(400, 'info=user_count needs filter_by_prefix=presence-');
        const counts = await server.node.surveyChannels();
        const channels: Record<string, Record<string, number>> = {};
        for (const [ch, n] of Object.entries(counts)) {
          if (n <= 0) continue;
          const ns = server.node.namespaces.resolve(ch);
          if (!ns || (type === 'presence' && !ns.options.presence)) continue;
          const name = toPusherName(ch, type);
          if (!isValidPusherName(name) || !name.startsWith(prefix) || server.mapper.toOnair(name)?.channel !== ch) continue;
          const o: Record<string, number> = {};
          if (info.has('user_count')) o.user_count = (await server.node.presence.presenceStats(ch)).numUsers;
          if (type === 'presence' && o.user_count === 0) continue;
          channels[name] = o;
        }
        return { channels };
      }),
    );

    scope.get(
      APPS_PREFIX + ':appId/channels/:name',
      handle('channel', async (req, _body, q) => {
        const name = (req.params as { name: string }).name;
        const m = server.mapper.toOnair(name);
        if (!m || !server.node.namespaces.resolve(m.channel)) throw new HttpError(400, `invalid channel name ${name}`);
        const info = infoSet(q);
        if (info.has('user_count') && m.type !== 'presence') throw new HttpError(400, 'user_count is only for presence channels');
        const count = (await server.node.surveyChannels())[m.channel] ?? 0;
        const out: Record<string, unknown> = { occupied: count > 0 };
        if (info.has('subscription_count')) out.subscription_count = count;
        if (info.has('user_count')) out.user_count = (await server.node.presence.presenceStats(m.channel)).numUsers;
        return out;
      }),
    );

    scope.get(
      APPS_PREFIX + ':appId/channels/:name/users',
      handle('users', async (req) => {
        const name = (req.params as { name: string }).name;
        const m = server.mapper.toOnair(name);
        if (!m || m.type !== 'presence') throw new HttpError(400, 'users are only listed for presence channels');
        const ns = server.node.namespaces.resolve(m.channel);
        if (!ns || !ns.options.presence) throw new HttpError(400, `presence is off for ${name}`);
        return { users: (await presenceUsers(server, m.channel)).map((id) => ({ id })) };
      }),
    );
  });
}
