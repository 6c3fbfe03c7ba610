/**
 * Redis Broker and PresenceManager (ioredis). One command connection and one
 * subscriber connection per node, never per client.
 *
 * Keys (prefix `onair.chat` by default, channel name appended):
 *   {p}.meta.{ch}     hash  e = epoch, s = top offset; expires metaTtl after the last publish
 *   {p}.stream.{ch}   stream of publications, id `{offset}-0`, field d = publication JSON
 *   {p}.ch.{ch}       pub/sub: `p{offset}:{epoch}:{json}` publication, `j{json}` join, `l{json}` leave
 *   {p}.control       pub/sub: control messages between nodes (JSON)
 *   {p}.pres.z.{ch}   zset clientId → expiry (ms);  {p}.pres.h.{ch} hash clientId → ClientInfo JSON
 */
import type { Redis } from 'ioredis';
import { newRedis } from '../../net/redis-client.js';
import type { Logger } from '../../observability/logger.js';
import type { ClientInfo, Publication, StreamPosition } from '../protocol/codec.js';
import { newEpoch } from './memory.js';
import {
  countPresence,
  type Broker,
  type BrokerEventHandler,
  type ControlMessage,
  type HistoryOptions,
  type HistoryQuery,
  type HistoryResult,
  type PresenceManager,
  type PresenceStats,
} from './types.js';

/** DEFAULT_PREFIX starts every key and pub/sub channel name of the chat broker in Redis. */
export const DEFAULT_PREFIX = 'onair.chat';
/** controlChannelOf is the pub/sub channel every chat node listens to for control messages. */
export const controlChannelOf = (prefix: string): string => prefix + '.control';
const MSG_PUB = 'p';
const MSG_JOIN = 'j';
const MSG_LEAVE = 'l';

// Adds a publication to the stream and publishes it, atomically. A missing meta
// hash means a new epoch (any leftover stream is dropped so ids restart).
const PUBLISH_LUA = `
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[5]
  redis.call('hset', KEYS[2], 'e', epoch)
  redis.call('del', KEYS[1])
end
local offset = redis.call('hincrby', KEYS[2], 's', 1)
redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[2], offset .. '-0', 'd', ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('expire', KEYS[1], ARGV[3]) end
redis.call('expire', KEYS[2], ARGV[4])
redis.call('publish', ARGV[6], 'p' .. offset .. ':' .. epoch .. ':' .. ARGV[1])
return {offset, epoch}
`;

// Reads the stream position and, unless limit is 0, publications.
// ARGV: 1 new epoch, 2 meta ttl, 3 since offset ('' = none), 4 since epoch, 5 limit (-1 = all), 6 reverse ('1'/'0')
const HISTORY_LUA = `
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('hset', KEYS[2], 'e', epoch)
  redis.call('del', KEYS[1])
end
local top = tonumber(redis.call('hget', KEYS[2], 's') or '0')
if tonumber(ARGV[2]) > 0 then redis.call('expire', KEYS[2], ARGV[2]) end
local limit = tonumber(ARGV[5])
if limit == 0 then return {top, epoch, {}} end
if ARGV[4] ~= '' and ARGV[4] ~= epoch then return {top, epoch, {}} end
local entries
if ARGV[6] == '1' then
  local hi = '+'
  if ARGV[3] ~= '' then hi = '(' .. ARGV[3] .. '-0' end
  if limit > 0 then entries = redis.call('xrevrange', KEYS[1], hi, '-', 'COUNT', limit)
  else entries = redis.call('xrevrange', KEYS[1], hi, '-') end
else
  local lo = '-'
  if ARGV[3] ~= '' then lo = '(' .. ARGV[3] .. '-0' end
  if limit > 0 then entries = redis.call('xrange', KEYS[1], lo, '+', 'COUNT', limit)
  else entries = redis.call('xrange', KEYS[1], lo, '+') end
end
return {top, epoch, entries}
`;

