// Ending a live stream through the API on a whole server: ffmpeg publishes over RTMP, the owner
// ends it with a publish block, the encoder's connection closes, a publish during the block is
// refused by the shared publish check (kind "refused", counted), and accepted after it. Admin
// end with key rotation, the operators' live list, permissions, and the api-only node's 409.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until, sleep } from '../../testkit/wait.js';
import { exited, LoopPublishers } from '../../testkit/ffmpeg-loop.js';

const publishers = new LoopPublishers();
const children = publishers.running;
/** publish loops the 1 s fixture in real time (stream copy). */
const publish = (url: string) => publishers.start(url);


function killChildren(): void {
  for (const p of children) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
}

describe('POST /api/v1/channels/{name}/live/end', () => {
  let s: TestServer;
  let admin: string;
  let owner: string;
  let other: string;
  let viewer: string;
  let manager: string;
  let adminUser: string;
  let key: string;
  const rtmp = (k: string) => `rtmp://127.0.0.1:${s.rtmpPort}/live/${k}`;
  const live = () => s.app.media!.hub.isLive('endme');

  before(async () => {
    s = await startTestServer({ 'media.restream.allowPrivateTargets': true });
    admin = s.secrets.adminToken;
    const reg = async (username: string) => (await s.api('POST', '/api/v1/auth/register', { username, password: 'hunter2hunter2' })).body.token as string;
    owner = await reg('owner1');
    other = await reg('owner2');
    viewer = await reg('viewer1');
    manager = await reg('manager1');
    assert.equal((await s.api('POST', '/api/v1/users', { username: 'boss', password: 'hunter2hunter2', admin: true }, admin)).status, 201);
    adminUser = (await s.api('POST', '/api/v1/auth/login', { username: 'boss', password: 'hunter2hunter2' })).body.token;
    const c = await s.api('POST', '/api/v1/channels', { name: 'endme' }, owner);
    assert.equal(c.status, 201);
    key = c.body.streamKey;
    assert.equal((await s.api('POST', '/api/v1/channels', { name: 'otherch' }, other)).status, 201);
    assert.equal((await s.api('PUT', '/api/v1/channels/endme/managers/manager1', undefined, owner)).status, 200);
  });
  after(async () => {
    killChildren();
    await s?.close();
  });

  test('not live: 200 with ended false and reason not_live', async () => {
    const r = await s.api('POST', '/api/v1/channels/endme/live/end', undefined, owner);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { channel: 'endme', ended: false, blockedUntil: null, reason: 'not_live' });
  });

  test('permissions: anonymous 401, viewer/other owner/manager 403, unknown channel 404, bad body 400', async () => {
    const ff = publish(rtmp(key));
    await until(live, 15_000, 'channel live');
    assert.equal((await s.api('POST', '/api/v1/channels/endme/live/end', {})).status, 401);
    for (const tok of [viewer, other, manager]) {
      const r = await s.api('POST', '/api/v1/channels/endme/live/end', {}, tok);
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'forbidden');
    }
    assert.equal((await s.api('POST', '/api/v1/channels/nope/live/end', {}, admin)).status, 404);
    const bad = await s.api('POST', '/api/v1/channels/endme/live/end', { blockSeconds: 86_401 }, owner);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'validation_failed');
    assert.equal((await s.api('POST', '/api/v1/channels/endme/live/end', { blockSeconds: 5, extra: 1 }, owner)).status, 400);
    assert.ok(live(), 'refused calls leave the stream alone');
    assert.equal(ff.exitCode, null);
  });

  test('operators list live streams with hub stats (admin only)', async () => {
    assert.equal((await s.api('GET', '/api/v1/streams', undefined, owner)).status, 403);
    assert.equal((await s.api('GET', '/api/v1/streams')).status, 401);
    await until(async () => (await s.api('GET', '/api/v1/streams', undefined, admin)).body.streams[0]?.bitrateIn > 0, 10_000, 'bitrate measured');
    const r = await s.api('GET', '/api/v1/streams', undefined, adminUser);
    assert.equal(r.status, 200);
    assert.equal(r.body.mediaHere, true);
    const st = r.body.streams.find((x: any) => x.channel === 'endme');
    assert.ok(st, JSON.stringify(r.body));
    assert.equal(st.publisher.protocol, 'rtmp');
    assert.equal(st.publisher.clientIp, '127.0.0.1');
    assert.equal(st.video.codec, 'avc');
    assert.equal(st.audio.codec, 'aac');
    assert.ok(st.fps > 0);
    assert.equal(typeof st.viewers.flv, 'number');
    assert.deepEqual(st.restreams, []);
  });

  test('the owner ends it with a block: encoder disconnected, offline, republish refused during the block, accepted after', async () => {
    const ff = [...children][0]!;
    const r = await s.api('POST', '/api/v1/channels/endme/live/end', { reason: 'wrong scene', blockSeconds: 4 }, owner);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ended, true);
    assert.equal(r.body.stream.protocol, 'rtmp');
    assert.ok(r.body.stream.durationSeconds >= 0);
    const until_ = Date.parse(r.body.blockedUntil);
    assert.ok(until_ > Date.now() + 2000 && until_ <= Date.now() + 4000, r.body.blockedUntil);
    assert.equal(r.body.streamKey, undefined);
    assert.equal(live(), false);
    await exited(ff, 10_000);

    // the block, as the owner sees it
    const b = await s.api('GET', '/api/v1/channels/endme/live/block', undefined, owner);
    assert.deepEqual(b.body, { blockedUntil: r.body.blockedUntil, reason: 'wrong scene' });

    // The shared publish check (RTMP and WHIP) refuses with kind "refused" and says why.
    const check = await s.app.media!.authorizePublish(key, '127.0.0.1', 'whip');
    assert.equal(check.ok, false);
    assert.equal((check as { kind: string }).kind, 'refused');
    assert.match((check as { reason: string }).reason, /blocked until .*wrong scene/);
    // A real encoder reconnecting is refused too and never goes live.
    const again = publish(rtmp(key));
    const code = await exited(again, 10_000);
    assert.notEqual(code, 0);
    assert.equal(live(), false);
    const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    const blocked = Number(/^onair_publish_blocked_total (\d+)/m.exec(metrics)?.[1]);
    assert.ok(blocked >= 2, `blocked publishes counted: ${blocked}`);
    assert.match(metrics, /onair_live_end_requests_total\{by="owner",outcome="ended"\} 1/);
    assert.match(metrics, /onair_live_end_requests_total\{by="owner",outcome="not_live"\} 1/);

    // after the block the same key publishes again
    await sleep(Math.max(0, until_ - Date.now() + 100));
    publish(rtmp(key));
    await until(live, 15_000, 'live again after the block');
    assert.deepEqual((await s.api('GET', '/api/v1/channels/endme/live/block', undefined, owner)).body, { blockedUntil: null, reason: null });
  });

  test('an admin ends it and rotates the key: the old key is refused, the new one works', async () => {
    const ff = [...children][0]!;
    const r = await s.api('POST', '/api/v1/channels/endme/live/end', { rotateKey: true }, admin);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ended, true);
    assert.equal(r.body.blockedUntil, null);
    assert.match(r.body.streamKey, /^live_/);
    assert.notEqual(r.body.streamKey, key);
    await exited(ff, 10_000);
    const old = await s.app.media!.authorizePublish(key, '127.0.0.1', 'rtmp');
    assert.equal((old as { kind: string }).kind, 'key');
    key = r.body.streamKey;
    publish(rtmp(key));
    await until(live, 15_000, 'live with the new key');
  });

  test('a block can be lifted early by the owner (DELETE live/block)', async () => {
    const ff = [...children][0]!;
    const r = await s.api('POST', '/api/v1/channels/endme/live/end', { blockSeconds: 3600 }, adminUser);
    assert.equal(r.body.ended, true);
    await exited(ff, 10_000);
    assert.equal((await s.app.media!.authorizePublish(key, '127.0.0.1', 'rtmp')).ok, false);
    assert.equal((await s.api('DELETE', '/api/v1/channels/endme/live/block', undefined, viewer)).status, 403);
    const lift = await s.api('DELETE', '/api/v1/channels/endme/live/block', undefined, owner);
    assert.deepEqual(lift.body, { lifted: true });
    assert.deepEqual((await s.api('DELETE', '/api/v1/channels/endme/live/block', undefined, owner)).body, { lifted: false });
    assert.equal((await s.app.media!.authorizePublish(key, '127.0.0.1', 'rtmp')).ok, true);
    const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    assert.match(metrics, /onair_live_end_requests_total\{by="admin",outcome="ended"\} 2/);
  });
});

