/**
 * Disk full for real: the recordings directory is a tiny tmpfs (needs root; skipped otherwise).
 * The recording stops with ENOSPC counted in the metric and logged; another subscriber of the
 * same stream keeps getting every frame; nothing throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import prom from 'prom-client';
import { pino } from 'pino';
import { configSchema } from '../../../../src/config/index.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { Recorder } from '../../../../src/media/record/recorder.js';
import { recordMetrics } from '../../../../src/media/record/metrics.js';
import { RecordingStore } from '../../../../src/media/record/vods.js';
import type { StreamHubApi, StreamSubscriber } from '../../../../src/media/hub/types.js';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { loadFlv, makeFlv } from '../../helpers/record-media.js';
import { at } from '../../../../testkit/at.js';

function tryMount(dir: string, size: string): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return false;
  } catch {
    return 'cannot mount tmpfs here';
  }
}

class Hub extends EventEmitter implements StreamHubApi {
  subs = new Set<StreamSubscriber>();
  live = false;
  subscribe(_c: string, s: StreamSubscriber) { this.subs.add(s); return () => this.subs.delete(s); }
  isLive() { return this.live; }
  liveChannels() { return this.live ? ['cam'] : []; }
}

test('disk full (ENOSPC) stops the recording only', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-enospc-'));
  const recordings = join(dir, 'recordings');
  mkdirSync(recordings);
  const skip = tryMount(recordings, '256k');
  if (skip) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(skip);
    return;
  }
  const { db, dispose } = await engines()[0]!.open();
  t.after(async () => {
    await dispose();
    execFileSync('umount', [recordings]);
    rmSync(dir, { recursive: true, force: true });
  });
  const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
  await platform.channels.create({ name: 'cam' });
  const registry = new prom.Registry();
  const hub = new Hub();
  const store = new RecordingStore(db);
  const logs: { level: number; msg: string; code?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const rec = new Recorder({ hub, store, channels: platform.channels, config: configSchema.parse({ dataDir: dir, record: { fsyncIntervalMs: 100 } }), logger, nodeId: 'n1', metrics: recordMetrics(registry) });
  await rec.start();
  const content = loadFlv(makeFlv(dir, 8)); // ~1.5 MB: far over the 256 KB disk
  let viewerFrames = 0;
  hub.subs.add({ onFrame: () => { viewerFrames++; } }); // a viewer of the same stream
  hub.live = true;
  hub.emit('streamStart', 'cam');
  await new Promise((r) => setTimeout(r, 50));
  for (const s of hub.subs) s.onTracks?.(content.video, content.audio);
  let n = 0;
  for (const f of content.frames) {
    for (const s of [...hub.subs]) s.onFrame(f);
    if (++n % 10 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  hub.live = false;
  for (const s of [...hub.subs]) s.onEnd?.('done');
  hub.emit('streamEnd', 'cam', 'done');
  await rec.stop();
  assert.equal(viewerFrames, content.frames.length, 'the viewer got every frame');
  const logged = logs.find((l) => l.code === 'ENOSPC' && l.level >= 50);
  assert.ok(logged, `an error log names ENOSPC: ${JSON.stringify(logs.map((l) => l.msg))}`);
  assert.match(logged.msg, /live delivery continues/);
  const metrics = await registry.metrics();
  assert.match(metrics, /onair_recording_errors_total\{reason="ENOSPC"\} [1-9]/);
  assert.match(metrics, /onair_recordings_active 0/);
  const { items } = await store.list({ states: ['recording', 'finalizing', 'ready', 'failed'] });
  assert.equal(items.length, 1);
  // Whatever reached the disk was finalised if space allowed, else the row says why.
  assert.ok(at(items, 0).state === 'failed' || at(items, 0).state === 'ready', at(items, 0).state);
  assert.notEqual(at(items, 0).error, null);
  assert.match(at(items, 0).error!, /ENOSPC|no space/i);
});
