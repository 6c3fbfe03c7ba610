/**
 * Recording end to end in a whole server: ffmpeg publishes 10 s over RTMP to the demo
 * channel; the live thumbnail is served; the recording becomes a faststart MP4 of the
 * published duration with both streams; the rules' thumbnails job runs; the VOD file is
 * served with range requests; the owner/admin deletes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from '../../testkit/server.js';
import { decodeErrors, probe, publish, run, topLevelBoxes, waitFor } from '../../testkit/record.js';

const SECONDS = 10;

test('publish 10 s over RTMP → thumbnail, faststart recording of the same duration, VOD API, range requests, delete', { timeout: 240_000 }, async (t) => {
  const s = await startTestServer({ 'record.thumbnailIntervalSeconds': 5, 'jobs.pollIntervalMs': 200 });
  t.after(() => s.close());
  const admin = s.secrets.adminToken;
  const key = s.demoStreamKey!;
  const base = `http://127.0.0.1:${s.httpPort}`;
  const ff = publish(s.rtmpPort!, key, SECONDS);
  let ffErr = '';
  ff.stderr!.on('data', (c) => (ffErr += c));
  t.after(() => { if (ff.exitCode === null) ff.kill('SIGKILL'); });

  // Live: a recording row in state 'recording', and the live thumbnail.
  const live = await waitFor('recording row', async () => {
    const r = await s.api('GET', '/api/v1/vods?channel=demo&state=all');
    return r.body.vods?.find((v: { state: string }) => v.state === 'recording');
  });
  assert.equal(live.channel, 'demo');
  const thumb = await waitFor('live thumbnail', async () => {
    const r = await fetch(`${base}/live/demo/thumbnail.jpg`);
    return r.status === 200 ? r : undefined;
  });
  assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
  assert.equal(thumb.headers.get('cache-control'), 'public, max-age=5');
  const jpgFile = join(s.dataDir, 'thumb-test.jpg');
  writeFileSync(jpgFile, Buffer.from(await thumb.arrayBuffer()));
  const jp = await probe(jpgFile);
  assert.equal(jp.streams[0]!.codec_name, 'mjpeg');
  assert.ok(Math.abs(jp.streams[0]!.width! / jp.streams[0]!.height! - 640 / 360) < 0.01, `thumbnail aspect ${jp.streams[0]!.width}x${jp.streams[0]!.height}`);
  // The LL-HLS wildcard still answers beside the exact thumbnail route.
  const hls = await fetch(`${base}/live/demo/index.m3u8`);
  assert.notEqual(hls.status, 404, 'LL-HLS route still reachable');
  await hls.arrayBuffer();

  await new Promise<void>((resolve) => ff.on('close', () => resolve()));
  assert.equal(ff.exitCode, 0, ffErr);

  const vod = await waitFor('ready VOD', async () => {
    const r = await s.api('GET', '/api/v1/vods?channel=demo');
    return r.body.vods?.find((v: { id: string }) => v.id === live.id);
  }, 60_000);
  assert.equal(vod.state, 'ready');
  assert.equal(vod.renditions[0].name, 'source');
  const file = join(s.dataDir, 'recordings', 'demo');
  const mp4 = await waitFor('source.mp4', async () => {
    const { readdirSync } = await import('node:fs');
    const dirs = readdirSync(file);
    const p = dirs.map((d) => join(file, d, 'source.mp4')).find((x) => existsSync(x));
    return p;
  });
  assert.deepEqual(topLevelBoxes(mp4), ['ftyp', 'moov', 'mdat'], 'moov before mdat');
  const p = await probe(mp4);
  t.diagnostic(`recorded ${p.duration} s of ${SECONDS} s published`);
  assert.ok(Math.abs(p.duration - SECONDS) <= 0.5, `recorded ${p.duration} s of ${SECONDS} s published`);
  assert.deepEqual(p.streams.map((x) => `${x.codec_type}:${x.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  assert.ok(Math.abs(vod.durationMs / 1000 - p.duration) < 0.1, `API duration ${vod.durationMs}`);
  assert.equal(await decodeErrors(mp4), '');
  assert.ok(vod.poster, 'the live thumbnail became the poster');

  // Rules: 360p → thumbnails only (no 720p); the job makes poster, sprite and the WebVTT track.
  const done = await waitFor('thumbnails job done', async () => {
    const r = await s.api('GET', `/api/v1/vods/${vod.id}`);
    const jobs = r.body.jobs as { type: string; state: string }[];
    assert.deepEqual(jobs.map((j) => j.type), ['thumbnails']);
    return jobs[0]!.state === 'done' || jobs[0]!.state === 'failed' ? r.body : undefined;
  }, 90_000);
  assert.equal(done.jobs[0].state, 'done', done.jobs[0].error);
  assert.ok(done.vod.thumbnails);
  const vtt = await (await fetch(base + done.vod.thumbnails)).text();
  assert.match(vtt, /^WEBVTT\n\n00:00:00\.000 --> 00:00:02\.000\nsprite\.jpg#xywh=0,0,160,90\n/);

  // Range requests on the MP4.
  const url = base + vod.renditions[0].url;
  const size = vod.renditions[0].bytes as number;
  const full = await fetch(url);
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('accept-ranges'), 'bytes');
  assert.equal(Number(full.headers.get('content-length')), size);
  await full.arrayBuffer();
  const part = await fetch(url, { headers: { range: 'bytes=4-11' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 4-11/${size}`);
  assert.equal(Buffer.from(await part.arrayBuffer()).toString('latin1'), 'ftypisom');
  const tail = await fetch(url, { headers: { range: 'bytes=-100' } });
  assert.equal(tail.status, 206);
  assert.equal((await tail.arrayBuffer()).byteLength, 100);
  const bad = await fetch(url, { headers: { range: `bytes=${size}-` } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), `bytes */${size}`);
  await bad.arrayBuffer();
  // ffprobe seeks over HTTP with ranges.
  const remote = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', url]);
  assert.ok(Math.abs(Number(remote.stdout.trim()) - p.duration) < 0.01, remote.stderr);
  assert.equal((await fetch(`${base}/vod-files/${vod.id}/..%2Fx.mp4`)).status, 404);

  // Delete: anonymous refused, admin allowed, files gone.
  assert.equal((await s.api('DELETE', `/api/v1/vods/${vod.id}`)).status, 401);
  assert.equal((await s.api('DELETE', `/api/v1/vods/${vod.id}`, undefined, admin)).status, 204);
  assert.equal(existsSync(mp4), false);
  assert.equal((await s.api('GET', `/api/v1/vods/${vod.id}`)).status, 404);

  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /onair_recording_bytes_total [1-9]/);
  assert.match(metrics, /onair_recordings_active 0/);
  assert.match(metrics, /onair_jobs\{state="done"\} 0/);
  assert.match(metrics, /onair_job_duration_seconds_count\{type="thumbnails",outcome="done"\} 1/);
});
