import type { Db } from './db/connect.js';
import type { UsersTable } from './db/schema.js';
import { randomToken, sha256 } from './ids.js';

/** SessionService issues and checks login tokens (used as cookie or bearer). */
export class SessionService {
  constructor(private readonly db: Db, private readonly ttlMs = 30 * 24 * 3600 * 1000) {}

  async create(userId: string): Promise<{ token: string; expiresAt: number }> {
    const token = randomToken(32);
    const now = Date.now();
    const expiresAt = now + this.ttlMs;
    await this.db.kysely.insertInto('sessions').values({ token_hash: sha256(token), user_id: userId, created_at: now, expires_at: expiresAt }).execute();
    return { token, expiresAt };
  }

  /** resolve answers the session's user, or undefined when the token is unknown or expired. */
  async resolve(token: string): Promise<UsersTable | undefined> {
    const row = await this.db.kysely
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('users')
      .select('sessions.expires_at')
      .where('sessions.token_hash', '=', sha256(token))
      .executeTakeFirst();
    if (!row || row.expires_at <= Date.now()) return undefined;
    const { expires_at: _unused, ...user } = row;
    return user;
  }

  async revoke(token: string): Promise<void> {
    await this.db.kysely.deleteFrom('sessions').where('token_hash', '=', sha256(token)).execute();
  }

  /** revokeAllOf ends every session of a user except the one whose token is kept; answers how many ended. */
  async revokeAllOf(userId: string, keepToken?: string): Promise<number> {
    let q = this.db.kysely.deleteFrom('sessions').where('user_id', '=', userId);
    if (keepToken !== undefined) q = q.where('token_hash', '!=', sha256(keepToken));
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }

  async purgeExpired(): Promise<number> {
    const r = await this.db.kysely.deleteFrom('sessions').where('expires_at', '<=', Date.now()).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }
}
