/**
 * Invite codes for `auth.registration.mode: invite`: an admin creates a code (API or
 * `onair invite create`), it is shown once, stored only as its sha256, and lets exactly one
 * account register before it expires.
 */
import type { Kysely, Migration } from 'kysely';
import type { Db } from './db/connect.js';
import { newId, randomToken, sha256 } from './ids.js';

export interface InvitesTable {
  id: string;
  code_hash: string;
  /** The admin user who made it; null for the admin token or the CLI. */
  created_by: string | null;
  note: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

interface InvitesDatabase {
  invites: InvitesTable;
}

/** Invite is what the API shows of an invite (never its code after creation). */
export interface Invite {
  id: string;
  note: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
}

export const invitesMigrations: Record<string, Migration> = {
  '0950_invites': {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration must not depend on today's schema type
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('invites')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('code_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_by', 'text')
        .addColumn('note', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .addColumn('used_by', 'text')
        .execute();
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration must not depend on today's schema type
    async down(db: Kysely<any>) {
      await db.schema.dropTable('invites').execute();
    },
  },
};

/** INVITE_CODE_BYTES of entropy: a code cannot be guessed. */
const INVITE_CODE_BYTES = 18;
export const INVITE_NOTE_MAX_LENGTH = 200;

const toInvite = (r: InvitesTable): Invite => ({ id: r.id, note: r.note, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), usedAt: r.used_at === null ? null : Number(r.used_at), usedBy: r.used_by });

export class InviteService {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  private get k(): Kysely<InvitesDatabase> {
    return this.db.kysely as unknown as Kysely<InvitesDatabase>;
  }

  /** create makes a code valid for ttlMs; the code is returned here and nowhere else. */
  async create(input: { ttlMs: number; createdBy?: string | null; note?: string | null }): Promise<{ invite: Invite; code: string }> {
    const code = randomToken(INVITE_CODE_BYTES);
    const now = this.now();
    const row: InvitesTable = { id: newId(), code_hash: sha256(code), created_by: input.createdBy ?? null, note: input.note ?? null, created_at: now, expires_at: now + input.ttlMs, used_at: null, used_by: null };
    await this.k.insertInto('invites').values(row).execute();
    return { invite: toInvite(row), code };
  }

  async list(): Promise<Invite[]> {
    const rows = await this.k.selectFrom('invites').selectAll().orderBy('created_at', 'desc').limit(1000).execute();
    return rows.map(toInvite);
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.k.deleteFrom('invites').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * claim marks an unused, unexpired code as used and returns its id, or null. The single UPDATE
   * with the conditions is what makes a code single-use under concurrent claims.
   */
  async claim(code: string): Promise<string | null> {
    const now = this.now();
    const hash = sha256(code);
    const r = await this.k.updateTable('invites').set({ used_at: now })
      .where('code_hash', '=', hash).where('used_at', 'is', null).where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return null;
    const row = await this.k.selectFrom('invites').select('id').where('code_hash', '=', hash).executeTakeFirstOrThrow();
    return row.id;
  }

  /** usedBy records the account a claimed code made. */
  async usedBy(id: string, userId: string): Promise<void> {
    await this.k.updateTable('invites').set({ used_by: userId }).where('id', '=', id).execute();
  }

  /** release gives a claimed code back when the account could not be made (a taken username). */
  async release(id: string): Promise<void> {
    await this.k.updateTable('invites').set({ used_at: null, used_by: null }).where('id', '=', id).execute();
  }

  /** usable says whether a code exists, is unused and has not expired (checked before the account is made). */
  async usable(code: string): Promise<boolean> {
    const r = await this.k.selectFrom('invites').select('id').where('code_hash', '=', sha256(code)).where('used_at', 'is', null).where('expires_at', '>', this.now()).executeTakeFirst();
    return r !== undefined;
  }
}
