import type { Db } from './db/connect.js';

/** SocialService keeps follows and subscriptions (the viewer side of a channel). */
export class SocialService {
  constructor(private readonly db: Db) {}

  async follow(userId: string, channelId: string): Promise<{ followedAt: number }> {
    const existing = await this.followedAt(userId, channelId);
    if (existing !== undefined) return { followedAt: existing };
    const now = Date.now();
    await this.db.kysely.insertInto('follows').values({ user_id: userId, channel_id: channelId, created_at: now }).execute();
    return { followedAt: now };
  }

  async unfollow(userId: string, channelId: string): Promise<boolean> {
    const r = await this.db.kysely.deleteFrom('follows').where('user_id', '=', userId).where('channel_id', '=', channelId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async followedAt(userId: string, channelId: string): Promise<number | undefined> {
    const r = await this.db.kysely.selectFrom('follows').select('created_at').where('user_id', '=', userId).where('channel_id', '=', channelId).executeTakeFirst();
    return r?.created_at;
  }

  async followerCount(channelId: string): Promise<number> {
    const r = await this.db.kysely.selectFrom('follows').select((eb) => eb.fn.countAll<number>().as('n')).where('channel_id', '=', channelId).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** subscribe grants or extends a subscription by `days` from now or from its current expiry, whichever is later. */
  async subscribe(userId: string, channelId: string, days: number, tier = 1): Promise<{ expiresAt: number }> {
    const now = Date.now();
    const current = await this.subscriptionExpiry(userId, channelId);
    const base = current && current > now ? current : now;
    const expiresAt = base + days * 86_400_000;
    if (current === undefined) {
      await this.db.kysely.insertInto('subscriptions').values({ user_id: userId, channel_id: channelId, tier, created_at: now, expires_at: expiresAt }).execute();
    } else {
      await this.db.kysely.updateTable('subscriptions').set({ expires_at: expiresAt, tier }).where('user_id', '=', userId).where('channel_id', '=', channelId).execute();
    }
    return { expiresAt };
  }

  async subscriptionExpiry(userId: string, channelId: string): Promise<number | undefined> {
    const r = await this.db.kysely.selectFrom('subscriptions').select('expires_at').where('user_id', '=', userId).where('channel_id', '=', channelId).executeTakeFirst();
    return r?.expires_at;
  }

  async isSubscribed(userId: string, channelId: string, at = Date.now()): Promise<boolean> {
    const e = await this.subscriptionExpiry(userId, channelId);
    return e !== undefined && e > at;
  }
}