const PRESENCE_ADD_LUA = `
redis.call('zadd', KEYS[1], ARGV[3], ARGV[1])
redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
-- Keys live as long as their longest-lived entry: only ever extend their TTL.
local ttl = tonumber(ARGV[4])
for _, k in ipairs(KEYS) do
  if redis.call('ttl', k) < ttl then redis.call('expire', k, ttl) end
end
return 1
`;

const PRESENCE_GET_LUA = `
local expired = redis.call('zrangebyscore', KEYS[1], '0', ARGV[1])
for _, id in ipairs(expired) do
  redis.call('zrem', KEYS[1], id)
  redis.call('hdel', KEYS[2], id)
end
return redis.call('hgetall', KEYS[2])
`;

interface ScriptedRedis extends Redis {
  onairPublish(stream: string, meta: string, body: string, size: number, ttl: number, metaTtl: number, epoch: string, chan: string): Promise<[number, string]>;
  onairHistory(
    stream: string,
    meta: string,
    epoch: string,
    metaTtl: number,
    since: string,
    sinceEpoch: string,
    limit: number,
    reverse: string,
  ): Promise<[number, string, [string, string[]][]]>;
  onairPresenceAdd(z: string, h: string, id: string, info: string, expireAt: number, ttl: number): Promise<number>;
  onairPresenceGet(z: string, h: string, now: number): Promise<string[]>;
}

function scripted(url: string, extra: Record<string, unknown> = {}): ScriptedRedis {
  const r = newRedis(url, { maxRetriesPerRequest: 3, lazyConnect: true, ...extra }) as ScriptedRedis;
  r.defineCommand('onairPublish', { numberOfKeys: 2, lua: PUBLISH_LUA });
  r.defineCommand('onairHistory', { numberOfKeys: 2, lua: HISTORY_LUA });
  r.defineCommand('onairPresenceAdd', { numberOfKeys: 2, lua: PRESENCE_ADD_LUA });
  r.defineCommand('onairPresenceGet', { numberOfKeys: 2, lua: PRESENCE_GET_LUA });
  return r;
}

/** Stored form of a publication (without offset): d = raw data, i = info, t = tags, x = delta wanted. */
interface StoredPub {
  d: unknown;
  i?: { u: string; c: string; ci?: unknown; hi?: unknown };
  t?: Record<string, string>;
  x?: 1;
}

function encodeStored(pub: Publication): string {
  let s = '{"d":' + pub.data;
  if (pub.info) {
    s += ',"i":{"u":' + JSON.stringify(pub.info.user) + ',"c":' + JSON.stringify(pub.info.client);
    if (pub.info.connInfo !== undefined) s += ',"ci":' + pub.info.connInfo;
    if (pub.info.chanInfo !== undefined) s += ',"hi":' + pub.info.chanInfo;
    s += '}';
  }
  if (pub.tags) s += ',"t":' + JSON.stringify(pub.tags);
  if (pub.deltaWanted === true) s += ',"x":1';
  return s + '}';
}

function decodeStored(text: string, offset: number): Publication {
  const v = JSON.parse(text) as StoredPub;
  const pub: Publication = { data: JSON.stringify(v.d) };
  if (v.i) {
    pub.info = { user: v.i.u, client: v.i.c };
    if (v.i.ci !== undefined) pub.info.connInfo = JSON.stringify(v.i.ci);
    if (v.i.hi !== undefined) pub.info.chanInfo = JSON.stringify(v.i.hi);
  }
  if (v.t) pub.tags = v.t;
  if (v.x === 1) pub.deltaWanted = true;
  if (offset > 0) pub.offset = offset;
  return pub;
}

function encodeInfo(ci: ClientInfo): string {
  return JSON.stringify({ u: ci.user, c: ci.client, ci: ci.connInfo, hi: ci.chanInfo });
}

