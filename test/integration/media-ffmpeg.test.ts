import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { startMedia, publishArgs, run, collect, ffprobe, waitFor, killAll } from './helpers/media-harness.js';
import { RtmpClient } from '../../src/media/index.js';
import { FlvParser, FLV_TAG_VIDEO, type FlvTag } from '../../src/formats/flv.js';

after(killAll);

test('ffmpeg publishes H.264+AAC; HTTP-FLV and RTMP play with ffprobe/ffmpeg; publisher SIGKILL ends viewers cleanly', async () => {
  const h = await startMedia();
  try {
    h.keys.set('sk_live_1', 'demo');
    const pub = run('ffmpeg', publishArgs(h.rtmpUrl('live/sk_live_1')));
    const pubOut = collect(pub, 120_000);
    await waitFor(() => !!h.media.hub.streams.get('demo')?.video && !!h.media.hub.streams.get('demo')?.audio, 15_000, 'stream live with tracks');
    assert.deepEqual(h.events[0], { channel: 'events:demo', data: h.events[0]!.data });
    assert.equal(h.events[0].data.type, 'live');

    const [flvProbe, rtmpProbe] = await Promise.all([ffprobe(h.httpUrl('live/demo.flv')), ffprobe(h.rtmpUrl('live/demo'))]);
    for (const probe of [flvProbe, rtmpProbe]) {
      const v = probe.streams.find((s) => s.codec_type === 'video')!;
      const a = probe.streams.find((s) => s.codec_type === 'audio')!;
      assert.equal(v.codec_name, 'h264');
      assert.equal(v.width, 640);
      assert.equal(v.height, 360);
      assert.equal(a.codec_name, 'aac');
    }

    // Decode 5 s from both outputs at once, with no error output.
    const [d1, d2] = await Promise.all([
      collect(run('ffmpeg', ['-v', 'error', '-i', h.httpUrl('live/demo.flv'), '-t', '5', '-f', 'null', '-']), 30_000),
      collect(run('ffmpeg', ['-v', 'error', '-i', h.rtmpUrl('live/demo'), '-t', '5', '-f', 'null', '-']), 30_000),
    ]);
    assert.equal(d1.code, 0, d1.stderr);
    assert.equal(d1.stderr.trim(), '', 'HTTP-FLV decode errors');
    assert.equal(d2.code, 0, d2.stderr);
    assert.equal(d2.stderr.trim(), '', 'RTMP decode errors');

    const stats = h.media.stats();
    assert.equal(stats.length, 1);
    assert.equal(stats[0]!.channel, 'demo');
    assert.deepEqual(stats[0]!.video, { codec: 'avc', codecString: 'avc1.42c01e', width: 640, height: 360 });
    assert.equal(stats[0]!.audio?.codecString, 'mp4a.40.2');
    assert.ok(stats[0]!.bitrateIn > 0);
    assert.ok(stats[0]!.fps > 15 && stats[0]!.fps < 35, `fps ${stats[0]!.fps}`);

    // Viewers that stay until the publisher dies: one HTTP-FLV, one RTMP.
    const flvTags: FlvTag[] = [];
    let httpEnded = false;
    let httpFirstKeyMs = 0;
    const t0 = Date.now();
    const req = get(h.httpUrl('live/demo.flv'), (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'video/x-flv');
      assert.equal(res.headers['access-control-allow-origin'], '*');
      const p = new FlvParser({
        onTag: (t) => {
          flvTags.push(t);
          if (!httpFirstKeyMs && t.type === FLV_TAG_VIDEO && t.data[0]! >> 4 === 1 && t.data[1] === 1) httpFirstKeyMs = Date.now() - t0;
        },
      });
      res.on('data', (d: Buffer) => p.push(d));
      res.on('end', () => (httpEnded = true));
    });
    req.on('error', () => {});
    const player = await RtmpClient.play(h.rtmpUrl('live/demo'));
    let rtmpMedia = 0;
    let rtmpEnd = '';
    player.on('media', () => rtmpMedia++);
    player.on('end', (r: string) => (rtmpEnd = r));
    await waitFor(() => flvTags.length > 20 && rtmpMedia > 20, 10_000, 'viewers receiving');
    assert.ok(httpFirstKeyMs > 0 && httpFirstKeyMs < 1000, `first keyframe after ${httpFirstKeyMs} ms`);
    assert.equal(h.media.stats()[0]!.viewers.flv, 1);
    assert.equal(h.media.stats()[0]!.viewers.rtmp, 1);

    const ended = new Promise<[string, string]>((resolve) => h.media.hub.once('streamEnd', (ch: string, reason: string) => resolve([ch, reason])));
    pub.kill('SIGKILL');
    const [ch] = await ended;
    assert.equal(ch, 'demo');
    await waitFor(() => httpEnded && rtmpEnd !== '', 5_000, 'viewers ended');
    assert.equal(h.media.hub.isLive('demo'), false);
    assert.equal(h.events.at(-1)!.data.type, 'offline');
    await pubOut;

    // Offline channel: 404 JSON.
    const res = await fetch(h.httpUrl('live/demo.flv'));
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
    const metrics = await h.registry.metrics();
    assert.match(metrics, /onair_media_streams_live 0/);
    assert.match(metrics, /onair_media_bytes_out_total\{protocol="flv"\} [1-9]/);
  } finally {
    killAll();
    await h.stop();
  }
});
