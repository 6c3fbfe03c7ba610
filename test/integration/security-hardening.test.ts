/**
 * Issue 19 hardening in a whole server: /metrics behind metrics.token (#15), cookie CSRF and the
 * Secure cookie (#11), recording switch owner-only (#13), data dir and database modes (#14),
 * secrets shown once and no plain-text stream key (#9), VODs of a re-created channel name (#12).
 * Each test makes the request an attacker would and checks the refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server.js';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { publish, waitFor } from '../../testkit/record.js';

const PASSWORD = 'correct-horse-9';

async function register(s: TestServer, username: string): Promise<{ token: string; cookie: string }> {
  const r = await s.api('POST', '/api/v1/auth/register', { username, password: PASSWORD });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { token: r.body.token, cookie };
}

const modeOf = (p: string) => statSync(p).mode & 0o777;

test('metrics.token: /metrics needs the bearer token when set, and is open when not (#15)', async (t) => {
  const token = 'prometheus-scrape-token-1234';
  // Set through the env variable the config loader maps to metrics.token.
  const guarded = await startTestServer({}, { ONAIR_METRICS_TOKEN: token });
  t.after(() => guarded.close());
  const url = `http://127.0.0.1:${guarded.httpPort}/metrics`;
  const anon = await fetch(url);
  assert.equal(anon.status, 401);
  assert.equal((await anon.json() as { error: { code: string } }).error.code, 'unauthorized');
  assert.match(anon.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
  assert.equal((await fetch(url, { headers: { authorization: `Bearer ${guarded.secrets.adminToken}` } })).status, 401, 'the admin token is not the metrics token');
  const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /# HELP/);
  assert.equal((await fetch(`http://127.0.0.1:${guarded.httpPort}/healthz`)).status, 200, 'health stays open');

  const open = await startTestServer();
  t.after(() => open.close());
  assert.equal((await fetch(`http://127.0.0.1:${open.httpPort}/metrics`)).status, 200);
  assert.throws(() => loadConfig({ env: { ONAIR_METRICS_TOKEN: 'short' } }), /metrics\.token/);
});

test('CSRF: cookie-authenticated writes from another site are refused; same-origin and bearer work; Secure behind HTTPS (#11)', async (t) => {
  const s = await startTestServer({ 'http.trustProxy': true });
  t.after(() => s.close());
  const base = `http://127.0.0.1:${s.httpPort}`;
  const alice = await register(s, 'alice');
  assert.match(alice.cookie, /^onair_session=/);
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'alicecam' }, alice.token)).status, 201);
  const rotate = (headers: Record<string, string>) => fetch(`${base}/api/v1/channels/alicecam/stream-key/rotate`, { method: 'POST', headers });

  // The attack: a bodyless cross-site POST the browser sends with the cookie.
  for (const h of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'http://evil.example' }, { origin: 'null' }]) {
    const r = await rotate({ cookie: alice.cookie, ...h });
    assert.equal(r.status, 403, JSON.stringify(h));
    const body = await r.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'cross_site_request', JSON.stringify(h));
    assert.match(body.error.message, /Authorization: Bearer/);
  }
  // Same origin (fetch from our page, or an Origin naming this host) still works with the cookie.
  assert.equal((await rotate({ cookie: alice.cookie, 'sec-fetch-site': 'same-origin' })).status, 200);
  assert.equal((await rotate({ cookie: alice.cookie, origin: base })).status, 200);
  // Reads with the cookie are not writes; a bearer token is never a CSRF, whatever the headers say.
  assert.equal((await fetch(`${base}/api/v1/me`, { headers: { cookie: alice.cookie, 'sec-fetch-site': 'cross-site' } })).status, 200);
  assert.equal((await rotate({ authorization: `Bearer ${alice.token}`, 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' })).status, 200);

  // Secure: only when the request came over HTTPS (X-Forwarded-Proto from a trusted proxy).
  const login = (headers: Record<string, string>) => fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
  const plain = (await login({})).headers.get('set-cookie') ?? '';
  assert.doesNotMatch(plain, /Secure/);
  const https = (await login({ 'x-forwarded-proto': 'https' })).headers.get('set-cookie') ?? '';
  assert.match(https, /; Secure/);
  assert.match(https, /HttpOnly; SameSite=Lax/);
});

test('a manager may change the title but not turn off the owner\'s recording (#13)', async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const owner = await register(s, 'owner1');
  const helper = await register(s, 'helper1');
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'ownedcam' }, owner.token)).status, 201);
  assert.equal((await s.api('PUT', '/api/v1/channels/ownedcam/managers/helper1', undefined, owner.token)).status, 200);

  const off = await s.api('PATCH', '/api/v1/channels/ownedcam', { recordEnabled: false }, helper.token);
  assert.equal(off.status, 403);
  assert.equal(off.body.error.code, 'forbidden');
  assert.equal((await s.api('PATCH', '/api/v1/channels/ownedcam', { title: 'new', recordEnabled: false }, helper.token)).status, 403, 'no sneaking it in with a title');
  assert.equal((await s.api('GET', '/api/v1/channels/ownedcam')).body.channel.recordEnabled, true);
  const title = await s.api('PATCH', '/api/v1/channels/ownedcam', { title: 'Set by the manager', captionsLanguage: 'ko' }, helper.token);
  assert.equal(title.status, 200);
  assert.equal(title.body.channel.title, 'Set by the manager');
  const byOwner = await s.api('PATCH', '/api/v1/channels/ownedcam', { recordEnabled: false }, owner.token);
  assert.equal(byOwner.status, 200);
  assert.equal(byOwner.body.channel.recordEnabled, false);
  assert.equal((await s.api('PATCH', '/api/v1/channels/ownedcam', { recordEnabled: true }, s.secrets.adminToken)).status, 200, 'admins may');
});

test('data dir 0700, database and secrets 0600, looser modes tightened with a log line; secrets shown once, no stream key in plain text (#14, #9)', async (t) => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'onair-modes-')), 'data');
  t.after(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
  const config = loadConfig({ env: {}, overrides: { dataDir, host: '127.0.0.1', 'http.port': 0, 'rtmp.port': 0, 'media.srt.port': 0, 'media.rtsp.port': 0 } });
  const files = ['onair.db', 'onair.db-wal', 'onair.db-shm', 'secrets.json'].map((f) => join(dataDir, f));

  const first = await startServer(config, { logger });
  assert.equal(first.secrets.adminTokenCreated, true, 'the first start created the admin token (the banner shows it)');
  assert.ok(first.demoStreamKey && first.secrets.demoStreamKey === first.demoStreamKey, 'the demo key is known to this start');
  const demoKey = first.demoStreamKey;
  await first.stop();
  assert.equal(modeOf(dataDir), 0o700);
  for (const f of files) if (existsSync(f)) assert.equal(modeOf(f), 0o600, f);
  const stored = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  assert.equal(stored.demoStreamKey, undefined);
  assert.ok(!readFileSync(join(dataDir, 'secrets.json'), 'utf8').includes(demoKey), 'no stream key in the secrets file');

  // An older version's layout: world-readable data dir and files, the demo key in plain text.
  chmodSync(dataDir, 0o755);
  for (const f of files) if (existsSync(f)) chmodSync(f, 0o644);
  writeFileSync(join(dataDir, 'secrets.json'), JSON.stringify({ ...stored, demoStreamKey: demoKey }));
  chmodSync(join(dataDir, 'secrets.json'), 0o644);
  lines.length = 0;
  const second = await startServer(config, { logger });
  t.after(() => second.stop());
  assert.equal(second.secrets.adminTokenCreated, undefined, 'a later start does not show the admin token again');
  assert.equal(second.demoStreamKey, undefined);
  assert.equal(second.secrets.demoStreamKey, undefined);
  assert.equal(modeOf(dataDir), 0o700);
  for (const f of files) if (existsSync(f)) assert.equal(modeOf(f), 0o600, f);
  const tightened = lines.filter((l) => l.includes('tightened the permissions'));
  assert.ok(tightened.some((l) => l.includes('"from":"0755"') && l.includes(dataDir)), tightened.join(''));
  assert.ok(tightened.some((l) => l.includes('onair.db"')), tightened.join(''));
  assert.ok(tightened.some((l) => l.includes('secrets.json')), tightened.join(''));
  assert.ok(!readFileSync(join(dataDir, 'secrets.json'), 'utf8').includes(demoKey), 'the plain-text key was removed');
  assert.ok(!lines.join('').includes(demoKey), 'the key is not logged');
  assert.ok(lines.some((l) => l.includes('removed demoStreamKey')));
  // The key itself still works: only its hash was ever needed.
  assert.equal((await second.platform.channels.resolveStreamKey(demoKey))?.name, 'demo');
});

test('a channel re-created under the same name does not reach the old channel\'s VOD (#12)', { timeout: 180_000 }, async (t) => {
  const s = await startTestServer({ 'jobs.pollIntervalMs': 200 });
  t.after(() => s.close());
  const alice = await register(s, 'alice2');
  const bob = await register(s, 'bob2');
  const c = await s.api('POST', '/api/v1/channels', { name: 'samename', title: 'first' }, alice.token);
  assert.equal(c.status, 201);
  const ff = publish(s.rtmpPort!, c.body.streamKey, 4);
  t.after(() => { if (ff.exitCode === null) ff.kill('SIGKILL'); });
  const vod = await waitFor('the recording to be ready', async () => {
    const r = await s.api('GET', '/api/v1/vods?channel=samename');
    return r.body.vods?.find((v: { state: string }) => v.state === 'ready');
  }, 90_000);
  assert.equal((await s.api('DELETE', '/api/v1/channels/samename', undefined, alice.token)).status, 204);
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'samename', title: 'second' }, bob.token)).status, 201);
  const listed = await s.api('GET', '/api/v1/vods?channel=samename&state=all');
  assert.equal(listed.status, 200);
  assert.deepEqual([listed.body.vods, listed.body.total], [[], 0], 'the re-created name lists none of the old channel\'s VODs');

  const job = await s.api('POST', `/api/v1/vods/${vod.id}/jobs`, { type: 'thumbnails' }, bob.token);
  assert.equal(job.status, 403, JSON.stringify(job.body));
  const clip = await s.api('POST', `/api/v1/vods/${vod.id}/clips`, { start: 0, duration: 2 }, bob.token);
  assert.equal(clip.status, 403, JSON.stringify(clip.body));
  const del = await s.api('DELETE', `/api/v1/vods/${vod.id}`, undefined, bob.token);
  assert.equal(del.status, 403, JSON.stringify(del.body));
  const before = (await s.api('GET', `/api/v1/jobs?vod=${vod.id}`, undefined, s.secrets.adminToken)).body.jobs.length;
  // The operator still may.
  const operator = await s.api('POST', `/api/v1/vods/${vod.id}/jobs`, { type: 'thumbnails' }, s.secrets.adminToken);
  // 200: the recording rules had already queued the same job, which is de-duplicated (issue 19 #8), not queued twice.
  assert.ok(operator.status === 201 || operator.status === 200, JSON.stringify(operator.body));
  assert.equal((await s.api('GET', `/api/v1/jobs?vod=${vod.id}`, undefined, s.secrets.adminToken)).body.jobs.length, before + (operator.status === 201 ? 1 : 0), 'only the operator\'s job was queued');
  assert.equal((await s.api('GET', `/api/v1/vods/${vod.id}`)).status, 200, 'the VOD is still there');
});
