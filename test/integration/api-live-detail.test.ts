// Public fields (issue 19 #1): while a channel is live, the public channel answers carry no
// publisher address, protocol or bitrates; the owner, a manager and an admin read them from
// GET /api/v1/channels/{name}/live, everyone else is refused.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { until } from '../../testkit/wait.js';

describe('public fields and the owner live view', () => {
  let s: TestServer;
  const publishers = new LoopPublishers();
  const tokens: Record<string, string> = {};

  before(async () => {
    s = await startTestServer();
    for (const name of ['owner', 'helper', 'stranger']) {
      tokens[name] = (await s.api('POST', '/api/v1/auth/register', { username: name, password: 'correct-horse-9' })).body.token;
    }
    const c = await s.api('POST', '/api/v1/channels', { name: 'show' }, tokens.owner);
    assert.equal(c.status, 201);
    assert.equal((await s.api('PUT', '/api/v1/channels/show/managers/helper', undefined, tokens.owner)).status, 200);
    assert.deepEqual((await s.api('GET', '/api/v1/channels/show/live', undefined, tokens.owner)).body, { live: false });
    publishers.start(`rtmp://127.0.0.1:${s.rtmpPort}/live/${c.body.streamKey}`);
    await until(async () => {
      const d = (await s.api('GET', '/api/v1/channels/show/live', undefined, tokens.owner)).body;
      return d.live && d.bitrateIn > 0 && d.keyframeIntervalSeconds !== undefined;
    }, 20_000, 'live with a bitrate and two keyframes');
  });
  after(async () => {
    publishers.killAll();
    await s?.close();
  });

  test('anonymous and other users see only live, since, viewers and the picture size', async () => {
    for (const token of [undefined, tokens.stranger]) {
      const one = await s.api('GET', '/api/v1/channels/show', undefined, token);
      const list = await s.api('GET', '/api/v1/channels?live=true', undefined, token);
      assert.equal(one.status, 200);
      for (const stream of [one.body.channel.stream, list.body.channels[0].stream]) {
        assert.deepEqual(Object.keys(stream).sort(), ['live', 'since', 'video', 'viewers']);
        assert.deepEqual(stream.video, { codec: 'avc', width: 640, height: 360 });
      }
      for (const raw of [JSON.stringify(one.body), JSON.stringify(list.body)]) {
        assert.doesNotMatch(raw, /127\.0\.0\.1|clientIp|publisher|bitrate/);
      }
    }
  });

  test('the owner, a manager and the admin token get the publisher, bitrates and keyframe interval', async () => {
    for (const token of [tokens.owner, tokens.helper, s.secrets.adminToken]) {
      const d = await s.api('GET', '/api/v1/channels/show/live', undefined, token);
      assert.equal(d.status, 200);
      assert.equal(d.body.live, true);
      assert.deepEqual(d.body.publisher, { protocol: 'rtmp', clientIp: '127.0.0.1' });
      assert.ok(d.body.bitrateIn > 0);
      assert.equal(typeof d.body.bitrateOut, 'number');
      assert.equal(typeof d.body.fps, 'number');
      assert.equal(d.body.audio.codec, 'aac');
      assert.equal(d.body.video.codecString.slice(0, 4), 'avc1');
      // The fixture loops a one-second clip with one keyframe at its start.
      assert.ok(d.body.keyframeIntervalSeconds > 0.8 && d.body.keyframeIntervalSeconds < 1.2, `keyframe interval ${d.body.keyframeIntervalSeconds}`);
    }
  });

  test('anyone else is refused: 401 without a login, 403 for another user, 404 for an unknown channel', async () => {
    const anon = await s.api('GET', '/api/v1/channels/show/live');
    assert.equal(anon.status, 401);
    const other = await s.api('GET', '/api/v1/channels/show/live', undefined, tokens.stranger);
    assert.equal(other.status, 403);
    assert.equal(other.body.error.code, 'forbidden');
    assert.doesNotMatch(JSON.stringify(other.body), /127\.0\.0\.1/);
    assert.equal((await s.api('GET', '/api/v1/channels/nope/live', undefined, tokens.owner)).status, 404);
  });

  test('GET /api/v1/streams (publisher addresses of every stream) is for admins only', async () => {
    assert.equal((await s.api('GET', '/api/v1/streams')).status, 401);
    assert.equal((await s.api('GET', '/api/v1/streams', undefined, tokens.owner)).status, 403);
    const all = await s.api('GET', '/api/v1/streams', undefined, s.secrets.adminToken);
    assert.equal(all.body.streams[0].publisher.clientIp, '127.0.0.1');
  });

  test('offline again: the live view says {live: false}', async () => {
    publishers.killAll();
    await until(async () => !(await s.api('GET', '/api/v1/channels/show', undefined)).body.channel.stream.live, 15_000, 'offline');
    assert.deepEqual((await s.api('GET', '/api/v1/channels/show/live', undefined, tokens.owner)).body, { live: false });
  });
});
