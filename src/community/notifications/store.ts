/**
 * NotificationStore keeps followers' notifications: the once-per-session claim of a go-live
 * notice, the fan-out rows, a user's pages and read marks.
 */
import type { Kysely } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import { newId } from '../../platform/ids.js';
import { notificationsDb, type NotificationsDatabase } from './db.js';

/** NOTIFICATION_TYPE_LIVE: a followed channel went live. */
export const NOTIFICATION_TYPE_LIVE = 'live';
/** INSERT_CHUNK bounds the rows of one insert (SQLite's bound variables, PostgreSQL's packet). */
const INSERT_CHUNK = 200;
/** MAX_PAGE bounds one page of a user's list. */
export const MAX_PAGE = 100;

/** Notification is one entry of a user's list, as the API answers it. */
export interface Notification {
  id: string;
  type: string;
  channel: string;
  title: string;
  createdAt: number;
  read: boolean;
}

/** LiveAnnouncement is what a claimed go-live notice wrote: who to push it to, and what. */
export interface LiveAnnouncement {
  /** Each follower with their own notification (ids differ per user). */
  deliveries: { userId: string; notification: Notification }[];
}

/** NotificationPage is one page of a user's list; next is the cursor of the following page, or null. */
export interface NotificationPage {
  notifications: Notification[];
  next: string | null;
  unread: number;
}

const encodeCursor = (createdAt: number, id: string): string => `${createdAt}_${id}`;

function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const i = cursor.indexOf('_');
  if (i <= 0) return null;
  const createdAt = Number(cursor.slice(0, i));
  const id = cursor.slice(i + 1);
  return Number.isSafeInteger(createdAt) && id !== '' ? { createdAt, id } : null;
}

export class NotificationStore {
  private readonly k: Kysely<NotificationsDatabase>;

  constructor(db: Db, private readonly opts: { cooldownMs: number }) {
    this.k = notificationsDb(db);
  }

  /**
   * claimLive is true for exactly one caller per live session of a channel, on any node: the
   * first to announce it, unless the channel was announced within the cooldown (a reconnect or a
   * hot-standby takeover is the same session for its followers).
   */
  async claimLive(channelId: string, session: string, now = Date.now()): Promise<boolean> {
    const updated = await this.k.updateTable('live_notices').set({ session, notified_at: now })
      .where('channel_id', '=', channelId).where('session', '!=', session).where('notified_at', '<=', now - this.opts.cooldownMs)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 1) return true;
    const inserted = await this.k.insertInto('live_notices').values({ channel_id: channelId, session, notified_at: now })
      .onConflict((oc) => oc.column('channel_id').doNothing()).executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** announceLive writes one notification per follower of the channel (call after claimLive). */
  async announceLive(channel: { id: string; name: string; title: string }, session: string, now = Date.now()): Promise<LiveAnnouncement> {
    const followers = await this.k.selectFrom('follows').select('user_id').where('channel_id', '=', channel.id).execute();
    const deliveries = followers.map((f) => ({
      userId: f.user_id,
      notification: { id: newId(), type: NOTIFICATION_TYPE_LIVE, channel: channel.name, title: channel.title, createdAt: now, read: false },
    }));
    for (let i = 0; i < deliveries.length; i += INSERT_CHUNK) {
      const rows = deliveries.slice(i, i + INSERT_CHUNK).map((d) => ({
        id: d.notification.id, user_id: d.userId, type: d.notification.type, channel_id: channel.id, channel_name: channel.name,
        title: channel.title, session, created_at: now, read_at: null,
      }));
      await this.k.insertInto('notifications').values(rows).execute();
    }
    return { deliveries };
  }

  /** list is a user's notifications newest first, `limit` from the cursor on. */
  async list(userId: string, opts: { limit: number; cursor?: string }): Promise<NotificationPage> {
    const limit = Math.min(Math.max(1, Math.trunc(opts.limit)), MAX_PAGE);
    let q = this.k.selectFrom('notifications').selectAll().where('user_id', '=', userId);
    if (opts.cursor !== undefined) {
      const c = decodeCursor(opts.cursor);
      if (!c) throw new RangeError('cursor');
      q = q.where((eb) => eb.or([eb('created_at', '<', c.createdAt), eb.and([eb('created_at', '=', c.createdAt), eb('id', '<', c.id)])]));
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      notifications: page.map((r) => ({ id: r.id, type: r.type, channel: r.channel_name, title: r.title, createdAt: Number(r.created_at), read: r.read_at !== null })),
      next: rows.length > limit && last ? encodeCursor(Number(last.created_at), last.id) : null,
      unread: await this.unread(userId),
    };
  }

  /** unread counts a user's unread notifications. */
  async unread(userId: string): Promise<number> {
    const r = await this.k.selectFrom('notifications').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId).where('read_at', 'is', null).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** markRead marks the user's notifications read: the given ids, or every one; answers how many changed. */
  async markRead(userId: string, which: { ids: string[] } | 'all', now = Date.now()): Promise<number> {
    let q = this.k.updateTable('notifications').set({ read_at: now }).where('user_id', '=', userId).where('read_at', 'is', null);
    if (which !== 'all') {
      if (which.ids.length === 0) return 0;
      q = q.where('id', 'in', which.ids);
    }
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }
}