describe('an api-only node', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ roles: ['api'] });
  });
  after(async () => {
    await s?.close();
  });

  test('answers 409 not_live_here for an end and lists no streams; restream targets are still managed (SSRF check on)', async () => {
    const owner = (await s.api('POST', '/api/v1/auth/register', { username: 'own', password: 'hunter2hunter2' })).body.token;
    assert.equal((await s.api('POST', '/api/v1/channels', { name: 'apich' }, owner)).status, 201);
    const r = await s.api('POST', '/api/v1/channels/apich/live/end', { blockSeconds: 60 }, owner);
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'not_live_here');
    assert.deepEqual(r.body.error.details, { mediaHere: false });
    assert.deepEqual((await s.api('GET', '/api/v1/channels/apich/live/block', undefined, owner)).body, { blockedUntil: null, reason: null }, 'nothing applied');
    assert.deepEqual((await s.api('GET', '/api/v1/streams', undefined, s.secrets.adminToken)).body, { mediaHere: false, streams: [] });
    // default config: loopback and private targets are refused (SSRF)
    for (const url of ['rtmp://127.0.0.1/live/k', 'rtmp://localhost:1935/live/k', 'rtmp://169.254.169.254/live/k', 'rtmp://10.0.0.8/app/k']) {
      const t = await s.api('POST', '/api/v1/channels/apich/restreams', { name: 'x', url }, owner);
      assert.equal(t.status, 400, url);
      assert.equal(t.body.error.code, 'restream_target_forbidden', url);
    }
    const ok = await s.api('POST', '/api/v1/channels/apich/restreams', { name: 'pub', url: 'rtmp://8.8.8.8/live', streamKey: 'abcdefgh-1234-zz' }, owner);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.restream.status.state, 'idle');
    assert.equal(ok.body.restream.streamKey, '****4-zz');
  });
});
