/**
 * `POST /api/v1/pusher/auth`: channel authorization for logged-in platform users (what
 * pusher-js calls with `socket_id` and `channel_name`, form or JSON), and
 * `POST /api/v1/pusher/user-auth`: user authentication for `pusher:signin` (`socket_id`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, forbidden } from '../../http/errors.js';
import type { Namespaces } from '../namespaces.js';
import { SOCKET_ID_RE, channelAuth, userAuth } from './auth.js';
import type { ChannelMapper } from './names.js';
import type { PusherSecrets } from './config.js';

export const PUSHER_AUTH_PATH = '/api/v1/pusher/auth';
/** PUSHER_USER_AUTH_PATH signs `pusher:signin` (pusher-js `userAuthentication.endpoint`). */
export const PUSHER_USER_AUTH_PATH = '/api/v1/pusher/user-auth';

/** AuthUser is who the endpoint authorizes (the platform user). */
export interface AuthUser {
  id: string;
  username: string;
  displayName: string;
}

export interface PusherAuthDeps {
  secrets: PusherSecrets;
  mapper: ChannelMapper;
  namespaces: Namespaces;
  /** The logged-in user (throws the platform's 401/403). */
  user(req: FastifyRequest): Promise<AuthUser>;
  /** Extra rules (moderation bans): a refusal message, or null to allow. */
  refuse?(user: AuthUser, channel: string): Promise<string | null>;
  /** Called when the user's session authorised the socket for an onair channel ('' for a signin): revoking the user's tokens closes it, a ban unsubscribes it. The answer waits for it. */
  authorised?(socketId: string, user: AuthUser, channel: string): Promise<void>;
}

export function registerPusherAuthRoute(app: FastifyInstance, deps: PusherAuthDeps): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    scope.post(PUSHER_AUTH_PATH, async (req, reply) => {
      const user = await deps.user(req);
      const b = (req.body ?? {}) as Record<string, unknown>;
      const socketId = b.socket_id;
      const name = b.channel_name;
      if (typeof socketId !== 'string' || !SOCKET_ID_RE.test(socketId)) throw badRequest('socket_id is missing or invalid');
      if (typeof name !== 'string') throw badRequest('channel_name is required');
      const m = deps.mapper.toOnair(name);
      if (!m || m.type === 'public') throw badRequest('only private- and presence- channels need authorization');
      const info = deps.namespaces.resolve(m.channel);
      if (!info) throw badRequest(`unknown channel ${name}: no chat namespace for ${m.channel}`);
      if (info.users !== null && !info.users.includes(user.id)) throw forbidden(`not allowed in ${name}`);
      if (m.type === 'presence' && !info.options.presence) throw badRequest(`presence is off for ${name}`);
      const refusal = (await deps.refuse?.(user, m.channel)) ?? null;
      if (refusal !== null) throw forbidden(refusal);
      const { key, secret } = deps.secrets;
      await deps.authorised?.(socketId, user, m.channel);
      if (m.type === 'private') return reply.send({ auth: channelAuth(key, secret, socketId, name) });
      const channelData = JSON.stringify({ user_id: user.id, user_info: { name: user.displayName, username: user.username } });
      return reply.send({ auth: channelAuth(key, secret, socketId, name, channelData), channel_data: channelData });
    });
    scope.post(PUSHER_USER_AUTH_PATH, async (req, reply) => {
      const user = await deps.user(req);
      const socketId = ((req.body ?? {}) as Record<string, unknown>).socket_id;
      if (typeof socketId !== 'string' || !SOCKET_ID_RE.test(socketId)) throw badRequest('socket_id is missing or invalid');
      await deps.authorised?.(socketId, user, '');
      const userData = JSON.stringify({ id: user.id, user_info: { name: user.displayName, username: user.username } });
      return reply.send({ auth: userAuth(deps.secrets.key, deps.secrets.secret, socketId, userData), user_data: userData });
    });
  });
}
