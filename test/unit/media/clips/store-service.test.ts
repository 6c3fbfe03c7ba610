import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { loadConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { createPlatform, type Db } from '../../../../src/platform/index.js';
import { RecordingStore } from '../../../../src/media/record/vods.js';
import { ClipStore, toClip, type NewClip } from '../../../../src/media/clips/db.js';
import { ClipService } from '../../../../src/media/clips/service.js';
import { AppError } from '../../../../src/http/errors.js';

const HOUR = 3_600_000;

function newClip(id: string, over: Partial<NewClip> = {}): NewClip {
  return { id, channel_id: 'c1', channel_name: 'chan', kind: 'live', source_vod_id: null, created_by: 'u1', title: '', start_ms: 0, duration_ms: 5000, node_id: 'n1', ...over };
}

async function waitUntil<T>(f: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

for (const e of engines()) {
  test(`clip store and service on ${e.engine}`, { skip: e.skip }, async (t) => {
    const { db, dispose } = await e.open();
    t.after(dispose);
    let now = 1_000_000_000;
    const clock = () => now;

    await t.test('store: create, get, list newest first with paging and filters, update, remove', async () => {
      const store = new ClipStore(db, clock);
      for (const [i, id] of ['a', 'b', 'c'].entries()) {
        now += 1000;
        await store.create(newClip(id, { source_vod_id: i < 2 ? 'v1' : 'v2', channel_name: i === 2 ? 'other' : 'chan' }));
      }
      const a = (await store.get('a'))!;
      assert.equal(a.state, 'pending');
      assert.equal(Number(a.created_at), now - 2000);
      assert.equal((await store.list({ channel: 'chan' })).total, 2);
      assert.deepEqual((await store.list({ channel: 'chan' })).items.map((r) => r.id), ['b', 'a']);
      assert.deepEqual((await store.list({ sourceVodId: 'v1', limit: 1, offset: 1 })).items.map((r) => r.id), ['a']);
      assert.equal((await store.list({ channel: 'chan', states: ['ready'] })).total, 0);
      await store.update('a', { state: 'ready', file: 'a.mp4', poster: 'a.jpg', start_ms: 4000, duration_ms: 5040, size_bytes: 1234 });
      const view = toClip((await store.get('a'))!);
      assert.deepEqual(
        { state: view.state, url: view.url, poster: view.poster, start: view.startSeconds, duration: view.durationSeconds, size: view.sizeBytes },
        { state: 'ready', url: '/clip-files/a/a.mp4', poster: '/clip-files/a/a.jpg', start: 4, duration: 5.04, size: 1234 },
      );
      assert.equal(toClip((await store.get('b'))!).url, null, 'no URL before ready');
      assert.deepEqual((await store.list({ channel: 'chan', states: ['ready'] })).items.map((r) => r.id), ['a']);
      await store.remove('c');
      assert.equal(await store.get('c'), undefined);
    });

    await t.test('store: recentBy and failPending (only this node\'s pending clips)', async () => {
      const store = new ClipStore(db, clock);
      now += HOUR * 2;
      await store.create(newClip('r1', { created_by: 'u9' }));
      now += 5000;
      await store.create(newClip('r2', { created_by: 'u9', node_id: 'n2' }));
      const r = await store.recentBy('u9', now - HOUR);
      assert.deepEqual(r, { count: 2, oldest: now - 5000, newest: now });
      assert.deepEqual(await store.recentBy('nobody', 0), { count: 0, oldest: null, newest: null });
      assert.equal(await store.failPending('n2', 'restart'), 1);
      assert.equal((await store.get('r2'))!.state, 'failed');
      assert.equal((await store.get('r2'))!.error, 'restart');
      assert.equal((await store.get('r1'))!.state, 'pending');
    });

    await t.test('service: who may clip, rate limits, live checks in order, restart fails pending clips', async () => {
      await checkService(db, clock, (ms) => { now += ms; });
    });
  });
}

async function checkService(db: Db, clock: () => number, advance: (ms: number) => void): Promise<void> {
  const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-clips-'));
  try {
    const mk = (username: string) => platform.users.create({ username, password: 'hunter2hunter2' });
    const owner = await mk('cowner');
    const manager = await mk('cmanager');
    const follower = await mk('cfollower');
    const subscriber = await mk('csub');
    const viewer = await mk('cviewer');
    const { channel } = await platform.channels.create({ name: 'clipchan', ownerId: owner.id });
    const row = (await platform.channels.find(channel.name))!;
    await platform.channels.grantManager(row.id, manager.id, owner.id);
    await platform.social.follow(follower.id, row.id);
    await platform.social.subscribe(subscriber.id, row.id, 30);
    const actor = (u: { id: string }) => ({ id: u.id, is_admin: 0 });
    const store = new ClipStore(db, clock);
    let live = false;
    let activeDir: string | undefined;
    const make = (clips: Record<string, unknown>, record: Record<string, unknown> = {}) => new ClipService({
      store, recordings: new RecordingStore(db), recordingsRoot: join(dataDir, 'recordings'), clipsRoot: join(dataDir, 'clips'),
      config: loadConfig({ env: {}, overrides: { dataDir, ...Object.fromEntries(Object.entries(clips).map(([k, v]) => [`record.clips.${k}`, v])), ...record } }),
      channels: platform.channels, social: platform.social, isLive: () => live, activeDir: () => activeDir, ffmpeg: undefined, nodeId: 'svc-node',
      logger: silentLogger(), now: clock,
    });

    const allowed = async (svc: ClipService, u: { id: string }) => svc.assertMayClip(row, actor(u)).then(() => true, (err: AppError) => { assert.equal(err.code, 'forbidden'); return false; });
    const table: [string, boolean[]][] = [
      ['everyone', [true, true, true, true, true]],
      ['followers', [true, true, true, true, false]],
      ['subscribers', [true, true, false, true, false]],
      ['managers', [true, true, false, false, false]],
    ];
    for (const [who, expected] of table) {
      const svc = make({ who });
      const got = [];
      for (const u of [owner, manager, follower, subscriber, viewer]) got.push(await allowed(svc, u));
      assert.deepEqual(got, expected, `who=${who}: owner, manager, follower, subscriber, viewer`);
      await svc.assertMayClip(row, { id: '', is_admin: 1 });
    }
    await rejectsCode(make({ enabled: false }).assertMayClip(row, actor(owner)), 'forbidden');

    // Live checks: range first, then permission, live, recording, rate.
    const svc = make({ who: 'followers', minIntervalSeconds: 10, perHour: 2 });
    await rejectsCode(svc.liveClip(row, actor(viewer), { seconds: 4 }), 'clip_out_of_range');
    await rejectsCode(svc.liveClip(row, actor(viewer), { seconds: 61 }), 'clip_out_of_range');
    await rejectsCode(svc.liveClip(row, actor(viewer), { seconds: 5 }), 'forbidden');
    await rejectsCode(svc.liveClip(row, actor(follower), { seconds: 5 }), 'clip_not_live');
    live = true;
    await rejectsCode(svc.liveClip(row, actor(follower), {}), 'clip_needs_recording');
    await rejectsCode(make({}, { 'record.enabled': false }).liveClip(row, actor(follower), {}), 'clip_needs_recording');
    await platform.channels.update(row.name, { recordEnabled: false });
    activeDir = join(dataDir, 'recordings', 'clipchan', 'x');
    await rejectsCode(svc.liveClip({ ...row, record_enabled: 0 }, actor(follower), {}), 'clip_needs_recording');

    // Rate: one per 10 s, two per hour (admins are not limited).
    await store.create(newClip('rate1', { created_by: follower.id }));
    const early = await rejectsCode(svc.assertRate(actor(follower)), 'too_many_requests');
    assert.equal(early.details?.retryAfterSeconds, 10);
    advance(11_000);
    await svc.assertRate(actor(follower));
    await store.create(newClip('rate2', { created_by: follower.id }));
    advance(11_000);
    const hourly = await rejectsCode(svc.assertRate(actor(follower)), 'too_many_requests');
    assert.equal(hourly.details?.retryAfterSeconds, 3600 - 22);
    await svc.assertRate({ id: follower.id, is_admin: 1 });
    advance(HOUR);
    await svc.assertRate(actor(follower));

    // Two requests of one user at once: one passes, the other is refused (no double spend of the rate limit).
    await platform.channels.update(row.name, { recordEnabled: true });
    const racing = await Promise.allSettled([1, 2].map(() => svc.liveClip({ ...row, record_enabled: 1 }, actor(subscriber), { seconds: 5 })));
    assert.deepEqual(racing.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const refused = racing.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((refused.reason as AppError).code, 'too_many_requests');
    const made = (racing.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ id: string; state: string; source_vod_id: string | null }>).value;
    assert.equal(made.state, 'pending');
    // There is no live file here: the cut fails and says why.
    const failed = await waitUntil(async () => { const r = await store.get(made.id); return r?.state === 'failed' ? r : undefined; });
    assert.match(failed.error ?? '', /ENOENT|no such file/);

    // At most `concurrency` cuts at once and `maxQueued` waiting; past that 429. (ffmpeg here sleeps, then fails.)
    const bin = join(dataDir, 'bin');
    mkdirSync(bin);
    for (const tool of ['ffmpeg', 'ffprobe']) {
      writeFileSync(join(bin, tool), '#!/bin/sh\nsleep 1\necho slow >&2\nexit 1\n');
      chmodSync(join(bin, tool), 0o755);
    }
    const recordings = new RecordingStore(db);
    const vod = await recordings.create({ id: 'vod-bound', channel_id: row.id, channel_name: row.name, node_id: 'svc-node', dir: 'clipchan/v', part: 0, started_at: clock(), width: 640, height: 360, video_codec: 'avc', audio_codec: 'aac' });
    await recordings.update(vod.id, { state: 'ready', duration_ms: 60_000 });
    const ready = (await recordings.get(vod.id))!;
    const bounded = new ClipService({
      store, recordings, recordingsRoot: join(dataDir, 'recordings'), clipsRoot: join(dataDir, 'clips'),
      config: loadConfig({ env: {}, overrides: { dataDir, 'record.clips.concurrency': 1, 'record.clips.maxQueued': 1 } }),
      channels: platform.channels, social: platform.social, isLive: () => false, activeDir: () => undefined, ffmpeg: join(bin, 'ffmpeg'), nodeId: 'svc-node',
      logger: silentLogger(), now: clock,
    });
    const first = await bounded.vodClip(ready, row, actor(owner), { start: 1, duration: 5 });
    const second = await bounded.vodClip(ready, row, actor(manager), { start: 1, duration: 5 });
    assert.equal(bounded.inProgress, 2);
    const busy = await rejectsCode(bounded.vodClip(ready, row, actor(viewer), { start: 1, duration: 5 }), 'too_many_requests');
    assert.match(busy.message, /too many clips are being cut/);
    for (const c of [first, second]) {
      const done = await waitUntil(async () => { const r = await store.get(c.id); return r?.state === 'failed' ? r : undefined; }, 20_000);
      assert.match(done.error ?? '', /ffprobe failed: slow/);
    }
    assert.equal(bounded.inProgress, 0);
    await rejectsCode(bounded.vodClip(ready, row, actor(viewer), { start: 59.5, duration: 5 }), 'clip_out_of_range');
    await recordings.update(vod.id, { state: 'finalizing' });
    await rejectsCode(bounded.vodClip((await recordings.get(vod.id))!, row, actor(viewer), { start: 1, duration: 5 }), 'clip_source_not_ready');

    // A restart fails what this node left pending; stop fails nothing that was not queued.
    await store.create(newClip('left', { node_id: 'svc-node' }));
    await svc.start();
    assert.equal((await store.get('left'))!.state, 'failed');
    await svc.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
