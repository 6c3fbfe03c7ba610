import type { Generated } from 'kysely';

/** Timestamps are epoch milliseconds stored as BIGINT on both SQLite and PostgreSQL. */
type Millis = number;
/** Flags are INTEGER 0/1 on both engines, so queries read the same everywhere. */
type Flag = number;

export interface UsersTable {
  id: string;
  username: string;
  display_name: string;
  password_hash: string;
  is_admin: Flag;
  created_at: Millis;
  updated_at: Millis;
  /**
   * 1 on the younger accounts of a name that existed in several cases before usernames became
   * case-insensitively unique (0930_username_case); they keep working but stay out of the unique index.
   */
  case_clash?: Flag;
}

export interface SessionsTable {
  /** SHA-256 of the bearer token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  created_at: Millis;
  expires_at: Millis;
}

export interface ChannelsTable {
  id: string;
  name: string;
  title: string;
  /** SHA-256 of the stream key: keys are long random strings, so a fast hash is safe and indexable. */
  stream_key_hash: string;
  /** The stream key sealed with streamKey.secret (StreamKeyCipher); null for keys made before it existed, until rotated. */
  stream_key_sealed: string | null;
  owner_id: string | null;
  record_enabled: Flag;
  captions_language: string | null;
  created_at: Millis;
  updated_at: Millis;
}

export type ChannelRole = 'owner' | 'manager';

export interface ChannelRolesTable {
  channel_id: string;
  user_id: string;
  role: ChannelRole;
  granted_by: string | null;
  created_at: Millis;
}

export interface FollowsTable {
  user_id: string;
  channel_id: string;
  created_at: Millis;
}

export interface SubscriptionsTable {
  user_id: string;
  channel_id: string;
  tier: number;
  created_at: Millis;
  expires_at: Millis;
}

export interface MigrationsMetaTable {
  id: Generated<number>;
}

/** Database is the typed view of every table; features add theirs through migrations. */
export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  channels: ChannelsTable;
  channel_roles: ChannelRolesTable;
  follows: FollowsTable;
  subscriptions: SubscriptionsTable;
}
