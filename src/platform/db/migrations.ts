import { sql, type Kysely, type Migration } from 'kysely';

/**
 * migrations is the one ordered list applied on every engine. Names sort in
 * apply order. Only portable column types: text, bigint (epoch ms), integer (flags).
 */
export const migrations: Record<string, Migration> = {
  '0001_platform': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
      await db.schema
        .createTable('channels')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('title', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('stream_key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('owner_id', 'text', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('record_enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('captions_language', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('channel_roles')
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('granted_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('channel_roles_pk', ['channel_id', 'user_id', 'role'])
        .execute();
      await db.schema.createIndex('channel_roles_user').on('channel_roles').column('user_id').execute();
      await db.schema
        .createTable('follows')
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('follows_pk', ['user_id', 'channel_id'])
        .execute();
      await db.schema.createIndex('follows_channel').on('follows').column('channel_id').execute();
      await db.schema
        .createTable('subscriptions')
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
        .addColumn('tier', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('subscriptions_pk', ['user_id', 'channel_id'])
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ['subscriptions', 'follows', 'channel_roles', 'channels', 'sessions', 'users']) await db.schema.dropTable(t).execute();
    },
  },
  '0930_username_case': {
    // Usernames become unique case-insensitively (issue 19 #6). Accounts that already clash in
    // case keep working: the oldest of each name keeps case_clash = 0, the younger ones get 1 and
    // stay out of the partial unique index, so every new account is checked against all names.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('users').addColumn('case_clash', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await sql`UPDATE users SET case_clash = 1 WHERE EXISTS (
        SELECT 1 FROM users older WHERE lower(older.username) = lower(users.username)
          AND (older.created_at < users.created_at OR (older.created_at = users.created_at AND older.id < users.id)))`.execute(db);
      await sql`CREATE UNIQUE INDEX users_username_lower ON users (lower(username)) WHERE case_clash = 0`.execute(db);
    },
    async down(db: Kysely<any>) {
      await sql`DROP INDEX users_username_lower`.execute(db);
      await db.schema.alterTable('users').dropColumn('case_clash').execute();
    },
  },
  '0960_stream_key_sealed': {
    // Stream keys sealed at rest (AES-256-GCM, streamKey.secret) beside their lookup hash, so the
    // owner can reveal them (issue 23). Keys made before stay null until rotated.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('channels').addColumn('stream_key_sealed', 'text').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('channels').dropColumn('stream_key_sealed').execute();
    },
  },
};

/** sqlNow is a portable "now" in epoch ms for raw statements. */
export const sqlNow = () => sql<number>`${Date.now()}`;
