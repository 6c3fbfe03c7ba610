// The platform's own tables (users, channels, sessions, social; the job queue; the wallet; invites; chat-token revocations). The
// features' tables come from their descriptors; src/app/migrations.ts joins the two lists.
import type { Migration } from 'kysely';
import { migrations as baseMigrations } from './migrations.js';
import { jobsMigrations } from '../jobs/schema.js';
import { walletMigrations } from '../wallet/db.js';
import { invitesMigrations } from '../invites.js';
import { chatRevocationsMigrations } from '../chat-revocations.js';

/** PLATFORM_MIGRATIONS are the migrations of src/platform/, by name. */
export const PLATFORM_MIGRATIONS: Readonly<Record<string, Migration>> = { ...baseMigrations, ...jobsMigrations, ...walletMigrations, ...invitesMigrations, ...chatRevocationsMigrations };
