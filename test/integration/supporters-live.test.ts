// Stream sessions: a super chat sent while ffmpeg publishes belongs to that stream's session,
// which drives period=stream leaderboards and per-session earnings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestServer } from '../../testkit/server.js';

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('super chats during a live stream are grouped by stream session', async (t) => {
  const s = await startTestServer({ 'hls.enabled': false });
  let ffmpeg: ChildProcess | undefined;
  t.after(async () => {
    if (ffmpeg && ffmpeg.exitCode === null) {
      const gone = new Promise((r) => ffmpeg!.once('exit', r));
      ffmpeg.kill('SIGKILL');
      await gone;
    }
    await s.close();
  });
  const admin = s.secrets.adminToken;
  for (const u of ['host', 'fan']) assert.equal((await s.api('POST', '/api/v1/users', { username: u, password: 'password123' }, admin)).status, 201);
  const host = (await s.api('POST', '/api/v1/auth/login', { username: 'host', password: 'password123' })).body.token;
  const fan = (await s.api('POST', '/api/v1/auth/login', { username: 'fan', password: 'password123' })).body.token;
  const c = await s.api('POST', '/api/v1/channels', { name: 'live1' }, host);
  await s.api('POST', '/api/v1/wallet/credits', { username: 'fan', amount: 50_000 }, admin);

  // Offline: no session.
  const off = await s.api('POST', '/api/v1/channels/live1/superchats', { amount: 1_000, message: 'before' }, fan, { 'idempotency-key': 'off' });
  assert.equal(off.body.superchat.session, null);

  ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-t', '60', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${c.body.streamKey}`], { stdio: ['ignore', 'ignore', 'ignore'] });
  const stream = await until(async () => {
    const ch = (await s.api('GET', '/api/v1/channels/live1')).body.channel;
    return ch.stream.live ? ch.stream : undefined;
  }, 20_000, 'channel live');
  const on = await s.api('POST', '/api/v1/channels/live1/superchats', { amount: 5_000, message: 'live!' }, fan, { 'idempotency-key': 'on' });
  assert.equal(on.status, 201, JSON.stringify(on.body));
  assert.equal(on.body.superchat.session, String(Date.parse(stream.since)));

  const lb = await s.api('GET', '/api/v1/channels/live1/supporters?period=stream');
  assert.equal(lb.body.session, on.body.superchat.session);
  assert.deepEqual(lb.body.supporters.map((r: any) => [r.username, r.amount]), [['fan', 5_000]], 'only this stream counts');
  const all = await s.api('GET', '/api/v1/channels/live1/supporters?period=all');
  assert.deepEqual(all.body.supporters.map((r: any) => [r.username, r.amount]), [['fan', 6_000]]);
  const e = await s.api('GET', '/api/v1/channels/live1/earnings', undefined, host);
  assert.deepEqual(e.body.sessions.map((x: any) => [x.session, x.startedAt, x.amount]), [[on.body.superchat.session, Date.parse(stream.since), 5_000], [null, null, 1_000]]);
});
