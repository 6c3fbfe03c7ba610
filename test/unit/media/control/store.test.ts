// Restream targets and publish blocks on SQLite and PostgreSQL, through StreamControl (the
// rules the routes use) with a stand-in hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { AppError } from '../../../../src/http/errors.js';
import { ControlStore } from '../../../../src/media/control/db.js';
import { controlMetrics, StreamControl, type ControlHub } from '../../../../src/media/control/service.js';

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: AppError) => e instanceof AppError && e.code === code);

for (const e of engines()) {
  test(`restream targets and publish blocks on ${e.engine}`, { skip: e.skip }, async (t) => {
    const { db, dispose } = await e.open();
    t.after(dispose);
    const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
    const { channel: created } = await platform.channels.create({ name: 'cam' });
    const channel = (await platform.channels.find('cam'))!;
    let now = 1_800_000_000_000;
    const kicked: string[] = [];
    const hub: ControlHub = {
      isLive: () => false,
      stats: ((ch?: string) => (ch === undefined ? [] : null)) as ControlHub['stats'],
      kick: (ch) => { kicked.push(ch); return true; },
    };
    const registry = new Registry();
    const control = new StreamControl({
      store: new ControlStore(db, () => now), hub, channels: platform.channels, logger: silentLogger(), metrics: controlMetrics(registry),
      maxTargetsPerChannel: 2, allowPrivateTargets: true, now: () => now,
    });

    // create: the key is split off the URL and masked; the runner-less status is idle
    const a = await control.createTarget(channel, { name: 'YouTube', url: 'rtmp://127.0.0.1:1935/live2/abcd-efgh-ijkl-mnop' });
    assert.equal(a.url, 'rtmp://127.0.0.1:1935/live2');
    assert.equal(a.streamKey, '****mnop');
    assert.equal(a.enabled, true);
    assert.equal(a.channel, 'cam');
    assert.deepEqual(a.status, { state: 'idle', connects: 0, lastError: null, bytesSent: 0 });
    now += 1;
    const b = await control.createTarget(channel, { name: 'Twitch', url: 'rtmp://127.0.0.1/app', streamKey: 'live_1', enabled: false });
    assert.equal(b.streamKey, '****');
    assert.equal(b.status.state, 'stopped');
    await rejectsWith(control.createTarget(channel, { name: 'third', url: 'rtmp://127.0.0.1/app/k' }), 'too_many_restreams');
    await rejectsWith(control.createTarget(channel, { name: ' ', url: 'rtmp://127.0.0.1/app/k' }), 'validation_failed');
    assert.deepEqual((await control.listTargets(channel)).map((x) => x.name), ['YouTube', 'Twitch']);

    // update: url only keeps the stored key; a key in the url replaces it; enabled flips
    const store = new ControlStore(db);
    now += 1000;
    const a2 = await control.updateTarget(channel, a.id, { url: 'rtmp://127.0.0.1:1936/live2' });
    assert.equal(a2.url, 'rtmp://127.0.0.1:1936/live2');
    assert.equal((await store.getTarget(channel.id, a.id))!.stream_key, 'abcd-efgh-ijkl-mnop');
    assert.equal(a2.updatedAt, now);
    await control.updateTarget(channel, a.id, { url: 'rtmp://127.0.0.1/other/new-key-123456' });
    assert.equal((await store.getTarget(channel.id, a.id))!.stream_key, 'new-key-123456');
    assert.equal((await store.getTarget(channel.id, a.id))!.url, 'rtmp://127.0.0.1/other');
    await control.updateTarget(channel, a.id, { streamKey: 'k2' });
    assert.equal((await store.getTarget(channel.id, a.id))!.stream_key, 'k2');
    const b2 = await control.updateTarget(channel, b.id, { enabled: true, name: 'Twitch KR' });
    assert.equal(b2.enabled, true);
    assert.equal(b2.name, 'Twitch KR');
    const a3 = await control.updateTarget(channel, a.id, { url: 'rtmps://127.0.0.1/app/tls-key-123456' });
    assert.equal(a3.url, 'rtmps://127.0.0.1:443/app', 'rtmps:// kept, default port written out');
    assert.equal((await store.getTarget(channel.id, a.id))!.stream_key, 'tls-key-123456');
    await rejectsWith(control.updateTarget(channel, a.id, { url: 'srt://127.0.0.1:9000/app/k' }), 'invalid_restream_url');
    await rejectsWith(control.updateTarget(channel, 'no-such-id', { enabled: false }), 'restream_not_found');
    await rejectsWith(control.deleteTarget(channel, 'no-such-id'), 'restream_not_found');
    await control.deleteTarget(channel, b.id);
    assert.deepEqual((await control.listTargets(channel)).map((x) => x.id), [a.id]);

    // blocks: end stores one, the guard refuses until it expires, unblock lifts it
    const r = await control.end(channel, { by: 'owner', userId: created.ownerId ?? '' }, { blockSeconds: 60, reason: 'bye' });
    assert.deepEqual(r, { channel: 'cam', ended: false, reason: 'not_live', blockedUntil: new Date(now + 60_000).toISOString() });
    assert.deepEqual(kicked, [], 'not live: nothing kicked');
    assert.match((await control.publishGuard('cam'))!, /blocked until .*bye/);
    assert.equal(await control.publishGuard('unknown-channel'), null);
    now += 60_001;
    assert.equal(await control.publishGuard('cam'), null, 'expired');
    await control.end(channel, { by: 'admin', userId: '' }, { blockSeconds: 10 });
    assert.notEqual(await control.publishGuard('cam'), null);
    assert.equal(await control.unblock(channel, { by: 'admin', userId: '' }), true);
    assert.equal(await control.publishGuard('cam'), null);
    const metrics = await registry.metrics();
    assert.match(metrics, /onair_publish_blocked_total 2/);

    // deleting the channel takes its targets and block with it
    await control.end(channel, { by: 'admin', userId: '' }, { blockSeconds: 10 });
    await platform.channels.remove('cam');
    assert.deepEqual(await store.listTargets(channel.id), []);
    assert.equal(await store.activeBlock(channel.id), undefined);
  });
}
