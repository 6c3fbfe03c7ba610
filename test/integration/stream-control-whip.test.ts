// Ending a WHIP (WebRTC) publish through the API, with real headless Chromium as the publisher:
// the owner ends it with a block, the WHIP session is closed and the channel goes offline, the
// browser's next publish is refused with 403 naming the block (the same publish guard as RTMP),
// and after the block is lifted the browser publishes again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';
import { launchBrowser } from '../e2e/helpers/web.js';
import { installWebrtcPage } from '../e2e/helpers/webrtc-page.js';

/** PUBLISH runs in the page: a small moving canvas and an oscillator, offered to /whip. */
const PUBLISH = async ({ key }: { key: string }) => {
  const w = window as any;
  if (!w.source) {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 180;
    document.body.appendChild(canvas);
    const ctx = canvas.getContext('2d')!;
    let i = 0;
    setInterval(() => {
      i++;
      ctx.fillStyle = `hsl(${(i * 9) % 360}, 60%, 40%)`;
      ctx.fillRect(0, 0, 320, 180);
      ctx.fillStyle = '#fff';
      ctx.fillRect((i * 6) % 320, 60, 40, 40);
    }, 40);
    w.source = { video: canvas.captureStream(25).getVideoTracks()[0]!, audio: w.rtcTest.oscillator() };
  }
  const r = await w.rtcTest.whipPublish(w.source.video, key, { url: '/whip', audio: w.source.audio });
  if (r.status === 201) w.pcs = [...(w.pcs ?? []), r.pc];
  return { status: r.status as number, body: r.body as string, location: r.location as string | null };
};

let s: TestServer | undefined;
let browser: Browser | undefined;
after(async () => {
  await browser?.close().catch(() => undefined);
  await s?.close();
});

test('a WHIP publish is ended through the API; a republish during the block gets 403, after unblock 201', { timeout: 120_000 }, async () => {
  s = await startTestServer({ 'record.enabled': false, 'hls.enabled': false, 'media.whip.mediaTimeoutSeconds': 5 });
  const server = s;
  const owner = (await server.api('POST', '/api/v1/auth/register', { username: 'whipend', password: 'hunter2hunter2' })).body.token;
  const key = (await server.api('POST', '/api/v1/channels', { name: 'webcam' }, owner)).body.streamKey as string;
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.httpPort}/healthz`);
  await installWebrtcPage(page);

  const first = await page.evaluate(PUBLISH, { key });
  assert.equal(first.status, 201, first.body);
  await until(() => server.app.hub!.isLive('webcam'), 30_000, 'WHIP publish live');
  assert.equal(server.app.whip!.sessionCount(), 1);

  const r = await server.api('POST', '/api/v1/channels/webcam/live/end', { blockSeconds: 600, reason: 'test' }, owner);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.ended, true);
  assert.equal(r.body.stream.protocol, 'whip');
  assert.equal(server.app.hub!.isLive('webcam'), false);
  assert.equal(server.app.whip!.sessionCount(), 0, 'the WHIP session is closed');
  // The publisher's own DELETE afterwards finds its session ended: 204 once, then the resource is gone.
  assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}${first.location}`, { method: 'DELETE' })).status, 204, 'a late DELETE of the ended session');
  assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}${first.location}`, { method: 'DELETE' })).status, 404, 'its resource is gone');

  const refused = await page.evaluate(PUBLISH, { key });
  assert.equal(refused.status, 403);
  assert.match(refused.body, /blocked until .*test/);
  assert.equal(server.app.hub!.isLive('webcam'), false);

  assert.deepEqual((await server.api('DELETE', '/api/v1/channels/webcam/live/block', undefined, owner)).body, { lifted: true });
  const again = await page.evaluate(PUBLISH, { key });
  assert.equal(again.status, 201, again.body);
  await until(() => server.app.hub!.isLive('webcam'), 30_000, 'live again after unblock');
});
