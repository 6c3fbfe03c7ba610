/**
 * ChatRevocationStore keeps the chat-token revocations (log out everywhere, password change) in
 * the database, so a chat node that restarts still refuses the revoked tokens: the API node
 * writes a row when it revokes, a chat node reads the recent ones at start and prunes the rest.
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from './db/connect.js';
import { newId } from './ids.js';

export interface ChatRevocationsTable {
  id: string;
  user_id: string;
  /** The user's chat tokens issued before this time (unix seconds) are revoked. */
  issued_before: number;
  /** When it was revoked (epoch ms): kept chat.revocation.keepSeconds from then. */
  revoked_at: number;
}

interface ChatRevocationsDatabase {
  chat_revocations: ChatRevocationsTable;
}

export const chatRevocationsMigrations: Record<string, Migration> = {
  '0952_chat_revocations': {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration must not depend on today's schema type
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('chat_revocations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('issued_before', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('chat_revocations_revoked_at').on('chat_revocations').column('revoked_at').execute();
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration must not depend on today's schema type
    async down(db: Kysely<any>) {
      await db.schema.dropTable('chat_revocations').execute();
    },
  },
};

/** chatRevocationCutoff is the issuedBefore of a revocation made at nowMs: tokens issued within that second are revoked too (iat has whole seconds). */
export const chatRevocationCutoff = (nowMs: number): number => Math.floor(nowMs / 1000) + 1;

export class ChatRevocationStore {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  private get k(): Kysely<ChatRevocationsDatabase> {
    return this.db.kysely as unknown as Kysely<ChatRevocationsDatabase>;
  }

  /** record keeps that the user's chat tokens issued before issuedBefore (unix seconds) are revoked. */
  async record(userId: string, issuedBefore: number): Promise<void> {
    await this.k.insertInto('chat_revocations').values({ id: newId(), user_id: userId, issued_before: issuedBefore, revoked_at: this.now() }).execute();
  }

  /** since answers the revocations made at or after sinceMs (epoch ms), oldest first. */
  async since(sinceMs: number): Promise<{ userId: string; issuedBefore: number; revokedAt: number }[]> {
    const rows = await this.k.selectFrom('chat_revocations').selectAll().where('revoked_at', '>=', sinceMs).orderBy('revoked_at').execute();
    return rows.map((r) => ({ userId: r.user_id, issuedBefore: Number(r.issued_before), revokedAt: Number(r.revoked_at) }));
  }

  /** prune deletes the revocations made before beforeMs (every token they refuse has expired); answers how many. */
  async prune(beforeMs: number): Promise<number> {
    const r = await this.k.deleteFrom('chat_revocations').where('revoked_at', '<', beforeMs).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
