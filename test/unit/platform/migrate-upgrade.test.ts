// Databases made before the composition root upgrade with only the migrations written since: the migrations now come from the
// feature descriptors, and must be the same list under the same names, so Kysely applies only the
// migrations written since (ADDED_SINCE). The fixtures were made by running main's `migrate()` (commit 05ac1de, when every feature
// registered its migrations into platform/db/connect.ts) on an empty database and creating one
// channel: a SQLite file checked in as is, and for PostgreSQL a `pg_dump --inserts` of such a
// database (psql meta-commands and comments stripped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { createPlatform, openDatabase, type Db } from '../../../src/platform/index.js';
import type { AppError } from '../../../src/http/errors.js';
import { migrateAll, ALL_MIGRATIONS } from '../../../src/features.js';
import { POSTGRES_URL, TEST_STREAM_KEY_SECRET } from '../../../testkit/db.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/db');

/** schemaOf lists every table with its columns (or its full DDL on SQLite), to compare before and after. */
async function schemaOf(db: Db): Promise<string[]> {
  if (db.engine === 'sqlite') {
    const r = await sql<{ name: string; sql: string | null }>`SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name`.execute(db.kysely);
    return r.rows.map((x) => `${x.name}: ${x.sql ?? ''}`);
  }
  const r = await sql<{ table_name: string; column_name: string; data_type: string }>`
    SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`.execute(db.kysely);
  return r.rows.map((x) => `${x.table_name}.${x.column_name}: ${x.data_type}`);
}

async function appliedNames(db: Db): Promise<string[]> {
  const r = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db.kysely);
  return r.rows.map((x) => x.name);
}

/** ADDED_SINCE are the migrations written after the fixtures were made: an upgrade applies exactly these. */
const ADDED_SINCE = ['0930_username_case', '0950_invites', '0951_jobs_requested_by', '0952_chat_revocations', '0960_stream_key_sealed', '0960_wallet_topups', '0961_recordings_title', '0965_moderation_review', '0970_notifications', '0971_chat_replay', '0972_alert_sounds'];

/** touchedBy tells whether a schema line belongs to what ADDED_SINCE changes (users and its new index, invites, jobs.requested_by, chat_revocations, channels.stream_key_sealed, recordings.title, wallet top-ups, moderation_settings.default_filter, moderation_held, notifications, chat_replay, alert_sounds). */
const touchedBy = (line: string) => /^users[.:]|^users_username_lower/.test(line) || /^channels: |^channels\.stream_key_sealed:|^recordings: |^recordings\.title:/.test(line) || /^moderation_settings[.:]|^moderation_held/.test(line) || /^(invites|jobs_requested_by|chat_revocations|chat_revocations_revoked_at|wallet_topups|wallet_topups_user_time)\b|^wallet_topup_events|^invites\.|^chat_revocations\.|^jobs\.requested_by:|^jobs: /.test(line)
  || /^(notifications|notifications_user_created|live_notices|chat_replay|chat_replay_offset|chat_replay_channel_at|alert_sounds)\b/.test(line);

/** checkUpgrade runs today's migrate on a database made by main's: only the later migrations apply, the rest is unchanged. */
async function checkUpgrade(db: Db) {
  const before = await schemaOf(db);
  assert.ok(before.some((t) => t.startsWith('clips')), 'the fixture has the feature tables');
  assert.deepEqual(await appliedNames(db), Object.keys(ALL_MIGRATIONS).filter((n) => !ADDED_SINCE.includes(n)).sort(), 'the fixture applied the same names');
  assert.deepEqual(await migrateAll(db), ADDED_SINCE, 'only the migrations added since apply');
  const after = await schemaOf(db);
  assert.deepEqual(after.filter((l) => !touchedBy(l)), before.filter((l) => !touchedBy(l)), 'other tables unchanged');
  assert.ok(after.some((l) => /^users[.:].*case_clash/.test(l)), 'users gained case_clash');
  assert.ok(after.some((l) => /^channels[.:].*stream_key_sealed/.test(l)), 'channels gained stream_key_sealed');
  const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
  const channel = await platform.channels.find('fixture');
  assert.equal(channel?.title, 'made by the migrate of main on 2026-12-07', 'rows intact');
  // Its key was made before keys were sealed: it cannot be shown until rotated.
  assert.ok(channel);
  assert.throws(() => platform.channels.revealKey(channel), (e: AppError) => e.code === 'stream_key_not_recoverable');
  const rotated = await platform.channels.rotateKey('fixture');
  const fixture = await platform.channels.find('fixture');
  assert.ok(fixture);
  assert.equal(platform.channels.revealKey(fixture), rotated, 'a rotated key can be shown');
}

test('a SQLite database made by main upgrades by the later migrations only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-upgrade-'));
  const file = join(dir, 'onair.db');
  copyFileSync(join(FIXTURES, 'main-2026-12-07.sqlite'), file);
  const db = await openDatabase(`sqlite:${file}`);
  try {
    await checkUpgrade(db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a PostgreSQL database made by main upgrades by the later migrations only', { skip: POSTGRES_URL ? false : 'PostgreSQL not configured (set ONAIR_TEST_POSTGRES_URL)' }, async () => {
  const name = `onair_up_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(POSTGRES_URL);
  u.pathname = `/${name}`;
  try {
    const restore = new pg.Client({ connectionString: u.toString() });
    await restore.connect();
    await restore.query(readFileSync(join(FIXTURES, 'main-2026-12-07.postgres.sql'), 'utf8'));
    await restore.end();
    const db = await openDatabase(u.toString());
    try {
      await checkUpgrade(db);
    } finally {
      await db.close();
    }
  } finally {
    const a = new pg.Client({ connectionString: POSTGRES_URL });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await a.end();
  }
});
