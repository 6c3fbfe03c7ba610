import { hash, verify } from '@node-rs/argon2';
import type { Db } from './db/connect.js';
import type { UsersTable } from './db/schema.js';
import { AppError, conflict, notFound } from '../http/errors.js';
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
    if (await this.findByName(input.username)) throw conflict(`username "${input.username}" is taken`);
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
      if (isUniqueViolation(err)) throw conflict(`username "${input.username}" is taken`);
      throw err;
    }
    return toPublicUser(row);
  }

  async findByName(username: string): Promise<UsersTable | undefined> {
    return this.db.kysely.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
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
