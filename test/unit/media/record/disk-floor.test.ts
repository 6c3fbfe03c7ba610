/**
 * Issue 19 #8: a recording already running stops cleanly when the recordings disk falls below
 * record.minFreeBytes mid-stream (the guard's free-space function is injected). The part written
 * so far is finalised, the stream's other subscribers keep every frame, and the refusal is exposed
 * like at start (disk_floor).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import prom from 'prom-client';
import { pino } from 'pino';
import { configSchema } from '../../../../src/config/index.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { Recorder, recordingsRootOf } from '../../../../src/media/record/recorder.js';
import { RecordingGuard } from '../../../../src/media/record/guard.js';
import { recordMetrics } from '../../../../src/media/record/metrics.js';
import { RecordingStore } from '../../../../src/media/record/vods.js';
import type { StreamHubApi, StreamSubscriber } from '../../../../src/media/hub/types.js';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { loadFlv, makeFlv } from '../../helpers/record-media.js';
import { at } from '../../../../testkit/at.js';

class Hub extends EventEmitter implements StreamHubApi {
  subs = new Set<StreamSubscriber>();
  live = false;
  subscribe(_c: string, s: StreamSubscriber) { this.subs.add(s); return () => this.subs.delete(s); }
  isLive() { return this.live; }
  liveChannels() { return this.live ? ['cam'] : []; }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('free disk falling below record.minFreeBytes mid-stream stops the recording, keeps the stream', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-floor-'));
  const { db, dispose } = await engines()[0]!.open();
  t.after(async () => {
    await dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
  await platform.channels.create({ name: 'cam' });
  const registry = new prom.Registry();
  const hub = new Hub();
  const store = new RecordingStore(db);
  const logs: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const config = configSchema.parse({ dataDir: dir, record: { fsyncIntervalMs: 100, minFreeBytes: 1000 } });
  let free = 10_000;
  const guard = new RecordingGuard({ root: recordingsRootOf(config), channelQuotaBytes: 0, minFreeBytes: 1000, bytesOfChannel: async () => 0, freeBytes: async () => free });
  const rec = new Recorder({
    hub, store, channels: platform.channels, config, logger, nodeId: 'n1', metrics: recordMetrics(registry),
    refusal: () => guard.refusal('cam'), diskFloor: () => guard.diskFloor(), diskCheckMs: 50,
  });
  await rec.start();
  const content = loadFlv(makeFlv(dir, 6));
  let viewerFrames = 0;
  hub.subs.add({ onFrame: () => { viewerFrames++; } });
  hub.live = true;
  hub.emit('streamStart', 'cam');
  await sleep(100);
  assert.equal(hub.subs.size, 2, 'the recorder subscribed (enough free disk at start)');
  for (const s of hub.subs) s.onTracks?.(content.video, content.audio);
  const frames = content.frames;
  const half = Math.floor(frames.length / 2);
  for (let i = 0; i < frames.length; i++) {
    if (i === half) {
      free = 10; // the disk fills up while live
      await sleep(300);
      assert.equal(rec.refusalOf('cam')?.code, 'disk_floor', 'the owner sees why recording stopped');
    }
    for (const s of [...hub.subs]) s.onFrame(at(frames, i));
    if (i % 10 === 0) await sleep(5);
  }
  assert.equal(hub.isLive(), true);
  assert.deepEqual(rec.refusalOf('cam'), { code: 'disk_floor', bytes: 10, limit: 1000, message: rec.refusalOf('cam')!.message });
  hub.live = false;
  for (const s of [...hub.subs]) s.onEnd?.('done');
  hub.emit('streamEnd', 'cam', 'done');
  await rec.stop();
  assert.equal(viewerFrames, frames.length, 'the viewer got every frame');
  assert.ok(logs.some((l) => l.level === 40 && /recording stopped mid-stream: only 10 bytes free/.test(l.msg)), JSON.stringify(logs.map((l) => l.msg)));
  const { items } = await store.list({ states: ['recording', 'finalizing', 'ready', 'failed'] });
  assert.equal(items.length, 1, 'one recording, no new part after the stop');
  assert.equal(at(items, 0).state, 'ready', 'what was written before the floor was finalised');
  assert.match(at(items, 0).error ?? '', /record\.minFreeBytes/);
  const ms = Number(at(items, 0).duration_ms);
  assert.ok(ms > 0 && ms < 4500, `the recording stopped about halfway through the 6 s stream (${ms} ms)`);
  assert.match(await registry.metrics(), /onair_recordings_active 0/);
});
