import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Migration } from 'kysely';
import { compose, creationOrder, collectMigrations, CompositionError } from '../../../src/app/compose.js';
import type { Base, Feature, Role } from '../../../src/app/feature.js';
import { loadConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FEATURES, ALL_MIGRATIONS } from '../../../src/features.js';

/** baseFor is the part of Base compose() itself reads (roles, logger); features here use nothing else. */
const baseFor = (roles: Role[]): Base => ({ config: loadConfig({ env: {}, overrides: { roles } }), logger: silentLogger() }) as unknown as Base;

/** recorder features log their create/start/stop into one shared list. */
function recording(log: string[]) {
  const life = (name: string, failStart = false) => ({
    start: async () => { if (failStart) throw new Error(`${name} cannot start`); log.push(`start ${name}`); },
    stop: async () => { log.push(`stop ${name}`); },
  });
  const store: Feature<'store', {}, { rows: string[] }> = {
    name: 'store', roles: ['api'], deps: {},
    create: () => { log.push('create store'); return { api: { rows: [] }, ...life('store') }; },
  };
  const cache: Feature<'cache', { store: { rows: string[] } }, { size: number }> = {
    name: 'cache', roles: ['api'], deps: { store: 'required' },
    create: (_b, { store: s }) => { log.push(`create cache (store has ${s.rows.length})`); return { api: { size: 1 }, ...life('cache') }; },
  };
  const media: Feature<'media', {}, string> = {
    name: 'media', roles: ['media'], deps: {},
    create: () => { log.push('create media'); return { api: 'hub', ...life('media') }; },
  };
  const web: Feature<'web', { cache: { size: number }; media?: string }, { media: string | undefined }> = {
    name: 'web', roles: ['api', 'web'], deps: { cache: 'required', media: 'optional' },
    create: (_b, d) => { log.push(`create web (media ${d.media ?? 'absent'})`); return { api: { media: d.media }, ...life('web') }; },
  };
  return { store, cache, media, web, life };
}

test('compose creates each feature after its deps, whatever the list order, and gives a typed App', async () => {
  const log: string[] = [];
  const { store, cache, media, web } = recording(log);
  const c = await compose([web, cache, media, store] as const, baseFor(['api']));
  assert.deepEqual(log, ['create store', 'create cache (store has 0)', 'create web (media absent)']);
  assert.deepEqual(c.order, ['store', 'cache', 'web']);
  assert.deepEqual(c.app.store?.rows, []);
  assert.equal(c.app.cache?.size, 1);
  assert.equal(c.app.web?.media, undefined);
});

test('features of roles this node does not run are undefined in the App; optional deps are passed when they run', async () => {
  const log: string[] = [];
  const { store, cache, media, web } = recording(log);
  const apiOnly = await compose([store, cache, media, web] as const, baseFor(['api']));
  assert.equal(apiOnly.app.media, undefined);
  const both = await compose([store, cache, media, web] as const, baseFor(['api', 'media']));
  assert.equal(both.app.media, 'hub');
  assert.equal(both.app.web?.media, 'hub');
});

test('start runs in creation order and stop in reverse', async () => {
  const log: string[] = [];
  const { store, cache, media, web } = recording(log);
  const c = await compose([web, cache, media, store] as const, baseFor(['api']));
  log.length = 0;
  await c.start();
  await c.stop();
  assert.deepEqual(log, ['start store', 'start cache', 'start web', 'stop web', 'stop cache', 'stop store']);
  log.length = 0;
  await c.stop();
  assert.deepEqual(log, [], 'a second stop stops nothing');
});

test('a failed start stops only what had started, in reverse, and rethrows', async () => {
  const log: string[] = [];
  const { store, cache, media, web, life } = recording(log);
  const broken: Feature<'broken', { cache: { size: number } }, number> = {
    name: 'broken', roles: ['api'], deps: { cache: 'required' }, create: () => ({ api: 1, ...life('broken', true) }),
  };
  const c = await compose([store, cache, broken, media, web] as const, baseFor(['api']));
  log.length = 0;
  await assert.rejects(c.start(), /broken cannot start/);
  assert.deepEqual(log, ['start store', 'start cache', 'stop cache', 'stop store']);
  log.length = 0;
  await c.stop();
  assert.deepEqual(log, [], 'nothing is left running');
});

test('a stop that fails does not keep the others from stopping', async () => {
  const log: string[] = [];
  const { store, cache } = recording(log);
  const sticky: Feature<'sticky', {}, void> = {
    name: 'sticky', roles: ['api'], deps: {}, create: () => ({ api: undefined, stop: async () => { throw new Error('stuck'); } }),
  };
  const c = await compose([store, sticky, cache] as const, baseFor(['api']));
  await c.start();
  log.length = 0;
  await c.stop();
  assert.deepEqual(log, ['stop cache', 'stop store']);
});