function decodeInfo(text: string): ClientInfo {
  const v = JSON.parse(text) as { u: string; c: string; ci?: string; hi?: string };
  const ci: ClientInfo = { user: v.u, client: v.c };
  if (v.ci !== undefined) ci.connInfo = v.ci;
  if (v.hi !== undefined) ci.chanInfo = v.hi;
  return ci;
}

/** RedisBroker implements Broker over Redis pub/sub, streams and Lua scripts. */
export class RedisBroker implements Broker {
  readonly name = 'redis';
  private readonly url: string;
  private readonly prefix: string;
  private readonly logger: Logger | undefined;
  private cmd: ScriptedRedis | null = null;
  private sub: Redis | null = null;
  private handler: BrokerEventHandler | null = null;
  private readonly chanPrefix: string;
  private readonly controlChannel: string;
  private readyOnce = false;

  constructor(opts: { url: string; prefix?: string; logger?: Logger }) {
    this.url = opts.url;
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.logger = opts.logger;
    this.chanPrefix = this.prefix + '.ch.';
    this.controlChannel = controlChannelOf(this.prefix);
  }

  async start(handler: BrokerEventHandler): Promise<void> {
    this.handler = handler;
    this.cmd = scripted(this.url);
    this.sub = newRedis(this.url, { lazyConnect: true, maxRetriesPerRequest: null });
    this.cmd.on('error', (err) => this.logger?.warn({ err: err.message }, 'chat redis: command connection error'));
    this.sub.on('error', (err) => this.logger?.warn({ err: err.message }, 'chat redis: subscriber connection error'));
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.sub.on('ready', () => {
      if (this.readyOnce) this.handler?.onResync?.();
      this.readyOnce = true;
    });
    await this.cmd.connect();
    await this.sub.connect();
    await this.sub.subscribe(this.controlChannel);
  }

  async close(): Promise<void> {
    this.handler = null;
    const c = this.cmd;
    const s = this.sub;
    this.cmd = this.sub = null;
    await Promise.all([c?.quit().catch(() => c.disconnect()), s?.quit().catch(() => s.disconnect())]);
  }

  private onMessage(channel: string, message: string): void {
    const h = this.handler;
    if (!h) return;
    try {
      if (channel === this.controlChannel) {
        h.onControl(JSON.parse(message) as ControlMessage);
        return;
      }
      if (!channel.startsWith(this.chanPrefix)) return;
      const ch = channel.slice(this.chanPrefix.length);
      const kind = message[0];
      if (kind === MSG_PUB) {
        const c1 = message.indexOf(':');
        const c2 = message.indexOf(':', c1 + 1);
        const offset = Number(message.slice(1, c1));
        const epoch = message.slice(c1 + 1, c2);
        h.onPublication(ch, decodeStored(message.slice(c2 + 1), offset), epoch);
      } else if (kind === MSG_JOIN) h.onJoin(ch, decodeInfo(message.slice(1)));
      else if (kind === MSG_LEAVE) h.onLeave(ch, decodeInfo(message.slice(1)));
    } catch (err) {
      this.logger?.warn({ err, channel }, 'chat redis: bad message');
    }
  }

  private c(): ScriptedRedis {
    if (!this.cmd) throw new Error('redis broker not started');
    return this.cmd;
  }

  async subscribe(channel: string): Promise<void> {
    if (!this.sub) throw new Error('redis broker not started');
    await this.sub.subscribe(this.chanPrefix + channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.sub) return;
    await this.sub.unsubscribe(this.chanPrefix + channel);
  }

  private streamKey(ch: string): string {
    return this.prefix + '.stream.' + ch;
  }

  private metaKey(ch: string): string {
    return this.prefix + '.meta.' + ch;
  }

