/**
 * Retention and quota: recordings older than record.retentionDays go with every file of their
 * folder (MP4s, poster, sprite, thumbnails track, captions) and their jobs; over record.quotaBytes
 * the oldest finished recordings go first; a recording in progress is never deleted, even when
 * it is the oldest and everything else is gone, and its bytes count towards the quota.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import prom from 'prom-client';
import { configSchema } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { Recorder } from '../../../../src/media/record/recorder.js';
import { recordMetrics } from '../../../../src/media/record/metrics.js';
import { RecordingStore } from '../../../../src/media/record/vods.js';
import { JobQueue } from '../../../../src/platform/jobs/queue.js';
import '../../../../src/platform/jobs/schema.js';
import type { StreamHubApi, StreamSubscriber } from '../../../../src/media/hub/types.js';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { loadFlv, makeFlv } from '../../helpers/record-media.js';

const DAY = 24 * 3600 * 1000;
const FOLDER_FILES = ['source.mp4', '720p.mp4', 'poster.jpg', 'sprite.jpg', 'thumbnails.vtt', 'captions-en.vtt'];

class Hub extends EventEmitter implements StreamHubApi {
  subs = new Set<StreamSubscriber>();
  live = false;
  subscribe(_c: string, s: StreamSubscriber) { this.subs.add(s); return () => this.subs.delete(s); }
  isLive() { return this.live; }
  liveChannels() { return this.live ? ['cam'] : []; }
}

for (const e of engines()) {
  test(`retention and quota never touch a live recording (${e.engine})`, { skip: e.skip, timeout: 120_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'onair-retention-'));
    const { db, dispose } = await e.open();
    t.after(async () => { await dispose(); rmSync(dir, { recursive: true, force: true }); });
    const root = join(dir, 'recordings');
    const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
    await platform.channels.create({ name: 'cam' });
    const store = new RecordingStore(db);
    const queue = new JobQueue(db, { maxAttempts: 1, backoff: { baseMs: 100, maxMs: 100 }, leaseMs: 5000 });
    const now = Date.now();

    /** A finished recording `ageDays` old, `bytes` big, with a full folder and a queued job. */
    const finished = async (id: string, ageDays: number, bytes: number, state: 'ready' | 'failed' = 'ready') => {
      mkdirSync(join(root, 'cam', id), { recursive: true });
      for (const f of FOLDER_FILES) writeFileSync(join(root, 'cam', id, f), 'x');
      await store.create({ id, channel_id: null, channel_name: 'cam', node_id: 'n1', dir: `cam/${id}`, part: 0, started_at: now - ageDays * DAY - 60_000, width: 640, height: 360, video_codec: 'avc', audio_codec: 'aac' });
      await store.update(id, { state, ended_at: now - ageDays * DAY, size_bytes: bytes, duration_ms: 60_000, poster: 'poster.jpg', thumbnails: 'thumbnails.vtt', captions: JSON.stringify([{ language: 'en', file: 'captions-en.vtt' }]) });
      await queue.enqueue({ type: 'transcode-hevc', recordingId: id, payload: { recordingId: id } });
    };
    await finished('old-ready', 40, 1000);
    await finished('old-failed', 31, 1000, 'failed');
    await finished('week', 7, 3000);
    await finished('recent', 1, 2000);
    // A crash-orphaned row of 40 days ago still 'finalizing' (another node's): not finished, not ours to delete.
    await store.create({ id: 'stuck', channel_id: null, channel_name: 'cam', node_id: 'n2', dir: 'cam/stuck', part: 0, started_at: now - 41 * DAY, width: 0, height: 0, video_codec: null, audio_codec: null });
    await store.update('stuck', { state: 'finalizing', ended_at: now - 40 * DAY });

    // A live session of the same channel, started long ago (a 24/7 stream) and still writing.
    const hub = new Hub();
    const registry = new prom.Registry();
    const deleted: string[] = [];
    const live = new Recorder({
      hub, store, channels: platform.channels, config: configSchema.parse({ dataDir: dir, record: { fsyncIntervalMs: 100, retentionDays: 30 } }), logger: silentLogger(), nodeId: 'n1',
      metrics: recordMetrics(registry), now: () => now, onDelete: async (r) => { deleted.push(r.id); await queue.removeForRecording(r.id); },
    });
    await live.start();
    await live.recovered;
    const content = loadFlv(makeFlv(dir, 3));
    hub.live = true;
    hub.emit('streamStart', 'cam');
    for (let i = 0; i < 100 && hub.subs.size === 0; i++) await new Promise((r) => setTimeout(r, 50)); // the recorder reads the channel first
    for (const s of hub.subs) s.onTracks?.(content.video, content.audio);
    let n = 0;
    for (const f of content.frames) {
      for (const s of [...hub.subs]) s.onFrame(f);
      if (++n % 20 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 1500)); // a few fragments on disk
    let liveRow = (await store.list({ states: ['recording'] })).items[0]!;
    for (let i = 0; i < 50 && !liveRow; i++) {
      await new Promise((r) => setTimeout(r, 100));
      liveRow = (await store.list({ states: ['recording'] })).items[0]!;
    }
    assert.ok(liveRow, 'the live recording has a row');
    // Its row says it started 60 days ago: retention must still leave it alone.
    await store.update(liveRow.id, { started_at: now - 60 * DAY });

    // Retention (30 days): the two old finished recordings go, folder and jobs included.
    await live.sweep();
    assert.deepEqual(deleted.sort(), ['old-failed', 'old-ready']);
    for (const id of ['old-ready', 'old-failed']) {
      assert.equal(await store.get(id), undefined);
      assert.equal(existsSync(join(root, 'cam', id)), false, `${id}: every file of the folder is gone`);
      assert.equal((await queue.list({ recordingId: id })).length, 0, `${id}: its jobs are gone`);
    }
    for (const id of ['week', 'recent', 'stuck', liveRow.id]) assert.ok(await store.get(id), `${id} kept`);
    assert.deepEqual(readdirSync(join(root, 'cam', 'week')).sort(), [...FOLDER_FILES].sort());
    assert.ok(existsSync(join(root, liveRow.dir, 'recording.fmp4')), 'the live file is untouched');
    const liveBytes = live.activeBytes();
    assert.ok(liveBytes > 0, 'the live recording has written bytes');

    // Quota: the live recording's bytes count; the oldest finished go until the total fits.
    // week (3000) + recent (2000) + live: a quota of live + 2500 leaves only "recent".
    deleted.length = 0;
    const recordConfig = live.config.record as { quotaBytes: number };
    recordConfig.quotaBytes = liveBytes + 2500;
    await live.sweep();
    assert.deepEqual(deleted, ['week']);
    // A quota smaller than the live recording alone: every finished one goes, the live one stays.
    deleted.length = 0;
    recordConfig.quotaBytes = 1;
    await live.sweep();
    assert.deepEqual(deleted, ['recent']);
    assert.equal((await store.get(liveRow.id))?.state, 'recording');
    assert.ok(existsSync(join(root, liveRow.dir, 'recording.fmp4')));

    // The session ends normally and its recording is finalised (then it is an ordinary finished one).
    hub.live = false;
    for (const s of [...hub.subs]) s.onEnd?.('done');
    hub.emit('streamEnd', 'cam', 'done');
    await live.stop();
    assert.equal((await store.get(liveRow.id))?.state, 'ready');
    assert.equal((await store.get('stuck'))?.state, 'finalizing');
  });
}
