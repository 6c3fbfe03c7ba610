// A VOD's title (issue 23): the broadcast title when its session started, which the owner or a
// manager may change with PATCH /api/v1/vods/{id}; anyone else may not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { RecordingStore } from '../../src/media/record/vods.js';

let s: TestServer;
const tokens: Record<string, string> = {};
let vodId = '';

before(async () => {
  s = await startTestServer({ 'record.enabled': false });
  for (const name of ['mira', 'helper', 'stranger']) {
    const r = await s.api('POST', '/api/v1/auth/register', { username: name, password: 'hunter2hunter2' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    tokens[name] = r.body.token as string;
  }
  const c = await s.api('POST', '/api/v1/channels', { name: 'mira', title: '밤의 라디오' }, tokens.mira);
  assert.equal(c.status, 201);
  assert.equal((await s.api('PUT', '/api/v1/channels/mira/managers/helper', undefined, tokens.mira)).status, 200);
  // A finished recording as the recorder leaves it (the recorder's own test covers the title it takes).
  const store = new RecordingStore(s.platform.db);
  vodId = 'vod-title-1';
  await store.create({ id: vodId, channel_id: c.body.channel.id, channel_name: 'mira', title: '밤의 라디오', node_id: 'n1', dir: 'mira/x', part: 0, started_at: Date.now(), width: 640, height: 360, video_codec: 'avc', audio_codec: 'aac' });
  await store.update(vodId, { state: 'ready', duration_ms: 1000 });
});
after(async () => s.close());

test('the VOD carries its session title; the owner and a manager rename it, others may not', async () => {
  assert.equal((await s.api('GET', `/api/v1/vods/${vodId}`)).body.vod.title, '밤의 라디오');
  const owner = await s.api('PATCH', `/api/v1/vods/${vodId}`, { title: '  1화: 첫 방송  ' }, tokens.mira);
  assert.equal(owner.status, 200, JSON.stringify(owner.body));
  assert.equal(owner.body.vod.title, '1화: 첫 방송');
  const manager = await s.api('PATCH', `/api/v1/vods/${vodId}`, { title: 'Episode 1' }, tokens.helper);
  assert.equal(manager.status, 200);
  assert.equal((await s.api('GET', `/api/v1/vods/${vodId}`)).body.vod.title, 'Episode 1');
  assert.equal((await s.api('PATCH', `/api/v1/vods/${vodId}`, { title: 'mine now' }, tokens.stranger)).status, 403);
  assert.equal((await s.api('PATCH', `/api/v1/vods/${vodId}`, { title: 'anon' })).status, 401);
  const blank = await s.api('PATCH', `/api/v1/vods/${vodId}`, { title: '   ' }, tokens.mira);
  assert.equal(blank.status, 400);
  assert.equal(blank.body.error.code, 'validation_failed');
  assert.equal((await s.api('PATCH', `/api/v1/vods/${vodId}`, { title: 'x'.repeat(141) }, tokens.mira)).status, 400);
  assert.equal((await s.api('PATCH', '/api/v1/vods/no-such-vod', { title: 'x' }, tokens.mira)).status, 404);
  assert.equal((await s.api('GET', `/api/v1/vods/${vodId}`)).body.vod.title, 'Episode 1', 'refused changes left it alone');
});
