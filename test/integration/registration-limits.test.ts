/**
 * Issue 19 #8 in a whole server: the attacks of the audit (mint accounts from one address, make
 * 60 channels as one user, sign up on a server that means to be closed) now meet their refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { runOnair } from '../../testkit/cli.js';

const PASSWORD = 'correct-horse-9';
const signUp = (s: TestServer, username: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  s.api('POST', '/api/v1/auth/register', { username, password: PASSWORD, ...extra }, undefined, headers);

test('registration per client address: the fourth account from one address is refused with Retry-After; another address still signs up', async (t) => {
  const s = await startTestServer({ 'auth.registration.perAddress': 3, 'http.trustProxy': true });
  t.after(() => s.close());
  for (let i = 0; i < 3; i++) assert.equal((await signUp(s, `mint${i}`)).status, 201);
  const r = await signUp(s, 'mint3');
  assert.equal(r.status, 429);
  assert.equal(r.body.error.code, 'registration_throttled');
  assert.ok(Number(r.headers.get('retry-after')) > 3500, `Retry-After ${r.headers.get('retry-after')}`);
  // The limit follows request.clientIp: a different client behind the trusted proxy is not held back.
  assert.equal((await signUp(s, 'neighbour', {}, { 'x-forwarded-for': '198.51.100.23' })).status, 201);
  assert.equal((await s.api('GET', '/api/v1/auth/registration')).body.mode, 'open');
});

test('auth.registration.mode closed refuses every sign-up; invite mode takes a single-use code an admin made', async (t) => {
  const closed = await startTestServer({ 'auth.registration.mode': 'closed' });
  t.after(() => closed.close());
  const c = await signUp(closed, 'walkin');
  assert.equal(c.status, 403);
  assert.equal(c.body.error.code, 'registration_closed');
  assert.equal((await closed.api('GET', '/api/v1/auth/registration')).body.mode, 'closed');

  const s = await startTestServer({ 'auth.registration.mode': 'invite' });
  t.after(() => s.close());
  const admin = s.secrets.adminToken;
  assert.equal((await signUp(s, 'nocode')).body.error.code, 'invite_required');
  assert.equal((await signUp(s, 'badcode', { invite: 'guessed-code-guessed' })).body.error.code, 'invite_required');
  const user = await signUp(s, 'plainuser');
  assert.equal(user.status, 403);

  // Only admins make codes.
  const plain = await s.api('POST', '/api/v1/invites', {}, 'not-a-token');
  assert.equal(plain.status, 401);
  const made = await s.api('POST', '/api/v1/invites', { note: 'for dana', ttlHours: 2 }, admin);
  assert.equal(made.status, 201);
  const code = made.body.code as string;
  assert.ok(made.body.invite.expiresAt - Date.now() > 7_000_000);

  const taken = await signUp(s, 'dana', { invite: code });
  assert.equal(taken.status, 201, JSON.stringify(taken.body));
  const again = await signUp(s, 'eve', { invite: code });
  assert.equal(again.status, 403, 'single use');
  assert.equal(again.body.error.code, 'invite_required');
  // A signed-in non-admin cannot make or list codes.
  assert.equal((await s.api('POST', '/api/v1/invites', {}, taken.body.token)).status, 403);
  assert.equal((await s.api('GET', '/api/v1/invites', undefined, taken.body.token)).status, 403);

  const list = await s.api('GET', '/api/v1/invites', undefined, admin);
  assert.equal(list.body.invites.length, 1);
  assert.equal(list.body.invites[0].usedBy, taken.body.user.id);
  assert.equal(JSON.stringify(list.body).includes(code), false, 'codes are not listed');
  // A code deleted before use no longer works.
  const spare = await s.api('POST', '/api/v1/invites', {}, admin);
  assert.equal((await s.api('DELETE', `/api/v1/invites/${spare.body.invite.id}`, undefined, admin)).status, 204);
  assert.equal((await signUp(s, 'frank', { invite: spare.body.code })).status, 403);
});

test('channels.maxPerUser: a user owns at most that many channels; admins are exempt', async (t) => {
  const s = await startTestServer({ 'channels.maxPerUser': 2 });
  t.after(() => s.close());
  const { token } = (await signUp(s, 'hoarder')).body;
  const results = [];
  for (let i = 0; i < 5; i++) results.push((await s.api('POST', '/api/v1/channels', { name: `hoard${i}` }, token)).status);
  assert.deepEqual(results, [201, 201, 403, 403, 403]);
  const r = await s.api('POST', '/api/v1/channels', { name: 'hoard9' }, token);
  assert.equal(r.body.error.code, 'too_many_channels');
  // Deleting one frees a place.
  assert.equal((await s.api('DELETE', '/api/v1/channels/hoard0', undefined, token)).status, 204);
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'hoard5' }, token)).status, 201);
  for (let i = 0; i < 3; i++) assert.equal((await s.api('POST', '/api/v1/channels', { name: `official${i}` }, s.secrets.adminToken)).status, 201);
});

test('onair invite create, run beside the live server on its database, makes a code the server accepts once', { timeout: 120_000 }, async (t) => {
  const s = await startTestServer({ 'auth.registration.mode': 'invite' });
  t.after(() => s.close());
  const made = await runOnair(['invite', 'create', '--hours', '1', '--note', 'cli'], { ONAIR_DATA_DIR: s.dataDir, ONAIR_LOG_LEVEL: 'silent' });
  assert.equal(made.code, 0, made.stderr);
  const { code, expiresAt } = JSON.parse(made.stdout) as { code: string; expiresAt: string };
  assert.ok(Date.parse(expiresAt) - Date.now() > 3_000_000);
  assert.equal((await signUp(s, 'clivisitor', { invite: code })).status, 201);
  assert.equal((await signUp(s, 'clivisitor2', { invite: code })).status, 403);
  const bad = await runOnair(['invite', 'create', '--hours', 'soon'], { ONAIR_DATA_DIR: s.dataDir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--hours/);
});
