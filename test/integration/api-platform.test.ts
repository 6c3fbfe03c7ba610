import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ERRORS } from '../../src/http/errors.js';

describe('platform REST API', () => {
  let s: TestServer;
  let ownerToken: string;
  before(async () => { s = await startTestServer(); });
  after(async () => s?.close());

  const errorShape = (body: any, code: string) => {
    assert.equal(typeof body?.error?.message, 'string', JSON.stringify(body));
    assert.equal(body.error.code, code, JSON.stringify(body));
    assert.ok(code in ERRORS);
  };

  test('healthz and metrics', async () => {
    const h = await s.api('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    const m = await s.api('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type')!, /text\/plain/);
    assert.match(m.body, /onair_process_resident_memory_bytes/);
  });

  test('register, login, me, logout', async () => {
    const r = await s.api('POST', '/api/v1/auth/register', { username: 'owner', password: 'hunter2hunter2', displayName: '방장' });
    assert.equal(r.status, 201);
    assert.equal(r.body.user.displayName, '방장');
    assert.match(r.headers.get('set-cookie')!, /onair_session=.*HttpOnly/);
    const l = await s.api('POST', '/api/v1/auth/login', { username: 'owner', password: 'hunter2hunter2' });
    assert.equal(l.status, 200);
    ownerToken = l.body.token;
    const me = await s.api('GET', '/api/v1/me', undefined, ownerToken);
    assert.equal(me.body.user.username, 'owner');
    // the cookie works as well as the bearer header
    const viaCookie = await s.api('GET', '/api/v1/me', undefined, undefined, { cookie: `onair_session=${encodeURIComponent(ownerToken)}` });
    assert.equal(viaCookie.body.user.username, 'owner');
    const other = (await s.api('POST', '/api/v1/auth/login', { username: 'owner', password: 'hunter2hunter2' })).body.token;
    assert.equal((await s.api('POST', '/api/v1/auth/logout', undefined, other)).status, 204);
    errorShape((await s.api('GET', '/api/v1/me', undefined, other)).body, 'unauthorized');
  });

  test('bad credentials and duplicate names are clear 4xx', async () => {
    const bad = await s.api('POST', '/api/v1/auth/login', { username: 'owner', password: 'nope' });
    assert.equal(bad.status, 401);
    errorShape(bad.body, 'unauthorized');
    const dup = await s.api('POST', '/api/v1/auth/register', { username: 'owner', password: 'hunter2hunter2' });
    assert.equal(dup.status, 409);
    errorShape(dup.body, 'username_taken');
    // Usernames are unique whatever their case (issue 19 #6).
    const caseDup = await s.api('POST', '/api/v1/auth/register', { username: 'OWNER', password: 'hunter2hunter2' });
    assert.equal(caseDup.status, 409);
    errorShape(caseDup.body, 'username_taken');
    const noAuth = await s.api('GET', '/api/v1/me');
    assert.equal(noAuth.status, 401);
    const wrongToken = await s.api('GET', '/api/v1/me', undefined, 'not-a-token');
    assert.equal(wrongToken.status, 401);
  });

  test('malformed JSON, wrong types, unknown fields, oversized bodies, wrong content type, unknown routes', async () => {
    const malformed = await s.api('POST', '/api/v1/auth/login', '{"username": "x",');
    assert.equal(malformed.status, 400);
    errorShape(malformed.body, 'bad_request');
    const wrongType = await s.api('POST', '/api/v1/auth/register', { username: 42, password: 'hunter2hunter2' });
    assert.equal(wrongType.status, 400);
    errorShape(wrongType.body, 'validation_failed');
    assert.match(wrongType.body.error.message, /username/);
    const missing = await s.api('POST', '/api/v1/auth/register', { username: 'newbie' });
    assert.match(missing.body.error.message, /body\.password is required/);
    const extra = await s.api('POST', '/api/v1/auth/register', { username: 'newbie', password: 'hunter2hunter2', isAdmin: true });
    assert.equal(extra.status, 400);
    assert.match(extra.body.error.message, /isAdmin/);
    const huge = await s.api('POST', '/api/v1/auth/login', { username: 'x', password: 'y'.repeat(2 * 1024 * 1024) });
    assert.equal(huge.status, 413);
    errorShape(huge.body, 'payload_too_large');
    const text = await s.api('POST', '/api/v1/auth/login', 'username=x', undefined, { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    errorShape(text.body, 'unsupported_media_type');
    const unknown = await s.api('GET', '/api/v1/does-not-exist');
    assert.equal(unknown.status, 404);
    errorShape(unknown.body, 'not_found');
    const badParam = await s.api('GET', '/api/v1/channels?limit=lots');
    assert.equal(badParam.status, 400);
    // the server is still fine after all that
    assert.equal((await s.api('GET', '/healthz')).status, 200);
  });

  test('channels: create, get, update, rotate key, delete with permissions', async () => {
    const c = await s.api('POST', '/api/v1/channels', { name: 'minji', title: '민지의 방송' }, ownerToken);
    assert.equal(c.status, 201);
    assert.match(c.body.streamKey, /^live_/);
    assert.equal((await s.platform.channels.resolveStreamKey(c.body.streamKey))?.name, 'minji');
    const g = await s.api('GET', '/api/v1/channels/minji');
    assert.equal(g.body.channel.title, '민지의 방송');
    assert.equal(g.body.channel.ownerName, '방장', 'the streamer\'s display name, for the offline line');
    assert.equal(g.body.channel.stream.live, false);
    assert.equal(g.body.channel.streamKeyHash, undefined);
    assert.ok(!JSON.stringify(g.body).includes(c.body.streamKey), 'the key is never shown again');
    const dup = await s.api('POST', '/api/v1/channels', { name: 'minji' }, ownerToken);
    assert.equal(dup.status, 409);
    const badName = await s.api('POST', '/api/v1/channels', { name: 'Has Spaces' }, ownerToken);
    assert.equal(badName.status, 400);
    // another user may not touch it
    const intruder = (await s.api('POST', '/api/v1/auth/register', { username: 'intruder', password: 'hunter2hunter2' })).body.token;
    assert.equal((await s.api('PATCH', '/api/v1/channels/minji', { title: 'mine now' }, intruder)).status, 403);
    assert.equal((await s.api('POST', '/api/v1/channels/minji/stream-key/rotate', undefined, intruder)).status, 403);
    const up = await s.api('PATCH', '/api/v1/channels/minji', { title: '새 제목' }, ownerToken);
    assert.equal(up.body.channel.title, '새 제목');
    const rot = await s.api('POST', '/api/v1/channels/minji/stream-key/rotate', undefined, ownerToken);
    assert.notEqual(rot.body.streamKey, c.body.streamKey);
    assert.equal(await s.platform.channels.resolveStreamKey(c.body.streamKey), undefined);
    const list = await s.api('GET', '/api/v1/channels?q=minji');
    assert.deepEqual(list.body.channels.map((x: any) => x.name), ['minji']);
    assert.equal((await s.api('GET', '/api/v1/channels/nope')).status, 404);
  });

  test('managers: only the owner appoints', async () => {
    await s.api('POST', '/api/v1/auth/register', { username: 'helper', password: 'hunter2hunter2' });
    const intruder = (await s.api('POST', '/api/v1/auth/login', { username: 'intruder', password: 'hunter2hunter2' })).body.token;
    assert.equal((await s.api('PUT', '/api/v1/channels/minji/managers/helper', undefined, intruder)).status, 403);
    const put = await s.api('PUT', '/api/v1/channels/minji/managers/helper', undefined, ownerToken);
    assert.deepEqual(put.body.managers.map((m: any) => m.username), ['helper']);
    const helperToken = (await s.api('POST', '/api/v1/auth/login', { username: 'helper', password: 'hunter2hunter2' })).body.token;
    // a manager may edit the title but not appoint others or rotate the key
    assert.equal((await s.api('PATCH', '/api/v1/channels/minji', { title: 'by manager' }, helperToken)).status, 200);
    assert.equal((await s.api('PUT', '/api/v1/channels/minji/managers/intruder', undefined, helperToken)).status, 403);
    assert.equal((await s.api('POST', '/api/v1/channels/minji/stream-key/rotate', undefined, helperToken)).status, 403);
    assert.deepEqual((await s.api('GET', '/api/v1/me', undefined, helperToken)).body.roles, { minji: ['manager'] });
    const del = await s.api('DELETE', '/api/v1/channels/minji/managers/helper', undefined, ownerToken);
    assert.deepEqual(del.body.managers, []);
  });

  test('follow, subscribe (admin-granted), relationship', async () => {
    const fan = (await s.api('POST', '/api/v1/auth/register', { username: 'fan', password: 'hunter2hunter2' })).body.token;
    const f = await s.api('POST', '/api/v1/channels/minji/follow', undefined, fan);
    assert.equal(f.body.following, true);
    assert.equal((await s.api('GET', '/api/v1/channels/minji')).body.channel.followers, 1);
    assert.equal((await s.api('POST', '/api/v1/channels/minji/subscriptions', { username: 'fan', days: 30 }, fan)).status, 403);
    const sub = await s.api('POST', '/api/v1/channels/minji/subscriptions', { username: 'fan', days: 30 }, s.secrets.adminToken);
    assert.equal(sub.status, 200);
    const rel = await s.api('GET', '/api/v1/channels/minji/relationship', undefined, fan);
    assert.equal(rel.body.subscribed, true);
    assert.ok(rel.body.followedAt > 0);
    await s.api('DELETE', '/api/v1/channels/minji/follow', undefined, fan);
    assert.equal((await s.api('GET', '/api/v1/channels/minji')).body.channel.followers, 0);
  });

  test('admin token: create users, not usable as a user', async () => {
    const u = await s.api('POST', '/api/v1/users', { username: 'staff', password: 'hunter2hunter2', admin: true }, s.secrets.adminToken);
    assert.equal(u.status, 201);
    assert.equal(u.body.user.admin, true);
    assert.equal((await s.api('POST', '/api/v1/users', { username: 'staff2', password: 'hunter2hunter2' }, ownerToken)).status, 403);
    assert.equal((await s.api('POST', '/api/v1/channels/minji/follow', undefined, s.secrets.adminToken)).status, 403);
    const list = await s.api('GET', '/api/v1/users?q=staff', undefined, s.secrets.adminToken);
    assert.deepEqual(list.body.users.map((u: any) => u.username), ['staff']);
    assert.equal(list.body.total, 1);
    assert.equal(list.body.users[0].passwordHash, undefined);
    assert.ok((await s.api('GET', '/api/v1/users?limit=2', undefined, s.secrets.adminToken)).body.users.length <= 2);
    assert.equal((await s.api('GET', '/api/v1/users', undefined, ownerToken)).status, 403);
  });

  test('the owner deletes the channel', async () => {
    assert.equal((await s.api('DELETE', '/api/v1/channels/minji', undefined, ownerToken)).status, 204);
    assert.equal((await s.api('GET', '/api/v1/channels/minji')).status, 404);
  });

  test('first start made a demo channel whose key publishes', async () => {
    assert.ok(s.demoStreamKey);
    assert.equal((await s.platform.channels.resolveStreamKey(s.demoStreamKey))?.name, 'demo');
  });
});