  async publish(channel: string, pub: Publication, history: HistoryOptions): Promise<StreamPosition> {
    const body = encodeStored(pub);
    if (history.size <= 0) {
      await this.c().publish(this.chanPrefix + channel, MSG_PUB + '0::' + body);
      return { offset: 0, epoch: '' };
    }
    const [offset, epoch] = await this.c().onairPublish(
      this.streamKey(channel),
      this.metaKey(channel),
      body,
      history.size,
      history.ttlSeconds,
      Math.max(history.metaTtlSeconds, history.ttlSeconds),
      newEpoch(),
      this.chanPrefix + channel,
    );
    return { offset: Number(offset), epoch };
  }

  async publishJoin(channel: string, info: ClientInfo): Promise<void> {
    await this.c().publish(this.chanPrefix + channel, MSG_JOIN + encodeInfo(info));
  }

  async publishLeave(channel: string, info: ClientInfo): Promise<void> {
    await this.c().publish(this.chanPrefix + channel, MSG_LEAVE + encodeInfo(info));
  }

  async publishControl(msg: ControlMessage): Promise<void> {
    await this.c().publish(this.controlChannel, JSON.stringify(msg));
  }

  async history(channel: string, q: HistoryQuery): Promise<HistoryResult> {
    const [top, epoch, entries] = await this.c().onairHistory(
      this.streamKey(channel),
      this.metaKey(channel),
      newEpoch(),
      q.metaTtlSeconds,
      q.since ? String(q.since.offset) : '',
      q.since ? q.since.epoch : '',
      q.limit,
      q.reverse ? '1' : '0',
    );
    const publications: Publication[] = [];
    for (const [id, fields] of entries) {
      const offset = Number(id.slice(0, id.indexOf('-')));
      const di = fields.indexOf('d');
      const data = di < 0 ? undefined : fields[di + 1];
      if (data === undefined) continue;
      publications.push(decodeStored(data, offset));
    }
    return { publications, position: { offset: Number(top), epoch } };
  }

  async removeHistory(channel: string): Promise<void> {
    await this.c().del(this.streamKey(channel));
  }
}

/** RedisPresenceManager implements PresenceManager with a zset of expiries and a hash of infos per channel. */
export class RedisPresenceManager implements PresenceManager {
  private readonly r: ScriptedRedis;
  private readonly prefix: string;
  private connected: Promise<void> | null = null;

  constructor(opts: { url: string; prefix?: string }) {
    this.r = scripted(opts.url);
    this.r.on('error', () => undefined);
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
  }

  private async ready(): Promise<ScriptedRedis> {
    if (this.r.status === 'wait') this.connected ??= this.r.connect();
    if (this.connected) await this.connected;
    return this.r;
  }

  private keys(ch: string): [string, string] {
    return [this.prefix + '.pres.z.' + ch, this.prefix + '.pres.h.' + ch];
  }

  async addPresence(channel: string, clientId: string, info: ClientInfo, ttlSeconds: number): Promise<void> {
    const [z, h] = this.keys(channel);
    const r = await this.ready();
    await r.onairPresenceAdd(z, h, clientId, encodeInfo(info), Date.now() + ttlSeconds * 1000, ttlSeconds);
  }

  async removePresence(channel: string, clientId: string): Promise<void> {
    const [z, h] = this.keys(channel);
    const r = await this.ready();
    await r.multi().zrem(z, clientId).hdel(h, clientId).exec();
  }

  async presence(channel: string): Promise<Record<string, ClientInfo>> {
    const [z, h] = this.keys(channel);
    const r = await this.ready();
    const flat = await r.onairPresenceGet(z, h, Date.now());
    const out: Record<string, ClientInfo> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const client = flat[i];
      const info = flat[i + 1];
      if (client !== undefined && info !== undefined) out[client] = decodeInfo(info);
    }
    return out;
  }

  async presenceStats(channel: string): Promise<PresenceStats> {
    return countPresence(await this.presence(channel));
  }

  async close(): Promise<void> {
    if (this.r.status === 'wait' || this.r.status === 'end') {
      this.r.disconnect();
      return;
    }
    await this.r.quit().catch(() => this.r.disconnect());
  }
}
