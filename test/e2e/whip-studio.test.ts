// test-runs-alone: Chromium publishes its fake camera in real time
/**
 * The studio's "Go live from this browser": Chromium's fake camera and microphone are published
 * over WHIP with a pasted stream key; the channel goes live (H.264 + AAC in the hub), the studio
 * says so, and Stop takes it offline. A wrong key shows the server's refusal.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { chromium, type Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { CHROMIUM_ARGS, collectErrors, ensureWebBuilt, newContext, registerUser, screenshots, waitFor } from './helpers/web.js';

let s: TestServer | undefined;
let browser: Browser | undefined;
after(async () => {
  await browser?.close().catch(() => undefined);
  await s?.close();
});

test('studio: go live from this browser (fake camera + mic over WHIP), then stop', { timeout: 180_000 }, async () => {
  // With camera permission Chromium's host candidates are the machine's real addresses (no mDNS),
  // and their checks to a server that only offers 127.0.0.1 are never answered: offer the LAN address.
  const lan = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), 'record.enabled': false, ...(lan ? { 'media.webrtc.candidateAddresses': [lan] } : {}) });
  const base = `http://127.0.0.1:${s.httpPort}`;
  const owner = await registerUser(s, 'camgirl');
  const created = await s.api('POST', '/api/v1/channels', { name: 'cam-live', title: 'from the browser' }, owner.token);
  assert.equal(created.status, 201);
  const key = created.body.streamKey as string;

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, timeout: 30_000,
    args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  const ctx = await newContext(browser, { token: owner.token, lang: 'en' });
  const page = await ctx.newPage();
  const errors = collectErrors(page);
  // The studio's preview player plays the channel back (WHEP when offered); note what it asks.
  const whep: { created: number; deleted: number[] } = { created: 0, deleted: [] };
  page.on('response', (r) => {
    if (!/\/live\/cam-live\/whep/.test(r.url())) return;
    if (r.request().method() === 'POST' && r.status() === 201) whep.created++;
    if (r.request().method() === 'DELETE') whep.deleted.push(r.status());
  });
  await page.goto(`${base}/studio`);
  const card = page.locator('#golive');
  await card.getByRole('heading', { name: 'Go live from this browser' }).waitFor();

  // A wrong key: the server's 401 is shown, nothing goes live.
  await card.locator('input[name="golive-key"]').fill('live_wrong-key');
  await card.getByRole('button', { name: 'Go live' }).click();
  await card.getByRole('alert').filter({ hasText: 'The stream key is wrong or was rotated.' }).waitFor({ timeout: 20_000 });
  assert.equal(s.app.hub!.isLive('cam-live'), false);

  await card.locator('input[name="golive-key"]').fill(key);
  await card.getByRole('button', { name: 'Go live' }).click();
  await waitFor('cam-live live', async () => s!.app.hub!.isLive('cam-live'), 30_000, 100);
  await page.locator('#golive[data-golive="live"]').waitFor({ timeout: 20_000 });
  await card.getByRole('status').filter({ hasText: 'Live from this browser' }).waitFor();
  const stats = await waitFor('audio in the hub', async () => {
    const st = s!.app.media!.stats().find((c) => c.channel === 'cam-live');
    return st?.audio ? st : undefined;
  }, 20_000, 200);
  assert.equal(stats.publisher.protocol, 'whip');
  assert.equal(stats.video?.codec, 'avc');
  assert.equal(stats.audio?.codec, 'aac');
  assert.ok((stats.video?.width ?? 0) > 0);
  // The studio's health card picks the stream up from the API like any other.
  await page.locator('[data-live="1"]').waitFor({ timeout: 10_000 });
  await card.scrollIntoViewIfNeeded();
  await screenshots(page, 'studio-golive');

  await card.getByRole('button', { name: 'Stop' }).click();
  await waitFor('offline after Stop', async () => !s!.app.hub!.isLive('cam-live'), 10_000, 50);
  await page.locator('#golive[data-golive="idle"]').waitFor();
  // The health card sees the channel offline and the preview player leaves. Its WHEP session ended
  // with the stream already, so its DELETE finds nothing to end: 204, and no failed request logged.
  await page.locator('[data-live="0"]').waitFor({ timeout: 15_000 });
  if (whep.created > 0) await waitFor('the preview player\'s WHEP DELETE', async () => whep.deleted.length >= whep.created || undefined, 10_000, 50);
  console.log(`studio preview: ${whep.created} WHEP session(s), DELETE statuses [${whep.deleted}]`);
  assert.ok(whep.deleted.every((st) => st === 204), `WHEP DELETE statuses ${whep.deleted}`);
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
});
