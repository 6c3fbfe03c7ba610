import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { get } from 'node:http';
import WebSocket from 'ws';
import { startMedia, publishLoop, waitFor, killAll } from './helpers/media-harness.js';
import { FlvParser, FLV_TAG_VIDEO, type FlvTag } from '../../src/formats/flv.js';

after(killAll);

test('WebSocket-FLV: binary messages carry the FLV header, then whole tags from a keyframe', async () => {
  const h = await startMedia({ 'media.flushIntervalMs': 50 });
  h.keys.set('k2', 'ws');
  const pub2 = await publishLoop(h.rtmpUrl('live/k2'), 1);
  try {
    await waitFor(() => h.media.hub.isLive('ws'));
    await new Promise((r) => setTimeout(r, 300));
    const ws = new WebSocket(`ws://127.0.0.1:${h.httpPort}/live/ws.flv`);
    const messages: Buffer[] = [];
    const tags: FlvTag[] = [];
    const parser = new FlvParser({ onTag: (t) => tags.push(t) });
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, true);
      messages.push(d);
      parser.push(d);
    });
    await waitFor(() => tags.filter((t) => t.type === FLV_TAG_VIDEO).length > 30, 10_000, 'ws tags');
    assert.equal(messages[0]!.subarray(0, 3).toString(), 'FLV');
    const firstVideo = tags.filter((t) => t.type === FLV_TAG_VIDEO);
    assert.equal(firstVideo[0]!.data[1], 0, 'AVC sequence header first');
    assert.equal(firstVideo[1]!.data[0]! >> 4, 1, 'then a keyframe');
    assert.equal(h.media.hub.stats('ws')!.viewers.wsflv, 1);
    // every message after the first holds whole tags (a tag never spans two messages)
    for (const m of messages.slice(1)) {
      let o = 0;
      while (o < m.length) o += 11 + m.readUIntBE(o + 1, 3) + 4;
      assert.equal(o, m.length);
    }
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    pub2.stop();
    assert.equal(await closed, 1000);
    // offline channel: the upgrade is answered with 404
    const ws2 = new WebSocket(`ws://127.0.0.1:${h.httpPort}/live/ws.flv`);
    const status = await new Promise<number>((r) => ws2.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)));
    assert.equal(status, 404);
  } finally {
    pub2.stop();
    await h.stop();
  }
});

test('a viewer that stops reading is skipped then disconnected; another viewer keeps the full rate', async () => {
  const h = await startMedia({ 'media.viewerQueueSkipBytes': 64 * 1024, 'media.viewerQueueMaxBytes': 64 * 1024 * 1024, 'media.viewerStallSeconds': 2 });
  h.keys.set('fast', 'busy');
  // 100x real time (~28 Mbit/s), so the stalled viewer's kernel buffers fill within seconds
  const pub = await publishLoop(h.rtmpUrl('live/fast'), 100);
  try {
    await waitFor(() => h.media.hub.isLive('busy'));
    // stalled viewer: sends the request, never reads
    const stalled = connect(h.httpPort, '127.0.0.1');
    stalled.write(`GET /live/busy.flv HTTP/1.1\r\nHost: x\r\n\r\n`);
    stalled.pause();
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true));
    stalled.on('error', () => {});
    // healthy viewer: reads and counts video tags
    let videoTags = 0;
    let firstVideoTs = -1;
    let lastVideoTs = -1;
    let maxGap = 0;
    const req = get(h.httpUrl('live/busy.flv'), (res) => {
      const p = new FlvParser({
        onTag: (t) => {
          if (t.type !== FLV_TAG_VIDEO || t.data[1] !== 1) return;
          videoTags++;
          if (firstVideoTs < 0) firstVideoTs = t.timestamp;
          else maxGap = Math.max(maxGap, t.timestamp - lastVideoTs);
          lastVideoTs = t.timestamp;
        },
      });
      res.on('data', (d: Buffer) => p.push(d));
    });
    req.on('error', () => {});
    await waitFor(() => h.media.hub.stats('busy')!.viewers.flv === 2, 5000, 'two viewers');
    await waitFor(() => h.media.hub.stats('busy')!.viewers.flv === 1, 20_000, 'stalled viewer disconnected');
    // once it reads again it finds the connection closed
    stalled.resume();
    await waitFor(() => stalledClosed, 10_000, 'stalled socket closed');
    const metrics = await h.registry.metrics();
    const dropped = Number(/onair_media_dropped_frames_total\{reason="slow_viewer"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.ok(dropped > 0, 'slow viewer drops are counted');
    assert.equal(h.media.hub.stats('busy')!.viewers.flv, 1);
    // the healthy viewer was never skipped: no gap between consecutive frames (25 fps, 40 ms apart)
    const span = lastVideoTs - firstVideoTs;
    assert.ok(maxGap <= 80, `largest gap ${maxGap} ms`);
    assert.ok(videoTags > span / 80, `healthy viewer got ${videoTags} frames over ${span} ms`);
    assert.ok(span > 20_000, `healthy viewer followed ${span} ms of media`);
    req.destroy();
    stalled.destroy();
  } finally {
    pub.stop();
    await h.stop();
  }
});
