import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import prom from 'prom-client';
import { configSchema } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { Recorder } from '../../../../src/media/record/recorder.js';
import { recordMetrics } from '../../../../src/media/record/metrics.js';
import { RecordingStore, toVod, type RecordingsTable } from '../../../../src/media/record/vods.js';
import { RecordingWriter } from '../../../../src/media/record/writer.js';
import type { StreamHubApi, StreamSubscriber } from '../../../../src/media/hub/types.js';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { ffprobe, loadFlv, makeFlv, topLevelBoxes } from '../../helpers/record-media.js';

/** FakeHub replays frames to subscribers the way the hub contract describes. */
class FakeHub extends EventEmitter implements StreamHubApi {
  subs = new Map<string, Set<StreamSubscriber>>();
  live = new Set<string>();
  subscribe(channel: string, s: StreamSubscriber): () => void {
    if (!this.subs.has(channel)) this.subs.set(channel, new Set());
    this.subs.get(channel)!.add(s);
    return () => this.subs.get(channel)?.delete(s);
  }
  isLive(channel: string): boolean {
    return this.live.has(channel);
  }
  liveChannels(): string[] {
    return [...this.live];
  }
  /** play publishes a whole session: start, headers one by one, frames, end. */
  async play(channel: string, c: ReturnType<typeof loadFlv>): Promise<void> {
    this.live.add(channel);
    this.emit('streamStart', channel);
    await new Promise((r) => setTimeout(r, 50)); // the recorder looks the channel up in the database
    const each = (fn: (s: StreamSubscriber) => void) => { for (const s of [...(this.subs.get(channel) ?? [])]) fn(s); };
    each((s) => s.onTracks?.(c.video, undefined));
    each((s) => s.onTracks?.(c.video, c.audio));
    // Paced a little, as live frames are (the recorder opens files asynchronously).
    let n = 0;
    for (const f of c.frames) {
      each((s) => s.onFrame(f));
      if (++n % 20 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    this.live.delete(channel);
    each((s) => s.onEnd?.('publisher left'));
    this.emit('streamEnd', channel, 'publisher left');
  }
}

const e = engines()[0]!;

test('recorder: sessions, duration splits at keyframes, per-channel switch, crash recovery, quota', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-recorder-'));
  const { db, dispose } = await e.open();
  t.after(async () => { await dispose(); rmSync(dir, { recursive: true, force: true }); });
  const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
  await platform.channels.create({ name: 'cam', title: '오늘의 방송' });
  await platform.channels.create({ name: 'off' });
  await platform.channels.update('off', { recordEnabled: false });
  const config = configSchema.parse({ dataDir: dir, record: { maxDurationSeconds: 2, fsyncIntervalMs: 100 } });
  const hub = new FakeHub();
  const store = new RecordingStore(db);
  const ready: RecordingsTable[] = [];
  const registry = new prom.Registry();
  const rec = new Recorder({ hub, store, channels: platform.channels, config, logger: process.env.REC_DEBUG ? (await import('../../../../src/observability/logger.js')).createLogger('debug') : silentLogger(), nodeId: 'n1', metrics: recordMetrics(registry), onReady: async (r) => { ready.push(r); } });
  await rec.start();
  const content = loadFlv(makeFlv(dir, 6));

  await hub.play('cam', content);
  await hub.play('off', content);
  await rec.stop();
  const { items } = await store.list({ states: ['ready', 'failed', 'recording', 'finalizing'], limit: 100 });
  assert.deepEqual(items.map((r) => r.channel_name), ['cam', 'cam', 'cam'], 'three 2-second parts, nothing for the channel with recording off');
  const parts = items.sort((a, b) => a.part - b.part);
  assert.deepEqual(parts.map((p) => p.part), [0, 1, 2]);
  assert.deepEqual(parts.map((p) => p.state), ['ready', 'ready', 'ready']);
  // Each part keeps the broadcast title of when the session started; a title changed later does not rename them.
  await platform.channels.update('cam', { title: 'renamed afterwards' });
  assert.deepEqual(parts.map((p) => toVod(p).title), ['오늘의 방송', '오늘의 방송', '오늘의 방송']);
  let total = 0;
  for (const p of parts) {
    const mp4 = join(dir, 'recordings', p.dir, 'source.mp4');
    assert.deepEqual(topLevelBoxes(mp4), ['ftyp', 'moov', 'mdat']);
    const d = ffprobe(mp4).duration;
    total += d;
    assert.ok(d > 1.5 && d < 2.6, `part ${p.part} lasts ${d}`);
  }
  assert.ok(Math.abs(total - 6) < 0.3, `parts add up to the session: ${total}`);
  assert.equal(ready.length, 3);
  assert.match(await registry.metrics(), /onair_recordings_active 0/);

  // A crash left a row in 'recording' and a fragmented file: recovery finalises it.
  const crashed = await store.create({ id: 'crashed', channel_id: null, channel_name: 'cam', node_id: 'n1', dir: 'cam/crashed', part: 0, started_at: 1, width: 640, height: 360, video_codec: 'avc', audio_codec: 'aac' });
  const other = await store.create({ id: 'other-node', channel_id: null, channel_name: 'cam', node_id: 'n2', dir: 'cam/other', part: 0, started_at: 2, width: 640, height: 360, video_codec: 'avc', audio_codec: 'aac' });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'recordings', 'cam', 'crashed'), { recursive: true });
  const w = await RecordingWriter.create({ file: join(dir, 'recordings', 'cam', 'crashed', 'recording.fmp4'), video: content.video, audio: content.audio, fragmentMs: 1000, fsyncIntervalMs: 100 });
  for (const f of content.frames.slice(0, Math.floor(content.frames.length / 2))) w.onFrame(f);
  await w.finish();
  await rec.recover();
  assert.equal((await store.get(crashed.id))?.state, 'ready');
  assert.equal(toVod(crashed).title, 'cam', 'a recording without a title is named after its channel');
  assert.equal((await store.get(other.id))?.state, 'recording', 'another node\'s recordings are left to that node');

  // Quota: keep the newest recordings under the limit, delete the oldest (files and rows).
  const sizes = (await store.finishedOldestFirst('n1')).map((r) => Number(r.size_bytes));
  const quotaConfig = configSchema.parse({ dataDir: dir, record: { quotaBytes: sizes.slice(-2).reduce((a, b) => a + b, 0) } });
  const deleted: string[] = [];
  const rec2 = new Recorder({ hub, store, channels: platform.channels, config: quotaConfig, logger: silentLogger(), nodeId: 'n1', metrics: recordMetrics(registry), onDelete: async (r) => { deleted.push(r.id); } });
  const before = await store.finishedOldestFirst('n1');
  await rec2.sweep();
  const after = await store.finishedOldestFirst('n1');
  assert.equal(after.length, 2);
  assert.deepEqual(deleted, before.slice(0, before.length - 2).map((r) => r.id));
  for (const r of before.slice(0, before.length - 2)) assert.equal(existsSync(join(dir, 'recordings', r.dir)), false);
});
