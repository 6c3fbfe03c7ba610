/**
 * Issue 19 #8: recording cannot use up the disk. A channel whose recordings reached
 * record.channelQuotaBytes, or a disk below record.minFreeBytes free, gets no new recording: the
 * stream stays live, the owner sees why in GET /api/v1/channels/{name}/live, and nothing is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { publish, waitFor } from '../../testkit/record.js';

async function ownerWithChannel(s: TestServer, name: string): Promise<{ token: string; key: string }> {
  const u = await s.api('POST', '/api/v1/auth/register', { username: `${name}_owner`, password: 'correct-horse-9' });
  const c = await s.api('POST', '/api/v1/channels', { name }, u.body.token);
  assert.equal(c.status, 201, JSON.stringify(c.body));
  return { token: u.body.token, key: c.body.streamKey };
}

const vodsOf = async (s: TestServer, channel: string) => (await s.api('GET', `/api/v1/vods?channel=${channel}&state=all`)).body.vods as { state: string }[];

test('below record.minFreeBytes free, a live stream is not recorded and its owner sees disk_floor', { timeout: 60_000 }, async (t) => {
  const s = await startTestServer({ 'record.minFreeBytes': Number.MAX_SAFE_INTEGER });
  t.after(() => s.close());
  const { token, key } = await ownerWithChannel(s, 'floorcam');
  const ff = publish(s.rtmpPort!, key, 30);
  t.after(() => ff.kill('SIGKILL'));
  const live = await waitFor('live, refused', async () => {
    const r = await s.api('GET', '/api/v1/channels/floorcam/live', undefined, token);
    return r.body.live && r.body.recordingRefused ? r.body : undefined;
  });
  assert.equal(live.recordingRefused.code, 'disk_floor');
  assert.equal(live.recordingRefused.limit, Number.MAX_SAFE_INTEGER);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await vodsOf(s, 'floorcam'), [], 'no recording was started');
  // The public view says nothing about it.
  assert.equal(JSON.stringify((await s.api('GET', '/api/v1/channels/floorcam')).body).includes('recordingRefused'), false);
});

test('a channel at record.channelQuotaBytes records no more while the stream stays live; the owner deletes VODs to make room', { timeout: 120_000 }, async (t) => {
  const s = await startTestServer({ 'record.channelQuotaBytes': 1 });
  t.after(() => s.close());
  const { token, key } = await ownerWithChannel(s, 'quotacam');
  // The first stream records (nothing used yet) and leaves more than the 1-byte quota.
  const first = publish(s.rtmpPort!, key, 3);
  await new Promise<void>((resolve) => first.on('exit', () => resolve()));
  const done = await waitFor('first VOD ready', async () => (await vodsOf(s, 'quotacam')).find((v) => v.state === 'ready'), 60_000) as { id: string };
  const second = publish(s.rtmpPort!, key, 30);
  t.after(() => second.kill('SIGKILL'));
  const live = await waitFor('live, refused', async () => {
    const r = await s.api('GET', '/api/v1/channels/quotacam/live', undefined, token);
    return r.body.live && r.body.recordingRefused ? r.body : undefined;
  });
  assert.equal(live.recordingRefused.code, 'channel_quota');
  assert.ok(live.recordingRefused.bytes > 1);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await vodsOf(s, 'quotacam')).length, 1, 'no second recording');
  assert.equal((await s.api('DELETE', `/api/v1/vods/${done.id}`, undefined, token)).status, 204);
});
