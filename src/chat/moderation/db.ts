/**
 * Moderation tables and their store: bans and timeouts (with expiry), chat
 * modes, filter words (per channel and global) and the audit log. Portable
 * types only (text, bigint epoch ms, integer flags), same code on SQLite and
 * PostgreSQL. Registered with the platform migrations at module load.
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import { newId } from '../../platform/ids.js';
import { DEFAULT_MODES, type ModeSettings } from './commands.js';
import type { FilterAction, FilterEntry } from './filter.js';

/** GLOBAL_SCOPE is the filter scope of the site-wide list (channel entries use the channel id). */
export const GLOBAL_SCOPE = '*';

export interface ModerationSettingsRow {
  channel_id: string;
  slow_seconds: number;
  sub_only: number;
  follow_only_minutes: number | null;
  emote_only: number;
  unique_chat: number;
  block_links: number;
  /** 1 = the default word list applies (migration 0965). */
  default_filter: number;
  updated_by: string | null;
  updated_at: number;
}

export type RestrictionKind = 'ban' | 'timeout';

export interface ModerationBanRow {
  channel_id: string;
  user_id: string;
  kind: RestrictionKind;
  reason: string | null;
  /** null = permanent. */
  expires_at: number | null;
  created_by: string | null;
  created_at: number;
}

export interface ModerationFilterRow {
  scope: string;
  word: string;
  action: FilterAction;
  created_by: string | null;
  created_at: number;
}

export interface ModerationAuditRow {
  id: string;
  channel_id: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target_id: string | null;
  target_name: string | null;
  reason: string | null;
  /** JSON text. */
  details: string | null;
  created_at: number;
}

/** ModerationHeldRow is a message a `hold` filter word keeps out of the room until a manager decides. */
export interface ModerationHeldRow {
  id: string;
  channel_id: string;
  user_id: string;
  /** The ChatMessage to publish on approval, as JSON text. */
  message: string;
  /** The filter word that held it. */
  word: string;
  created_at: number;
}

interface ModerationTables {
  moderation_settings: ModerationSettingsRow;
  moderation_held: ModerationHeldRow;
  moderation_bans: ModerationBanRow;
  moderation_filters: ModerationFilterRow;
  moderation_audit: ModerationAuditRow;
}

