import { sql } from 'kysely';
import type { Db } from './db/connect.js';
import type { ChannelRole, ChannelsTable } from './db/schema.js';
import { AppError, conflict, forbidden, notFound } from '../http/errors.js';
import { newId, randomToken, sha256 } from './ids.js';
import { isUniqueViolation } from './users.js';
import type { StreamKeyCipher } from './stream-key-cipher.js';

export const CHANNEL_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{1,31}$';
const channelNameRe = new RegExp(CHANNEL_NAME_PATTERN);
/** Names that would collide with URL paths or protocol words. */
const RESERVED = new Set(['api', 'live', 'admin', 'studio', 'watch', 'overlay', 'vod', 'connection', 'app', 'metrics', 'healthz', 'static', 'assets']);

/** newStreamKey makes a secret publish key; the prefix makes it recognisable in logs and leak scanners. */
const newStreamKey = (): string => `live_${randomToken(24)}`;

/** IMPORTED_KEY_RE: a key brought from another server (migration) is 16–128 visible ASCII characters, without the "?" and "/" of RTMP paths. */
const IMPORTED_KEY_RE = /^[\x21-\x2e\x30-\x3e\x40-\x7e]{16,128}$/;

/** checkImportedKey refuses an imported key that is short, malformed or the channel's public name. */
export function checkImportedKey(name: string, key: string): void {
  if (!IMPORTED_KEY_RE.test(key)) throw new AppError('validation_failed', 'streamKey: 16–128 visible ASCII characters, without "/", "?" or spaces');
  // The name is public: a key that equals it (or contains it whole) would let anyone publish.
  if (key.toLowerCase().includes(name.toLowerCase())) throw new AppError('validation_failed', 'streamKey: must not contain the channel name, which is public');
}

export type { PublicChannel } from '../api/schemas.js';
import type { PublicChannel } from '../api/schemas.js';

export const toPublicChannel = (c: ChannelsTable): PublicChannel => ({
  id: c.id,
  name: c.name,
  title: c.title,
  ownerId: c.owner_id,
  recordEnabled: c.record_enabled === 1,
  captionsLanguage: c.captions_language,
  createdAt: c.created_at,
  updatedAt: c.updated_at,
});

/** ChannelService owns channels, their stream keys and per-channel roles. */
/** RolesChange says whose roles in which channel changed (owner/manager appointments). */
export interface RolesChange {
  channelId: string;
  channelName: string;
  userId: string;
}

export class ChannelService {
  private readonly roleListeners = new Set<(change: RolesChange) => void>();
  private readonly nameListeners = new Set<(name: string) => void>();

  constructor(private readonly db: Db, private readonly keyCipher: StreamKeyCipher) {}

