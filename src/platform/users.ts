import { hash, verify } from '@node-rs/argon2';
import { sql } from 'kysely';
import type { Db } from './db/connect.js';
import type { UsersTable } from './db/schema.js';
import { AppError, notFound } from '../http/errors.js';
import { newId } from './ids.js';

/** Argon2id parameters: OWASP's 19 MiB / 2 passes / 1 lane baseline. */
const ARGON2 = { algorithm: 2 /* Argon2id */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const USERNAME_PATTERN = '^[a-zA-Z0-9_][a-zA-Z0-9_.-]{1,31}$';
const usernameRe = new RegExp(USERNAME_PATTERN);

export type { PublicUser } from '../api/schemas.js';
import type { PublicUser } from '../api/schemas.js';

export const toPublicUser = (u: UsersTable): PublicUser => ({
  id: u.id,
  username: u.username,
  displayName: u.display_name,
  admin: u.is_admin === 1,
  createdAt: u.created_at,
});

/** UserService owns accounts and password checks. */
export class UserService {
  constructor(private readonly db: Db) {}

  async create(input: { username: string; password: string; displayName?: string; admin?: boolean }): Promise<PublicUser> {
    if (!usernameRe.test(input.username)) throw new AppError('validation_failed', 'username: 2-32 letters, digits, "_", "." or "-"');
    assertPasswordRule(input.password);
    if (await this.findByNameIgnoringCase(input.username)) throw usernameTaken(input.username);
    const now = Date.now();
    const row: UsersTable = {
      id: newId(),
      username: input.username,
      display_name: input.displayName?.trim() || input.username,
      password_hash: await hash(input.password, ARGON2),
      is_admin: input.admin ? 1 : 0,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.kysely.insertInto('users').values(row).execute();
    } catch (err) {
      // Two creations racing for one name in different cases: the partial unique index on lower(username) decides.
      if (isUniqueViolation(err)) throw usernameTaken(input.username);
      throw err;
    }
    return toPublicUser(row);
  }

  async findByName(username: string): Promise<UsersTable | undefined> {
    return this.db.kysely.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  /** findByNameIgnoringCase answers an account whose name equals this one in any case (the oldest if several). */
  async findByNameIgnoringCase(username: string): Promise<UsersTable | undefined> {
    return this.db.kysely
      .selectFrom('users').selectAll()
      .where(sql<string>`lower(username)`, '=', username.toLowerCase())
      .orderBy('case_clash').orderBy('created_at')
      .executeTakeFirst();
  }

  /**
   * resolveName finds the account a typed name means: the exact name first; else the only
   * account equal to it in another case; several such accounts are ambiguous (null).
   */
  async resolveName(name: string): Promise<UsersTable | undefined | null> {
    const exact = await this.findByName(name);
    if (exact) return exact;
    const rows = await this.db.kysely.selectFrom('users').selectAll().where(sql<string>`lower(username)`, '=', name.toLowerCase()).limit(2).execute();
    if (rows.length > 1) return null;
    return rows[0];
  }

  /** caseClashes lists names held by several accounts that differ only in case (made before 0930_username_case). */
  async caseClashes(): Promise<{ name: string; accounts: { id: string; username: string; createdAt: number }[] }[]> {
    const rows = await this.db.kysely
      .selectFrom('users').select(['id', 'username', 'created_at'])
      .where(sql<string>`lower(username)`, 'in', this.db.kysely.selectFrom('users').select(sql<string>`lower(username)`.as('l')).where('case_clash', '=', 1))
      .orderBy(sql`lower(username)`).orderBy('created_at')
      .execute();
    const groups = new Map<string, { id: string; username: string; createdAt: number }[]>();
    for (const r of rows) {
      const key = r.username.toLowerCase();
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push({ id: r.id, username: r.username, createdAt: Number(r.created_at) });
    }
    return [...groups].map(([name, accounts]) => ({ name, accounts }));
  }

  async findById(id: string): Promise<UsersTable | undefined> {
    return this.db.kysely.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async requireByName(username: string): Promise<UsersTable> {
    const u = await this.findByName(username);
    if (!u) throw notFound(`no user "${username}"`);
    return u;
  }

  /** verifyPassword answers the user when the password matches, else undefined (same time either way). */
  async verifyPassword(username: string, password: string): Promise<UsersTable | undefined> {
    const u = await this.findByName(username);
    // Hash against a dummy when the user is missing so timing does not reveal which usernames exist.
    const ok = await verify(u?.password_hash ?? (await dummyHash()), password).catch(() => false);
    return ok && u ? u : undefined;
  }

  /** list pages through accounts by name, optionally filtered by a name fragment. */
  async list(opts: { q?: string; limit?: number; offset?: number } = {}): Promise<{ users: PublicUser[]; total: number }> {
    let q = this.db.kysely.selectFrom('users');
    if (opts.q) q = q.where((eb) => eb.or([eb('username', 'like', `%${opts.q}%`), eb('display_name', 'like', `%${opts.q}%`)]));
    const [rows, count] = await Promise.all([
      q.selectAll().orderBy('username').limit(opts.limit ?? 50).offset(opts.offset ?? 0).execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { users: rows.map(toPublicUser), total: Number(count.n) };
  }

  /** setPassword replaces a user's password hash (the caller checked the current password). */
  async setPassword(userId: string, password: string): Promise<void> {
    assertPasswordRule(password);
    const passwordHash = await hash(password, ARGON2);
    await this.db.kysely.updateTable('users').set({ password_hash: passwordHash, updated_at: Date.now() }).where('id', '=', userId).execute();
  }

  /** checkPassword tells whether the password is this user's. */
  async checkPassword(user: UsersTable, password: string): Promise<boolean> {
    return verify(user.password_hash, password).catch(() => false);
  }

  async setAdmin(username: string, admin: boolean): Promise<void> {
    await this.db.kysely.updateTable('users').set({ is_admin: admin ? 1 : 0, updated_at: Date.now() }).where('username', '=', username).execute();
  }
}

/** usernameTaken is the 409 for a name another account has in any case. */
const usernameTaken = (name: string) => new AppError('username_taken', `username "${name}" is taken (usernames are compared case-insensitively)`);

/** assertPasswordRule refuses a password too short to be one. */
function assertPasswordRule(password: string): void {
  if (password.length < 8) throw new AppError('validation_failed', 'password: at least 8 characters');
}

let dummy: Promise<string> | undefined;
/** dummyHash is a real hash with our parameters, made once, to verify against for unknown users. */
const dummyHash = (): Promise<string> => (dummy ??= hash('onair-no-such-user', ARGON2));

/** isUniqueViolation recognises a duplicate-key error from either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/.test(e?.message ?? '');
}