export const moderationMigrations: Record<string, Migration> = {
  '0300_moderation': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('moderation_settings')
        .addColumn('channel_id', 'text', (c) => c.primaryKey().references('channels.id').onDelete('cascade'))
        .addColumn('slow_seconds', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('sub_only', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('follow_only_minutes', 'integer')
        .addColumn('emote_only', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('unique_chat', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('block_links', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_by', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('moderation_bans')
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('expires_at', 'bigint')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('moderation_bans_pk', ['channel_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('moderation_filters')
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('word', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('moderation_filters_pk', ['scope', 'word'])
        .execute();
      await db.schema
        .createTable('moderation_audit')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel_id', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('actor_name', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text')
        .addColumn('target_name', 'text')
        .addColumn('reason', 'text')
        .addColumn('details', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('moderation_audit_channel_time').on('moderation_audit').columns(['channel_id', 'created_at']).execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ['moderation_audit', 'moderation_filters', 'moderation_bans', 'moderation_settings']) await db.schema.dropTable(t).execute();
    },
  },
  // The default word list switch (on for every channel, old and new) and the review queue of held messages.
  '0965_moderation_review': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('moderation_settings').addColumn('default_filter', 'integer', (c) => c.notNull().defaultTo(1)).execute();
      await db.schema
        .createTable('moderation_held')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('word', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('moderation_held_channel_time').on('moderation_held').columns(['channel_id', 'created_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('moderation_held').execute();
      await db.schema.alterTable('moderation_settings').dropColumn('default_filter').execute();
    },
  },
};


export interface Restriction {
  userId: string;
  kind: RestrictionKind;
  reason: string | null;
  expiresAt: number | null;
  createdBy: string | null;
  createdAt: number;
}

export interface AuditEntry {
  id: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetId: string | null;
  targetName: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
  createdAt: number;
}

/** ModerationStore reads and writes the moderation tables. */
export class ModerationStore {
  private readonly k: Kysely<ModerationTables>;
  constructor(readonly db: Db) {
    this.k = db.kysely as unknown as Kysely<ModerationTables>;
  }

  async settings(channelId: string): Promise<ModeSettings> {
    const r = await this.k.selectFrom('moderation_settings').selectAll().where('channel_id', '=', channelId).executeTakeFirst();
    if (!r) return { ...DEFAULT_MODES };
    return {
      slowSeconds: r.slow_seconds,
      subOnly: r.sub_only === 1,
      followOnlyMinutes: r.follow_only_minutes === null ? null : Number(r.follow_only_minutes),
      emoteOnly: r.emote_only === 1,
      uniqueChat: r.unique_chat === 1,
      blockLinks: r.block_links === 1,
      defaultFilter: r.default_filter !== 0,
    };
  }

  async saveSettings(channelId: string, s: ModeSettings, by: string | null): Promise<void> {
    const row: ModerationSettingsRow = {
      channel_id: channelId,
      slow_seconds: s.slowSeconds,
      sub_only: s.subOnly ? 1 : 0,
      follow_only_minutes: s.followOnlyMinutes,
      emote_only: s.emoteOnly ? 1 : 0,
      unique_chat: s.uniqueChat ? 1 : 0,
      block_links: s.blockLinks ? 1 : 0,
      default_filter: s.defaultFilter ? 1 : 0,
      updated_by: by,
      updated_at: Date.now(),
    };
    const { channel_id: _id, ...set } = row;
    await this.k.insertInto('moderation_settings').values(row).onConflict((oc) => oc.column('channel_id').doUpdateSet(set)).execute();
  }

  /** activeRestrictions lists bans and timeouts of a channel that have not expired at `now`. */
  async activeRestrictions(channelId: string, now = Date.now()): Promise<Restriction[]> {
    const rows = await this.k.selectFrom('moderation_bans').selectAll().where('channel_id', '=', channelId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)])).orderBy('created_at', 'desc').execute();
    return rows.map(toRestriction);
  }

  async restriction(channelId: string, userId: string): Promise<Restriction | undefined> {
    const r = await this.k.selectFrom('moderation_bans').selectAll().where('channel_id', '=', channelId).where('user_id', '=', userId).executeTakeFirst();
    return r ? toRestriction(r) : undefined;
  }

  /** restrict bans or times out a user, replacing any earlier restriction. */
  async restrict(channelId: string, r: Restriction): Promise<void> {
    const row: ModerationBanRow = { channel_id: channelId, user_id: r.userId, kind: r.kind, reason: r.reason, expires_at: r.expiresAt, created_by: r.createdBy, created_at: r.createdAt };
    const { channel_id: _c, user_id: _u, ...set } = row;
    await this.k.insertInto('moderation_bans').values(row).onConflict((oc) => oc.columns(['channel_id', 'user_id']).doUpdateSet(set)).execute();
  }

  /** lift removes a restriction of that kind; answers whether an active one existed. */
  async lift(channelId: string, userId: string, kind: RestrictionKind): Promise<boolean> {
    const r = await this.k.deleteFrom('moderation_bans').where('channel_id', '=', channelId).where('user_id', '=', userId).where('kind', '=', kind)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', Date.now())])).executeTakeFirst();
    // Expired rows of that kind are garbage either way.
    await this.k.deleteFrom('moderation_bans').where('channel_id', '=', channelId).where('user_id', '=', userId).where('kind', '=', kind).execute();
    return Number(r.numDeletedRows) > 0;
  }

  /** purgeExpired deletes restrictions that ended before `now`. */
  async purgeExpired(now = Date.now()): Promise<number> {
    const r = await this.k.deleteFrom('moderation_bans').where('expires_at', 'is not', null).where('expires_at', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async filters(scope: string): Promise<(FilterEntry & { createdAt: number })[]> {
    const rows = await this.k.selectFrom('moderation_filters').selectAll().where('scope', '=', scope).orderBy('word').execute();
    return rows.map((r) => ({ word: r.word, action: r.action, createdAt: r.created_at }));
  }

  async addFilter(scope: string, word: string, action: FilterAction, by: string | null): Promise<void> {
    await this.k.insertInto('moderation_filters').values({ scope, word, action, created_by: by, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['scope', 'word']).doUpdateSet({ action })).execute();
  }

  async removeFilter(scope: string, word: string): Promise<boolean> {
    const r = await this.k.deleteFrom('moderation_filters').where('scope', '=', scope).where('word', '=', word).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** hold queues a message for review; the id is the message's own. */
  async hold(channelId: string, h: { id: string; userId: string; message: unknown; word: string; createdAt: number }): Promise<void> {
    await this.k.insertInto('moderation_held').values({ id: h.id, channel_id: channelId, user_id: h.userId, message: JSON.stringify(h.message), word: h.word, created_at: h.createdAt }).execute();
  }

  /** heldMessages lists a channel's queue, oldest first. */
  async heldMessages(channelId: string, limit = 100): Promise<HeldMessage[]> {
    const rows = await this.k.selectFrom('moderation_held').selectAll().where('channel_id', '=', channelId).orderBy('created_at').orderBy('id').limit(Math.min(limit, 500)).execute();
    return rows.map(toHeld);
  }

  /** takeHeld removes one held message and answers it (undefined when another manager decided first). */
  async takeHeld(channelId: string, id: string): Promise<HeldMessage | undefined> {
    const row = await this.k.deleteFrom('moderation_held').where('channel_id', '=', channelId).where('id', '=', id).returningAll().executeTakeFirst();
    return row ? toHeld(row) : undefined;
  }

  async audit(channelId: string, e: Omit<AuditEntry, 'id' | 'createdAt'> & { createdAt?: number }): Promise<AuditEntry> {
    const entry: AuditEntry = { ...e, id: newId(), createdAt: e.createdAt ?? Date.now() };
    await this.k.insertInto('moderation_audit').values({
      id: entry.id, channel_id: channelId, actor_id: e.actorId, actor_name: e.actorName, action: e.action, target_id: e.targetId, target_name: e.targetName,
      reason: e.reason, details: e.details ? JSON.stringify(e.details) : null, created_at: entry.createdAt,
    }).execute();
    return entry;
  }

  /** auditLog lists a channel's actions newest first; `before` pages by time. */
  async auditLog(channelId: string, opts: { limit?: number; before?: number; action?: string } = {}): Promise<AuditEntry[]> {
    let q = this.k.selectFrom('moderation_audit').selectAll().where('channel_id', '=', channelId);
    if (opts.before !== undefined) q = q.where('created_at', '<', opts.before);
    if (opts.action) q = q.where('action', '=', opts.action);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id').limit(Math.min(opts.limit ?? 100, 500)).execute();
    return rows.map((r) => ({
      id: r.id, actorId: r.actor_id, actorName: r.actor_name, action: r.action, targetId: r.target_id, targetName: r.target_name,
      reason: r.reason, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null, createdAt: Number(r.created_at),
    }));
  }
}

/** HeldMessage is one entry of the review queue. */
export interface HeldMessage {
  id: string;
  userId: string;
  message: unknown;
  word: string;
  createdAt: number;
}

function toHeld(r: ModerationHeldRow): HeldMessage {
  return { id: r.id, userId: r.user_id, message: JSON.parse(r.message) as unknown, word: r.word, createdAt: Number(r.created_at) };
}

function toRestriction(r: ModerationBanRow): Restriction {
  return { userId: r.user_id, kind: r.kind, reason: r.reason, expiresAt: r.expires_at === null ? null : Number(r.expires_at), createdBy: r.created_by, createdAt: Number(r.created_at) };
}
