// The clip buttons in Chromium: on the watch page a viewer clips the live stream and gets the
// link when it is ready (English, and the Korean label); on the VOD page the clip is listed and
// the owner cuts another from the player's time. No page errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, publishTestStream, registerUser, screenshots, stopProcess, waitFor } from '../e2e/helpers/web.js';

let s: TestServer;
let browser: Browser;
let ff: ChildProcess | undefined;

/** Optional APIs answer 404 and probes 401; anything else is a bug. */
const realErrors = (errs: string[]) => errs.filter((e) => !/Failed to load resource: the server responded with a status of (40[14]|422)/.test(e));

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt() });
  browser = await launchBrowser();
});
after(async () => {
  stopProcess(ff);
  await browser?.close().catch(() => undefined);
  await s?.close();
});

test('watch page Clip button → link when ready; VOD page lists clips and clips from the player time', { timeout: 180_000 }, async () => {
  const owner = await registerUser(s, 'clipweb');
  const viewer = await registerUser(s, 'clipfan');
  const key = (await s.api('POST', '/api/v1/channels', { name: 'webclip' }, owner.token)).body.streamKey as string;
  ff = publishTestStream(s.rtmpPort!, key, 18);
  const rec = await waitFor('recording', async () => (await s.api('GET', '/api/v1/vods?channel=webclip&state=all')).body.vods?.[0], 20_000);

  const ko = await newContext(browser, { token: viewer.token, lang: 'ko' });
  const kpage = await ko.newPage();
  await kpage.goto(`http://127.0.0.1:${s.httpPort}/watch/webclip`);
  await kpage.getByRole('button', { name: '✂ 클립' }).waitFor({ timeout: 20_000 });
  await ko.close();
  const ctx = await newContext(browser, { token: viewer.token, lang: 'en' });
  const page = await ctx.newPage();
  const errors = collectErrors(page);
  await page.goto(`http://127.0.0.1:${s.httpPort}/watch/webclip`);
  const button = page.getByRole('button', { name: /Clip/ });
  await button.waitFor({ timeout: 20_000 });
  await button.click();
  await page.getByText('Your clip is ready.').waitFor({ timeout: 20_000 }).catch(async (err) => {
    throw new Error(`watch page: ${(err as Error).message}; status: ${await page.locator('.clip-status').textContent().catch(() => 'none')}; clips: ${JSON.stringify((await s.api('GET', '/api/v1/channels/webclip/clips?state=all')).body)}`);
  });
  const href = await page.getByRole('link', { name: 'Open the clip' }).getAttribute('href');
  assert.match(href ?? '', /^\/clip-files\/[^/]+\/[^/]+\.mp4$/);
  const mp4 = await fetch(`http://127.0.0.1:${s.httpPort}${href}`);
  assert.equal(mp4.status, 200);
  assert.equal(mp4.headers.get('content-type'), 'video/mp4');
  assert.ok((await mp4.arrayBuffer()).byteLength > 10_000);
  await screenshots(page, 'clips-watch');
  assert.deepEqual(realErrors(errors), []);
  await ctx.close();

  // After the stream: the VOD page lists the live clip; the owner clips from the player's time.
  const vod = await waitFor('ready VOD', async () => {
    const r = await s.api('GET', `/api/v1/vods/${rec.id}`);
    return r.body.vod?.state === 'ready' ? r.body.vod : undefined;
  }, 60_000, 300);
  const octx = await newContext(browser, { token: owner.token, lang: 'en' });
  const opage = await octx.newPage();
  const oerrors = collectErrors(opage);
  await opage.goto(`http://127.0.0.1:${s.httpPort}/vod/${vod.id}`);
  const list = opage.locator('ul.clip-list > li');
  await list.first().waitFor({ timeout: 15_000 });
  assert.equal(await list.count(), 1);
  await opage.evaluate(() => { const v = document.querySelector('video')!; v.currentTime = 2; });
  await opage.getByRole('button', { name: /Clip 30 s from here/ }).click();
  await opage.getByText('Your clip is ready.').waitFor({ timeout: 30_000 }).catch(async (err) => {
    throw new Error(`VOD page: ${(err as Error).message}; status: ${await opage.locator('.clip-status').textContent().catch(() => 'none')}`);
  });
  await waitFor('two clips listed', async () => (await list.count()) === 2, 10_000);
  const clips = (await s.api('GET', `/api/v1/vods/${vod.id}/clips`)).body.clips as { kind: string; startSeconds: number; createdBy: string }[];
  const mine = clips.find((c) => c.createdBy === owner.id)!;
  assert.equal(mine.kind, 'vod');
  assert.ok(mine.startSeconds <= 2 && mine.startSeconds >= 0.9, `from the player's time (2 s) back to a keyframe: ${mine.startSeconds}`);
  await screenshots(opage, 'clips-vod');
  assert.deepEqual(realErrors(oerrors), []);
  await octx.close();
});
