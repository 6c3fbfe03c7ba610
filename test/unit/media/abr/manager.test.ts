/**
 * AbrManager and AbrTranscoder against a real hub, with real ffmpeg fed the fixture's frames
 * (the one encode at 180p is tiny), and the per-channel setting on SQLite and PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import prom from 'prom-client';
import { StreamHub } from '../../../../src/media/hub/hub.js';
import { FlvFrameReader } from '../../../../src/media/flv/frame-reader.js';
import { AbrManager } from '../../../../src/media/abr/manager.js';
import { AbrSettings } from '../../../../src/media/abr/settings.js';
import { configSchema } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { FlvParser, FLV_TAG_SCRIPT, type FlvTag } from '../../../../src/formats/flv.js';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { at } from '../../../../testkit/at.js';

function fixture(): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(new URL('../../../fixtures/media/h264-aac-640x360.flv', import.meta.url)));
  return tags.filter((t) => t.type !== FLV_TAG_SCRIPT);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const gone = (pid: number) => !existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

test('ABR manager: transcodes enabled channels only, maps and guards rendition names, restarts a crashed ffmpeg, stops with the source', { timeout: 60_000 }, async (t) => {
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 4 << 20, viewerStallMs: 60_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const config = configSchema.parse({ media: { abr: { ladder: [{ name: '180p', height: 180, videoKbps: 150 }, { name: '720p', height: 720, videoKbps: 2000 }], preset: 'ultrafast', restartMinMs: 100 } } });
  const registry = new prom.Registry();
  const enabled = new Set(['cam']);
  const abr = new AbrManager({ hub, config, logger: silentLogger(), registry, ffmpeg: 'ffmpeg', isEnabled: async (c) => enabled.has(c) });
  await abr.start();
  t.after(() => abr.stop());
  const tags = fixture();
  // Two channels live: only "cam" has ABR on.
  const camStream = hub.publish('cam', { protocol: 'rtmp', close: () => {} })!;
  const otherStream = hub.publish('other', { protocol: 'rtmp', close: () => {} })!;
  const cam = new FlvFrameReader(camStream);
  const other = new FlvFrameReader(otherStream);
  await sleep(20);
  let i = 0;
  let offset = 0;
  const feed = (n: number) => {
    for (let k = 0; k < n; k++) {
      const t = at(tags, i);
      cam.tag(t.type, t.timestamp + offset, t.data);
      other.tag(t.type, t.timestamp + offset, t.data);
      if (++i === tags.length) {
        // Loop the fixture with increasing timestamps.
        i = 0;
        offset += at(tags, tags.length - 1).timestamp + 40;
      }
    }
  };
  // About 2x real time: one lap of the ~1 s fixture every 500 ms.
  feed(tags.length);
  const feeder = setInterval(() => feed(tags.length), 500);
  t.after(() => clearInterval(feeder));
  await until('cam_180p live', () => hub.isLive('cam_180p'));
  assert.equal(hub.stats('cam_180p')?.video?.height, 180);
  assert.equal(hub.isLive('cam_720p'), false, 'a rung taller than the 360p source is skipped');
  assert.equal(hub.stats('cam_180p')?.publisher.protocol, 'abr');
  assert.deepEqual(abr.info().map((x) => x.channel), ['cam']);
  assert.deepEqual(abr.renditionOf('cam_180p'), { channel: 'cam', rendition: '180p' });
  assert.equal(abr.renditionOf('cam_720p'), undefined);
  assert.equal(abr.renditionOf('other_180p'), undefined);
  // Users may not publish to a rendition name of a channel with ABR.
  assert.match((await abr.publishRefusal('cam_180p'))!, /rendition of cam/);
  assert.equal(await abr.publishRefusal('other_180p'), null);
  assert.equal(await abr.publishRefusal('cam'), null);

  // A crash: logged, counted, restarted at the next keyframe; the source goes on.
  const pid1 = abr.info('cam')[0]!.pid!;
  process.kill(pid1, 'SIGKILL');
  await until('rendition offline after crash', () => !hub.isLive('cam_180p'));
  assert.ok(hub.isLive('cam'));
  await until('restarted', () => (abr.info('cam')[0]?.pid ?? pid1) !== pid1 && hub.isLive('cam_180p'));
  assert.equal(abr.info('cam')[0]!.restarts, 1);
  const metrics = await registry.metrics();
  assert.match(metrics, /onair_abr_transcoder_restarts_total\{channel="cam"\} 1/);
  assert.match(metrics, /onair_abr_transcoders_running 1/);

  // Switching ABR off while live stops it at once.
  const pid2 = abr.info('cam')[0]!.pid!;
  enabled.delete('cam');
  await abr.refresh('cam');
  await until('ffmpeg killed', () => gone(pid2));
  assert.equal(hub.isLive('cam_180p'), false);
  // On again, then the source ends: the transcoder is stopped by pid.
  enabled.add('cam');
  await abr.refresh('cam');
  await until('running again', () => abr.info('cam')[0]?.pid !== undefined);
  const pid3 = abr.info('cam')[0]!.pid!;
  clearInterval(feeder);
  camStream.end('publisher left');
  otherStream.end('publisher left');
  await until('ffmpeg stopped with the source', () => gone(pid3));
  assert.equal(abr.info().length, 0);
  assert.match(await registry.metrics(), /onair_abr_transcoders_running 0/);
  await abr.stop();
});

for (const e of engines()) {
  test(`ABR per-channel setting on ${e.engine}`, { skip: e.skip }, async (t) => {
    const { db, dispose } = await e.open();
    t.after(dispose);
    const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
    const { channel } = await platform.channels.create({ name: 'cam' });
    const settings = new AbrSettings(db);
    assert.equal(await settings.get(channel.id), undefined);
    await settings.set(channel.id, true);
    assert.equal(await settings.get(channel.id), true);
    await settings.set(channel.id, false);
    assert.equal(await settings.get(channel.id), false);
    await settings.set(channel.id, null);
    assert.equal(await settings.get(channel.id), undefined);
  });
}


test('ABR manager: beyond media.abr.maxTranscoders a channel streams its source only, says why, and gets the slot when one frees up (#8)', { timeout: 60_000 }, async (t) => {
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 4 << 20, viewerStallMs: 60_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const config = configSchema.parse({ media: { abr: { ladder: [{ name: '180p', height: 180, videoKbps: 150 }], preset: 'ultrafast', maxTranscoders: 1 } } });
  const abr = new AbrManager({ hub, config, logger: silentLogger(), ffmpeg: 'ffmpeg', isEnabled: async () => true });
  await abr.start();
  t.after(() => abr.stop());
  // Three channels with ABR on go live: one transcoder, two refused, all three still live.
  const pubs = ['one', 'two', 'three'].map((ch) => hub.publish(ch, { protocol: 'rtmp', close: () => {} })!);
  await until('decisions made', () => abr.info().length === 3);
  const running = abr.info().filter((i) => !i.refused);
  const refused = abr.info().filter((i) => i.refused);
  assert.deepEqual(running.map((i) => i.channel), ['one']);
  assert.deepEqual(refused.map((i) => i.channel).sort(), ['three', 'two']);
  assert.deepEqual(at(refused, 0).refused, { code: 'abr_capacity', max: 1 });
  for (const ch of ['one', 'two', 'three']) assert.equal(hub.isLive(ch), true, `${ch} stays live`);
  // The first stream ends: a waiting channel takes the slot.
  at(pubs, 0).end('publisher left');
  await until('a waiting channel got the slot', () => abr.info().filter((i) => !i.refused).length === 1 && abr.info().length === 2);
  assert.equal(abr.info().filter((i) => i.refused).length, 1);
  for (const p of pubs.slice(1)) p.end('publisher left');
  await until('all gone', () => abr.info().length === 0);
});