  /**
   * onRolesChanged registers a listener for manager/owner changes, so caches of roles
   * (chat moderation) drop the user's entry at once instead of after their TTL.
   */
  onRolesChanged(listener: (change: RolesChange) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  /** onNamesChanged hears every channel created or deleted through this service (caches of channel existence). */
  onNamesChanged(listener: (name: string) => void): () => void {
    this.nameListeners.add(listener);
    return () => this.nameListeners.delete(listener);
  }

  private namesChanged(name: string): void {
    for (const l of this.nameListeners) l(name);
  }

  private async rolesChanged(channelId: string, userId: string): Promise<void> {
    if (this.roleListeners.size === 0) return;
    const row = await this.db.kysely.selectFrom('channels').select('name').where('id', '=', channelId).executeTakeFirst();
    if (!row) return;
    for (const l of this.roleListeners) l({ channelId, channelName: row.name, userId });
  }

  /**
   * create makes a channel. With maxOwned, an owner who already owns that many channels is
   * refused (too_many_channels); the count is taken inside the insert's transaction.
   */
  async create(input: { name: string; title?: string; ownerId?: string | null; maxOwned?: number; streamKey?: string }): Promise<{ channel: PublicChannel; streamKey: string }> {
    const name = input.name;
    if (!channelNameRe.test(name)) throw new AppError('validation_failed', 'name: 2-32 lowercase letters, digits, "_" or "-", starting with a letter or digit');
    if (RESERVED.has(name)) throw new AppError('validation_failed', `name: "${name}" is reserved`);
    // An imported key (migration from another server) keeps broadcasters' settings; a new one is generated.
    if (input.streamKey !== undefined) {
      checkImportedKey(name, input.streamKey);
      if (await this.resolveStreamKey(input.streamKey)) throw conflict('streamKey: another channel already has this key');
    }
    const streamKey = input.streamKey ?? newStreamKey();
    const now = Date.now();
    const id = newId();
    const row: ChannelsTable = {
      id,
      name,
      title: input.title ?? name,
      stream_key_hash: sha256(streamKey),
      stream_key_sealed: this.keyCipher.seal(id, streamKey),
      owner_id: input.ownerId ?? null,
      record_enabled: 1,
      captions_language: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.kysely.transaction().execute(async (trx) => {
        if (row.owner_id && input.maxOwned !== undefined) {
          // PostgreSQL: one owner's creates take turns, so each counts the others' inserts and the cap is
          // exact (SQLite transactions already run one at a time, BEGIN IMMEDIATE).
          if (this.db.engine === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`onair-channels-owner:${row.owner_id}`}))`.execute(trx);
          const owned = await trx.selectFrom('channel_roles').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', row.owner_id).where('role', '=', 'owner').executeTakeFirst();
          if (Number(owned?.n ?? 0) >= input.maxOwned) throw new AppError('too_many_channels', `you already own ${input.maxOwned} channels, the most allowed here (channels.maxPerUser)`, { max: input.maxOwned });
        }
        await trx.insertInto('channels').values(row).execute();
        if (row.owner_id) await trx.insertInto('channel_roles').values({ channel_id: row.id, user_id: row.owner_id, role: 'owner', granted_by: null, created_at: now }).execute();
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`channel "${name}" exists`);
      throw err;
    }
    this.namesChanged(name);
    return { channel: toPublicChannel(row), streamKey };
  }

  async find(name: string): Promise<ChannelsTable | undefined> {
    return this.db.kysely.selectFrom('channels').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async require(name: string): Promise<ChannelsTable> {
    const c = await this.find(name);
    if (!c) throw notFound(`no channel "${name}"`);
    return c;
  }

  async list(opts: { q?: string; limit?: number; offset?: number } = {}): Promise<ChannelsTable[]> {
    let q = this.db.kysely.selectFrom('channels').selectAll().orderBy('name').limit(opts.limit ?? 100).offset(opts.offset ?? 0);
    if (opts.q) q = q.where((eb) => eb.or([eb('name', 'like', `%${opts.q}%`), eb('title', 'like', `%${opts.q}%`)]));
    return q.execute();
  }

  async update(name: string, patch: { title?: string; recordEnabled?: boolean; captionsLanguage?: string | null }): Promise<ChannelsTable> {
    const c = await this.require(name);
    const set: Partial<ChannelsTable> = { updated_at: Date.now() };
    if (patch.title !== undefined) set.title = patch.title;
    if (patch.recordEnabled !== undefined) set.record_enabled = patch.recordEnabled ? 1 : 0;
    if (patch.captionsLanguage !== undefined) set.captions_language = patch.captionsLanguage;
    await this.db.kysely.updateTable('channels').set(set).where('id', '=', c.id).execute();
    return { ...c, ...set };
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.kysely.deleteFrom('channels').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`no channel "${name}"`);
    this.namesChanged(name);
  }

  /** rotateKey replaces the stream key; the old one stops working at once. */
  async rotateKey(name: string): Promise<string> {
    const c = await this.require(name);
    const streamKey = newStreamKey();
    await this.db.kysely.updateTable('channels').set({ stream_key_hash: sha256(streamKey), stream_key_sealed: this.keyCipher.seal(c.id, streamKey), updated_at: Date.now() }).where('id', '=', c.id).execute();
    return streamKey;
  }

  /**
   * revealKey gives a channel's current stream key (callers check who may see it). A key made
   * before keys were sealed, or sealed under another streamKey.secret, answers
   * stream_key_not_recoverable: rotating makes a new one that can be revealed.
   */
  revealKey(channel: ChannelsTable): string {
    if (channel.stream_key_sealed === null) {
      throw new AppError('stream_key_not_recoverable', `the stream key of "${channel.name}" was made before keys were kept encrypted; rotate it to get one that can be shown`, { reason: 'not_sealed' });
    }
    const key = this.keyCipher.open(channel.id, channel.stream_key_sealed);
    // A key that does not open (streamKey.secret changed) or no longer matches the lookup hash is not shown.
    if (key === undefined || sha256(key) !== channel.stream_key_hash) {
      throw new AppError('stream_key_not_recoverable', `the stream key of "${channel.name}" cannot be decrypted with this node's streamKey.secret (changed, or different on another node); rotate it to get one that can be shown`, { reason: 'secret_mismatch' });
    }
    return key;
  }

  /** resolveStreamKey maps a publish key to its channel, or undefined for a wrong/rotated key. */
  async resolveStreamKey(key: string): Promise<ChannelsTable | undefined> {
    if (!key || key.length > 256) return undefined;
    return this.db.kysely.selectFrom('channels').selectAll().where('stream_key_hash', '=', sha256(key)).executeTakeFirst();
  }

  async rolesOf(channelId: string, userId: string): Promise<ChannelRole[]> {
    const rows = await this.db.kysely.selectFrom('channel_roles').select('role').where('channel_id', '=', channelId).where('user_id', '=', userId).execute();
    return rows.map((r) => r.role);
  }

  /** rolesByChannel gives every channel role a user holds, keyed by channel name. */
  async rolesByChannel(userId: string): Promise<Record<string, string[]>> {
    const rows = await this.db.kysely
      .selectFrom('channel_roles')
      .innerJoin('channels', 'channels.id', 'channel_roles.channel_id')
      .select(['channels.name as name', 'channel_roles.role as role'])
      .where('channel_roles.user_id', '=', userId)
      .execute();
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.name] ??= []).push(r.role);
    return out;
  }