test('a required dep that does not run on this node is an error naming both features', async () => {
  const log: string[] = [];
  const { store, media } = recording(log);
  const clips: Feature<'clips', { media: string }, void> = { name: 'clips', roles: ['api'], deps: { media: 'required' }, create: () => ({ api: undefined }) };
  await assert.rejects(compose([store, media, clips] as const, baseFor(['api'])), (err: Error) => {
    assert.ok(err instanceof CompositionError);
    assert.match(err.message, /feature "clips" needs feature "media", which runs with roles \[media\] and this node runs \[api\]/);
    return true;
  });
  assert.deepEqual(log, [], 'nothing is created when the list cannot be composed');
});

test('a dep missing from the list, a loop and a duplicate name are refused', () => {
  const a: Feature<'a', { b: number }, number> = { name: 'a', roles: ['api'], deps: { b: 'required' }, create: () => ({ api: 1 }) };
  const b: Feature<'b', { a: number }, number> = { name: 'b', roles: ['api'], deps: { a: 'required' }, create: () => ({ api: 2 }) };
  assert.throws(() => creationOrder([a], ['api']), /feature "a" needs feature "b", which is not in the feature list/);
  assert.throws(() => creationOrder([a, b], ['api']), /features depend on each other in a loop: a → b → a/);
  assert.throws(() => creationOrder([b, b], ['api']), /two features are named "b"/);
});

test('a required dep that this node\'s config turns off is an error naming both features', async () => {
  const off: Feature<'hls', {}, number> = { name: 'hls', roles: ['api'], deps: {}, create: () => undefined };
  const user: Feature<'abr', { hls: number }, number> = { name: 'abr', roles: ['api'], deps: { hls: 'required' }, create: () => ({ api: 1 }) };
  await assert.rejects(compose([off, user] as const, baseFor(['api'])), /feature "abr" needs feature "hls", which this node's configuration turns off/);
});

test('collectMigrations takes every feature\'s migrations whatever the roles and refuses a name used twice', () => {
  const m: Migration = { up: async () => undefined };
  const x: Feature<'x', {}, void> = { name: 'x', roles: ['media'], migrations: { '0500_x': m }, deps: {}, create: () => undefined };
  const y: Feature<'y', {}, void> = { name: 'y', roles: ['chat'], migrations: { '0400_y': m }, deps: {}, create: () => undefined };
  assert.deepEqual(Object.keys(collectMigrations([x, y], { '0001_base': m })).sort(), ['0001_base', '0400_y', '0500_x']);
  assert.throws(() => collectMigrations([x, x]), /migration "0500_x" of feature "x" is already defined/);
});

test('the real feature list composes for every single role and for all roles together', () => {
  const roles: Role[] = ['api', 'chat', 'media', 'worker', 'web'];
  for (const r of [...roles.map((x) => [x]), roles]) {
    const order = creationOrder(FEATURES, r).map((f) => f.name);
    assert.ok(order.length > 0, `roles ${r.join(',')}`);
  }
  const all = creationOrder(FEATURES, roles).map((f) => f.name);
  assert.ok(all.indexOf('abr') < all.indexOf('captions') && all.indexOf('captions') < all.indexOf('recorder'), 'captions and the recorder come after their deps');
  assert.deepEqual(creationOrder(FEATURES, ['api']).map((f) => f.name), ['chatRevocationRelay', 'supporters', 'streamControl', 'clusterLive', 'notifications', 'chatReplay', 'superchatAlerts', 'alertSounds', 'ingest', 'qoe']);
});

test('the migration list has every migration of main, under the same names', () => {
  // The names main's migrate() applied to a new database on 2026-12-07 (test/fixtures/db/), then
  // the migrations added since, each sorting after every older one.
  assert.deepEqual(Object.keys(ALL_MIGRATIONS).sort(), [
    '0001_platform', '0200_wallet', '0210_supporters', '0300_moderation', '0810_recordings', '0820_jobs', '0830_channel_abr', '0900_stream_control', '0910_clips',
    // Added since: usernames unique case-insensitively (issue 19 #6).
    '0930_username_case',
    // Added since: invites and the requester of a job (issue 19 #8); chat-token revocations kept across restarts (#17).
    '0950_invites', '0951_jobs_requested_by', '0952_chat_revocations',
    // Added since: stream keys sealed at rest so their owner can reveal them (issue 23).
    '0960_stream_key_sealed',
    // Added since: wallet top-ups through a payment provider and their audit trail (issue 24).
    '0960_wallet_topups',
    // Added since: a VOD's title, the broadcast title when its session started (issue 23).
    '0961_recordings_title',
    // Added since: the default word list switch and the review queue of held chat messages (issue 22 #1).
    '0965_moderation_review',
    // Added since: followers' notifications and the once-per-session go-live claim (issue 22 #5).
    '0970_notifications',
    // Added since: chat replay on VODs (issue 22 #6).
    '0971_chat_replay',
    // Added since: each channel's super chat alert sound (issue 22 #7).
    '0972_alert_sounds',
  ]);
});
