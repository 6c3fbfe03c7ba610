/**
 * Clips end to end in a whole server: ffmpeg publishes over RTMP (1 s GOP) with recording on;
 * after ~8 s a viewer clips the last 5 s (cut from the live fMP4 on disk); the clip is h264 +
 * aac, about 5 s, decodes cleanly, has a poster and is served with ranges. After the stream
 * a manager clips a range of the finished VOD. Permissions, rate limit, bad input, delete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from '../../testkit/server.js';
import { decodeErrors, probe, sleep, waitFor } from '../../testkit/record.js';
import { spawn, type ChildProcess } from 'node:child_process';

/** publishGop1 streams `seconds` of test pattern + tone over RTMP with a keyframe every second. */
function publishGop1(rtmpPort: number, key: string, seconds: number, size: string): ChildProcess {
  return spawn('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const PUBLISH_SECONDS = 16;

test('clips: live clip from the recording being written, VOD clip, permissions, limits, delete', { timeout: 240_000 }, async (t) => {
  const s = await startTestServer({ 'jobs.pollIntervalMs': 200, 'record.clips.minIntervalSeconds': 10 });
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await s.close();
  });
  const base = `http://127.0.0.1:${s.httpPort}`;
  const reg = async (username: string) => (await s.api('POST', '/api/v1/auth/register', { username, password: 'hunter2hunter2' })).body.token as string;
  const owner = await reg('clipowner');
  const manager = await reg('clipmanager');
  const viewer = await reg('clipviewer');
  const stranger = await reg('clipstranger');
  const c = await s.api('POST', '/api/v1/channels', { name: 'clipme' }, owner);
  assert.equal(c.status, 201);
  const n = await s.api('POST', '/api/v1/channels', { name: 'norec' }, owner);
  assert.equal((await s.api('PATCH', '/api/v1/channels/norec', { recordEnabled: false }, owner)).status, 200);
  assert.equal((await s.api('PUT', '/api/v1/channels/clipme/managers/clipmanager', undefined, owner)).status, 200);

  // Before going live.
  assert.equal((await s.api('POST', '/api/v1/channels/clipme/clips', { seconds: 5 })).status, 401);
  // No body at all means the default length.
  const noBody = await s.api('POST', '/api/v1/channels/clipme/clips', undefined, viewer);
  assert.equal(noBody.body.error.code, 'clip_not_live');
  const notLive = await s.api('POST', '/api/v1/channels/clipme/clips', { seconds: 5 }, viewer);
  assert.equal(notLive.status, 409);
  assert.equal(notLive.body.error.code, 'clip_not_live');
  for (const seconds of [4, 61, 5.5]) {
    const r = await s.api('POST', '/api/v1/channels/clipme/clips', { seconds }, viewer);
    assert.equal(r.status, 400, `seconds ${seconds}`);
    assert.match(r.body.error.code, /^(clip_out_of_range|validation_failed)$/);
  }
  assert.equal((await s.api('POST', '/api/v1/channels/clipme/clips', { seconds: 5, extra: 1 }, viewer)).body.error.code, 'validation_failed');
  assert.equal((await s.api('POST', '/api/v1/channels/nosuch/clips', { seconds: 5 }, viewer)).status, 404);
  assert.equal((await s.api('GET', '/api/v1/clips/nosuch')).status, 404);
  assert.equal((await s.api('POST', '/api/v1/vods/nosuch/clips', { start: 0, duration: 5 }, viewer)).status, 404);

  const ff = publishGop1(s.rtmpPort!, c.body.streamKey, PUBLISH_SECONDS, '640x360');
  const ff2 = publishGop1(s.rtmpPort!, n.body.streamKey, PUBLISH_SECONDS, '160x90');
  children.push(ff, ff2);
  let ffErr = '';
  ff.stderr!.on('data', (d) => (ffErr += d));
  ff2.stderr!.resume();

  const rec = await waitFor('recording row', async () => {
    const r = await s.api('GET', '/api/v1/vods?channel=clipme&state=all');
    return r.body.vods?.find((v: { state: string }) => v.state === 'recording');
  }, 30_000);
  const liveAt = Date.now();
  await waitFor('norec live', async () => s.app.hub?.isLive('norec'), 20_000);
  const noRec = await s.api('POST', '/api/v1/channels/norec/clips', { seconds: 5 }, viewer);
  assert.equal(noRec.status, 409);
  assert.equal(noRec.body.error.code, 'clip_needs_recording');
  // The VOD being recorded cannot be clipped as a VOD yet.
  const notReady = await s.api('POST', `/api/v1/vods/${rec.id}/clips`, { start: 0, duration: 5 }, viewer);
  assert.equal(notReady.status, 409);
  assert.equal(notReady.body.error.code, 'clip_source_not_ready');

  await sleep(Math.max(0, 8000 - (Date.now() - liveAt)));
  const asked = Date.now();
  const made = await s.api('POST', '/api/v1/channels/clipme/clips', { seconds: 5, title: 'nice shot' }, viewer);
  assert.equal(made.status, 202, JSON.stringify(made.body));
  assert.equal(made.body.clip.state, 'pending');
  assert.equal(made.body.clip.channel, 'clipme');
  assert.equal(made.body.clip.title, 'nice shot');
  assert.equal(made.body.clip.sourceVodId, rec.id);
  assert.equal(made.headers.get('location'), `/api/v1/clips/${made.body.clip.id}`);
  // Rate limit: one per 10 s per user.
  const again = await s.api('POST', '/api/v1/channels/clipme/clips', { seconds: 5 }, viewer);
  assert.equal(again.status, 429);
  assert.equal(again.body.error.code, 'too_many_requests');
  assert.ok(Number(again.headers.get('retry-after')) >= 1, `retry-after ${again.headers.get('retry-after')}`);

  const clip = await waitFor('live clip ready', async () => {
    const r = await s.api('GET', `/api/v1/clips/${made.body.clip.id}`);
    return r.body.clip.state !== 'pending' ? r.body.clip : undefined;
  }, 30_000, 100);
  const readyMs = Date.now() - asked;
  t.diagnostic(`live clip ready ${readyMs} ms after the request`);
  assert.equal(clip.state, 'ready', clip.error);
  assert.ok(readyMs < 10_000, `ready in ${readyMs} ms`);
  assert.ok(clip.startSeconds >= 0 && clip.startSeconds < 8, `start ${clip.startSeconds}`);
  assert.ok(Math.abs(clip.durationSeconds - 5) <= 1.5, `duration ${clip.durationSeconds}`);
  const file = join(s.dataDir, 'live-clip.mp4');
  const res = await fetch(base + clip.url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'video/mp4');
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const p = await probe(file);
  t.diagnostic(`live clip: asked 5 s, got ${p.duration} s starting at ${clip.startSeconds} s of the recording`);
  assert.ok(Math.abs(p.duration - 5) <= 1.5, `probed duration ${p.duration}`);
  assert.deepEqual(p.streams.map((x) => `${x.codec_type}:${x.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  assert.equal(await decodeErrors(file), '');
  const range = await fetch(base + clip.url, { headers: { range: 'bytes=4-11' } });
  assert.equal(range.status, 206);
  assert.equal(Buffer.from(await range.arrayBuffer()).toString('latin1'), 'ftypisom');
  // The poster follows the MP4 (a frame grab).
  const withPoster = await waitFor('poster', async () => (await s.api('GET', `/api/v1/clips/${clip.id}`)).body.clip.poster, 20_000, 100);
  const poster = await fetch(base + withPoster);
  assert.equal(poster.status, 200);
  assert.equal(poster.headers.get('content-type'), 'image/jpeg');
  assert.equal((await poster.arrayBuffer()).byteLength > 1000, true);
  assert.equal((await fetch(`${base}/clip-files/${clip.id}/other.mp4`)).status, 404);

  await new Promise<void>((resolve) => ff.on('close', () => resolve()));
  assert.equal(ff.exitCode, 0, ffErr);
  const vod = await waitFor('ready VOD', async () => {
    const r = await s.api('GET', `/api/v1/vods/${rec.id}`);
    return r.body.vod?.state === 'ready' ? r.body.vod : undefined;
  }, 60_000);

  // VOD clip by a manager; out of range refused.
  const far = await s.api('POST', `/api/v1/vods/${vod.id}/clips`, { start: vod.durationMs / 1000 - 0.5, duration: 5 }, manager);
  assert.equal(far.status, 400);
  assert.equal(far.body.error.code, 'clip_out_of_range');
  assert.equal((await s.api('POST', `/api/v1/vods/${vod.id}/clips`, { start: 1, duration: 61 }, manager)).body.error.code, 'clip_out_of_range');
  const vodAsked = Date.now();
  const vm = await s.api('POST', `/api/v1/vods/${vod.id}/clips`, { start: 2.5, duration: 4 }, manager);
  assert.equal(vm.status, 202, JSON.stringify(vm.body));
  const vclip = await waitFor('VOD clip ready', async () => {
    const r = await s.api('GET', `/api/v1/clips/${vm.body.clip.id}`);
    return r.body.clip.state !== 'pending' ? r.body.clip : undefined;
  }, 30_000, 100);
  t.diagnostic(`VOD clip ready ${Date.now() - vodAsked} ms after the request`);
  assert.equal(vclip.state, 'ready', vclip.error);
  assert.equal(vclip.sourceVodId, vod.id);
  assert.ok(vclip.startSeconds <= 2.5 && vclip.startSeconds >= 1.4, `VOD clip starts at ${vclip.startSeconds} (keyframe at or before 2.5)`);
  const vfile = join(s.dataDir, 'vod-clip.mp4');
  writeFileSync(vfile, Buffer.from(await (await fetch(base + vclip.url)).arrayBuffer()));
  const vp = await probe(vfile);
  t.diagnostic(`VOD clip: asked 2.5 s + 4 s, got ${vp.duration} s from ${vclip.startSeconds} s`);
  assert.ok(Math.abs(vp.duration - (2.5 + 4 - vclip.startSeconds)) <= 1.5, `probed ${vp.duration}`);
  assert.deepEqual(vp.streams.map((x) => `${x.codec_type}:${x.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  assert.equal(await decodeErrors(vfile), '');

  // Lists: newest first, per channel and per VOD.
  const list = await s.api('GET', '/api/v1/channels/clipme/clips');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.clips.map((x: { id: string }) => x.id), [vclip.id, clip.id]);
  assert.equal(list.body.total, 2);
  const page = await s.api('GET', '/api/v1/channels/clipme/clips?limit=1&offset=1');
  assert.deepEqual(page.body.clips.map((x: { id: string }) => x.id), [clip.id]);
  const byVod = await s.api('GET', `/api/v1/vods/${vod.id}/clips`);
  assert.deepEqual(byVod.body.clips.map((x: { id: string }) => x.id).sort(), [vclip.id, clip.id].sort());

  // Delete: anonymous 401, a stranger 403, the manager deletes the viewer's clip, the creator deletes their own.
  assert.equal((await s.api('DELETE', `/api/v1/clips/${clip.id}`)).status, 401);
  assert.equal((await s.api('DELETE', `/api/v1/clips/${clip.id}`, undefined, stranger)).status, 403);
  assert.equal((await s.api('DELETE', `/api/v1/clips/${clip.id}`, undefined, manager)).status, 204);
  assert.equal(existsSync(join(s.dataDir, 'clips', `${clip.id}.mp4`)), false);
  assert.equal((await s.api('GET', `/api/v1/clips/${clip.id}`)).status, 404);
  assert.equal((await fetch(base + clip.url)).status, 404);
  assert.equal((await s.api('DELETE', `/api/v1/clips/${vclip.id}`, undefined, viewer)).status, 403);
  assert.equal((await s.api('DELETE', `/api/v1/clips/${vclip.id}`, undefined, manager)).status, 204);
  // Clips outlive their VOD: deleting the VOD leaves the owner's clip in place.
  const oc = await s.api('POST', `/api/v1/vods/${vod.id}/clips`, { start: 0, duration: 5 }, owner);
  assert.equal(oc.status, 202, JSON.stringify(oc.body));
  const oclip = await waitFor('owner clip ready', async () => {
    const r = await s.api('GET', `/api/v1/clips/${oc.body.clip.id}`);
    return r.body.clip.state !== 'pending' ? r.body.clip : undefined;
  }, 30_000, 100);
  assert.equal(oclip.state, 'ready', oclip.error);
  assert.equal((await s.api('DELETE', `/api/v1/vods/${vod.id}`, undefined, owner)).status, 204);
  assert.equal((await s.api('GET', `/api/v1/clips/${oclip.id}`)).body.clip.state, 'ready');
  const still = await fetch(base + oclip.url);
  assert.equal(still.status, 200);
  await still.arrayBuffer();
  await waitFor('norec publisher done', async () => ff2.exitCode !== null, 30_000);

  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /onair_clip_ready_seconds_count\{kind="live",outcome="ready"\} 1\n/);
  assert.match(metrics, /onair_clip_ready_seconds_count\{kind="vod",outcome="ready"\} 2\n/);
  // The last clip's poster may still be in the making.
  await waitFor('no clip in progress', async () => /onair_clips_in_progress 0\n/.test(await (await fetch(`${base}/metrics`)).text()), 20_000);
});