  async listRole(channelId: string, role: ChannelRole): Promise<{ userId: string; username: string; createdAt: number }[]> {
    return this.db.kysely
      .selectFrom('channel_roles')
      .innerJoin('users', 'users.id', 'channel_roles.user_id')
      .select(['users.id as userId', 'users.username as username', 'channel_roles.created_at as createdAt'])
      .where('channel_roles.channel_id', '=', channelId)
      .where('channel_roles.role', '=', role)
      .orderBy('users.username')
      .execute();
  }

  /** grantManager appoints a manager; only the owner (or an admin) may, checked by the caller's roles. */
  async grantManager(channelId: string, userId: string, grantedBy: string | null): Promise<void> {
    const roles = await this.rolesOf(channelId, userId);
    if (roles.includes('owner')) throw conflict('the owner already has every right');
    if (roles.includes('manager')) return;
    await this.db.kysely.insertInto('channel_roles').values({ channel_id: channelId, user_id: userId, role: 'manager', granted_by: grantedBy, created_at: Date.now() }).execute();
    await this.rolesChanged(channelId, userId);
  }

  async revokeManager(channelId: string, userId: string): Promise<boolean> {
    const r = await this.db.kysely.deleteFrom('channel_roles').where('channel_id', '=', channelId).where('user_id', '=', userId).where('role', '=', 'manager').executeTakeFirst();
    const removed = Number(r.numDeletedRows) > 0;
    if (removed) await this.rolesChanged(channelId, userId);
    return removed;
  }

  async setOwner(channelId: string, userId: string): Promise<void> {
    const previous = await this.db.kysely.selectFrom('channel_roles').select('user_id').where('channel_id', '=', channelId).where('role', '=', 'owner').execute();
    await this.db.kysely.transaction().execute(async (trx) => {
      await trx.deleteFrom('channel_roles').where('channel_id', '=', channelId).where('role', '=', 'owner').execute();
      await trx.deleteFrom('channel_roles').where('channel_id', '=', channelId).where('user_id', '=', userId).execute();
      await trx.insertInto('channel_roles').values({ channel_id: channelId, user_id: userId, role: 'owner', granted_by: null, created_at: Date.now() }).execute();
      await trx.updateTable('channels').set({ owner_id: userId, updated_at: Date.now() }).where('id', '=', channelId).execute();
    });
    for (const id of new Set([userId, ...previous.map((r) => r.user_id)])) await this.rolesChanged(channelId, id);
  }

  /** assertCanManage throws unless the user owns or manages the channel (or is a global admin). */
  async assertCanManage(channel: ChannelsTable, user: { id: string; is_admin: number }, need: 'owner' | 'manager' = 'manager'): Promise<void> {
    if (user.is_admin === 1) return;
    const roles = await this.rolesOf(channel.id, user.id);
    if (roles.includes('owner')) return;
    if (need === 'manager' && roles.includes('manager')) return;
    throw forbidden(need === 'owner' ? 'only the channel owner may do this' : 'only the channel owner or a manager may do this');
  }
}
