import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { actorOf } from '../auth.js';
import { CHANNEL_NAME_PATTERN, toPublicChannel, toPublicUser, USERNAME_PATTERN } from '../../platform/index.js';
import type { ChannelsTable } from '../../platform/db/schema.js';
import { AppError, badRequest } from '../errors.js';
import { ChannelSchema, ChannelWithLiveSchema, LiveDetailSchema, PublicStreamSchema, PublicUserSchema, UserProfileSchema, type ChannelAnswer, type ChannelCreated, type ChannelList, type ChannelWithLive, type ChatToken, type FollowState, type LiveDetail, type ManagerList, type PublicStream, type Relationship, type StreamKey, type UserList } from '../../api/schemas.js';
import type { LiveInfo } from './context.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const userParam = { type: 'object', required: ['name', 'username'], properties: { name: { type: 'string', maxLength: 64 }, username: { type: 'string', maxLength: 64 } } } as const;

/** channelRoutes: channel CRUD, stream keys, follows, subscriptions, managers, users (admin). */
export function channelRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { platform, auth } = ctx;
  // The schema keeps only the public part of the live info: no publisher address, no bitrates.
  // A value that does not fit (a NaN from a meter) costs that channel its details, not the list.
  const publicStream = (info: LiveInfo | undefined): PublicStream => {
    const r = PublicStreamSchema.safeParse(info ?? { live: false });
    if (r.success) return r.data;
    app.log.warn({ issue: r.error.issues[0] }, 'live info does not fit the public stream schema');
    return { live: info?.live === true };
  };
  const withLive = async (c: ChannelsTable): Promise<ChannelWithLive> => ChannelWithLiveSchema.parse({
    ...toPublicChannel(c),
    stream: publicStream(ctx.liveInfo?.(c.name)),
    followers: await platform.social.followerCount(c.id),
    ownerName: c.owner_id ? await ownerName(c.owner_id) : null,
  });
  /** ownerName is a streamer's display name (their login name when it is empty). */
  const ownerName = async (userId: string): Promise<string | null> => {
    const u = await platform.users.findById(userId);
    return u ? u.display_name || u.username : null;
  };

  app.get('/api/v1/channels', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { q: { type: 'string', maxLength: 64 }, live: { type: 'string', enum: ['true', 'false'] }, limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, offset: { type: 'string', pattern: '^[0-9]{1,6}$' } } } },
  }, async (req) => {
    const q = req.query as { q?: string; live?: string; limit?: string; offset?: string };
    const rows = await platform.channels.list({ q: q.q, limit: q.limit ? Math.min(Number(q.limit), 200) : 100, offset: q.offset ? Number(q.offset) : 0 });
    let channels = await Promise.all(rows.map(withLive));
    if (q.live) channels = channels.filter((c) => c.stream.live === (q.live === 'true'));
    return { channels } satisfies ChannelList;
  });

  app.post('/api/v1/channels', {
    schema: { body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', pattern: CHANNEL_NAME_PATTERN }, title: { type: 'string', maxLength: 140 }, owner: { type: 'string', maxLength: 64 } } } },
  }, async (req, reply) => {
    const p = await auth.required(req);
    const b = req.body as { name: string; title?: string; owner?: string };
    let ownerId: string | null = p.kind === 'user' ? p.user.id : null;
    if (b.owner !== undefined) {
      if (actorOf(p).is_admin !== 1) throw new AppError('forbidden', 'only admins may create channels for another owner');
      ownerId = (await platform.users.requireByName(b.owner)).id;
    }
    // channels.maxPerUser: admins (and the admin token) are exempt, so are channels an admin makes for someone.
    const limit = ctx.config.channels.maxPerUser;
    const maxOwned = actorOf(p).is_admin === 1 || limit === 0 ? undefined : limit;
    const { channel, streamKey } = await platform.channels.create({ name: b.name, title: b.title, ownerId, maxOwned });
    return reply.status(201).send({ channel: ChannelSchema.parse(channel), streamKey } satisfies ChannelCreated);
  });

  app.get('/api/v1/channels/:name', { schema: { params: nameParam } }, async (req) => {
    const { name } = req.params as { name: string };
    return { channel: await withLive(await platform.channels.require(name)) } satisfies ChannelAnswer;
  });

  // The live stream as its owner sees it: publisher, tracks, bitrates, keyframe interval.
  app.get('/api/v1/channels/:name/live', { schema: { params: nameParam } }, async (req): Promise<LiveDetail> => {
    const p = await auth.required(req);
    const c = await platform.channels.require((req.params as { name: string }).name);
    await platform.channels.assertCanManage(c, actorOf(p));
    const info = ctx.liveInfo?.(c.name) ?? { live: false };
    const refused = info.live ? ctx.recordingRefused?.(c.name) : undefined;
    return LiveDetailSchema.parse(refused ? { ...info, recordingRefused: refused } : info);
  });

  app.patch('/api/v1/channels/:name', {
    schema: { params: nameParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { title: { type: 'string', maxLength: 140 }, recordEnabled: { type: 'boolean' }, captionsLanguage: { type: ['string', 'null'], pattern: '^[a-z]{2,3}(-[A-Za-z]{2,4})?$' } } } },
  }, async (req) => {
    const p = await auth.required(req);
    const { name } = req.params as { name: string };
    const c = await platform.channels.require(name);
    const patch = req.body as { title?: string; recordEnabled?: boolean; captionsLanguage?: string | null };
    // Recording uses the owner's disk quota and keeps what was said: the owner's call, not a manager's.
    await platform.channels.assertCanManage(c, actorOf(p), patch.recordEnabled !== undefined ? 'owner' : 'manager');
    return { channel: ChannelSchema.parse(toPublicChannel(await platform.channels.update(name, patch))) };
  });

  app.delete('/api/v1/channels/:name', { schema: { params: nameParam } }, async (req, reply) => {
    const p = await auth.required(req);
    const { name } = req.params as { name: string };
    const c = await platform.channels.require(name);
    await platform.channels.assertCanManage(c, actorOf(p), 'owner');
    await platform.channels.remove(name);
    return reply.status(204).send();
  });

  // The owner (or an admin) reads the key again to paste it into an encoder; managers may not.
  app.get('/api/v1/channels/:name/stream-key', { schema: { params: nameParam } }, async (req, reply) => {
    const p = await auth.required(req);
    const { name } = req.params as { name: string };
    const c = await platform.channels.require(name);
    await platform.channels.assertCanManage(c, actorOf(p), 'owner');
    void reply.header('cache-control', 'no-store');
    return { streamKey: platform.channels.revealKey(c) } satisfies StreamKey;
  });

  app.post('/api/v1/channels/:name/stream-key/rotate', { schema: { params: nameParam } }, async (req) => {
    const p = await auth.required(req);
    const { name } = req.params as { name: string };
    const c = await platform.channels.require(name);
    await platform.channels.assertCanManage(c, actorOf(p), 'owner');
    return { streamKey: await platform.channels.rotateKey(name) } satisfies StreamKey;
  });

  app.post('/api/v1/channels/:name/follow', { schema: { params: nameParam } }, async (req) => {
    const user = await auth.user(req);
    const c = await platform.channels.require((req.params as { name: string }).name);
    return { following: true, ...(await platform.social.follow(user.id, c.id)) } satisfies FollowState;
  });

  app.delete('/api/v1/channels/:name/follow', { schema: { params: nameParam } }, async (req) => {
    const user = await auth.user(req);
    const c = await platform.channels.require((req.params as { name: string }).name);
    await platform.social.unfollow(user.id, c.id);
    return { following: false } satisfies FollowState;
  });

  app.get('/api/v1/channels/:name/relationship', { schema: { params: nameParam } }, async (req) => {
    const user = await auth.user(req);
    const c = await platform.channels.require((req.params as { name: string }).name);
    const [followedAt, subscriptionExpiresAt, roles] = await Promise.all([
      platform.social.followedAt(user.id, c.id), platform.social.subscriptionExpiry(user.id, c.id), platform.channels.rolesOf(c.id, user.id),
    ]);
    return { followedAt: followedAt ?? null, subscriptionExpiresAt: subscriptionExpiresAt ?? null, subscribed: (subscriptionExpiresAt ?? 0) > Date.now(), roles } satisfies Relationship;
  });

  app.post('/api/v1/channels/:name/subscriptions', {
    schema: { params: nameParam, body: { type: 'object', required: ['username'], additionalProperties: false, properties: { username: { type: 'string', maxLength: 64 }, days: { type: 'integer', minimum: 1, maximum: 3660 }, tier: { type: 'integer', minimum: 1, maximum: 3 } } } },
  }, async (req) => {
    await auth.admin(req);
    const b = req.body as { username: string; days?: number; tier?: number };
    const c = await platform.channels.require((req.params as { name: string }).name);
    const u = await platform.users.requireByName(b.username);
    return { username: u.username, channel: c.name, ...(await platform.social.subscribe(u.id, c.id, b.days ?? 30, b.tier ?? 1)) };
  });

  app.get('/api/v1/channels/:name/managers', { schema: { params: nameParam } }, async (req) => {
    const c = await platform.channels.require((req.params as { name: string }).name);
    return { managers: await platform.channels.listRole(c.id, 'manager') } satisfies ManagerList;
  });

  app.put('/api/v1/channels/:name/managers/:username', { schema: { params: userParam } }, async (req) => {
    const p = await auth.required(req);
    const { name, username } = req.params as { name: string; username: string };
    const c = await platform.channels.require(name);
    await platform.channels.assertCanManage(c, actorOf(p), 'owner');
    const u = await platform.users.requireByName(username);
    await platform.channels.grantManager(c.id, u.id, p.kind === 'user' ? p.user.id : null);
    return { managers: await platform.channels.listRole(c.id, 'manager') } satisfies ManagerList;
  });

  app.delete('/api/v1/channels/:name/managers/:username', { schema: { params: userParam } }, async (req) => {
    const p = await auth.required(req);
    const { name, username } = req.params as { name: string; username: string };
    const c = await platform.channels.require(name);
    await platform.channels.assertCanManage(c, actorOf(p), 'owner');
    const u = await platform.users.requireByName(username);
    await platform.channels.revokeManager(c.id, u.id);
    return { managers: await platform.channels.listRole(c.id, 'manager') } satisfies ManagerList;
  });

  app.post('/api/v1/users', {
    schema: { body: { type: 'object', required: ['username', 'password'], additionalProperties: false, properties: { username: { type: 'string', pattern: USERNAME_PATTERN }, password: { type: 'string', minLength: 8, maxLength: 1024 }, displayName: { type: 'string', maxLength: 64 }, admin: { type: 'boolean' } } } },
  }, async (req, reply) => {
    await auth.admin(req);
    return reply.status(201).send({ user: PublicUserSchema.parse(await platform.users.create(req.body as never)) });
  });

  app.get('/api/v1/users', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { q: { type: 'string', maxLength: 64 }, limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, offset: { type: 'string', pattern: '^[0-9]{1,7}$' } } } },
  }, async (req) => {
    await auth.admin(req);
    const q = req.query as { q?: string; limit?: string; offset?: string };
    return (await platform.users.list({ q: q.q, limit: q.limit ? Math.min(Number(q.limit), 200) : 50, offset: q.offset ? Number(q.offset) : 0 })) satisfies UserList;
  });

  app.get('/api/v1/users/:username', { schema: { params: { type: 'object', properties: { username: { type: 'string', maxLength: 64 } } } } }, async (req) => {
    const u = await platform.users.findByName((req.params as { username: string }).username);
    if (!u) throw new AppError('not_found', 'no such user');
    return { user: UserProfileSchema.parse(toPublicUser(u)) };
  });

  app.post('/api/v1/chat/token', async (req) => {
    if (!ctx.issueChatToken) throw new AppError('unavailable', 'the chat role is not running on this node');
    const p = await auth.optional(req);
    if (p?.kind === 'admin-token') throw badRequest('chat tokens are for user accounts; use the chat server API with the API key instead');
    if (!p && !ctx.config.chat.anonymous) throw new AppError('unauthorized', 'log in to chat');
    const user = p?.kind === 'user' ? toPublicUser(p.user) : undefined;
    return (await ctx.issueChatToken(user, 3600)) satisfies ChatToken;
  });
}
