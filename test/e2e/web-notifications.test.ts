// The notification bell in Chromium (ko-KR): a follower on the home page sees the unread count
// and "X 방송 시작" within 5 s of X going live (ffmpeg publish), pushed over the chat connection;
// "모두 읽음" clears the count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, publishTestStream, registerUser, stopProcess, waitFor } from './helpers/web.js';

let s: TestServer;
let browser: Browser;
let ff: ChildProcess | undefined;

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), 'hls.enabled': false, 'record.enabled': false });
  browser = await launchBrowser();
});
after(async () => {
  stopProcess(ff);
  await browser?.close().catch(() => undefined);
  await s?.close();
});

test('the bell shows "X 방송 시작" within 5 s of a followed channel going live', { timeout: 90_000 }, async () => {
  const star = await registerUser(s, 'bellstar');
  const fan = await registerUser(s, 'bellfan');
  const key = (await s.api('POST', '/api/v1/channels', { name: 'bellch', title: '오늘의 방송' }, star.token)).body.streamKey as string;
  assert.equal((await s.api('POST', '/api/v1/channels/bellch/follow', undefined, fan.token)).status, 200);

  const ctx = await newContext(browser, { token: fan.token, lang: 'ko' });
  const page = await ctx.newPage();
  const errors = collectErrors(page);
  await page.goto(`http://127.0.0.1:${s.httpPort}/`);
  await page.getByTestId('bell').waitFor();
  assert.equal(await page.getByTestId('bell-count').count(), 0, 'nothing unread yet');
  // Let the page's chat connection subscribe to the personal channel (the list itself is re-read only every minute).
  await new Promise((r) => setTimeout(r, 1500));

  ff = publishTestStream(s.rtmpPort!, key, 30);
  await waitFor('bellch live', async () => s.app.hub?.isLive('bellch'), 20_000, 20);
  const liveAt = Date.now();
  await page.getByTestId('bell-count').filter({ hasText: '1' }).waitFor({ timeout: 5_000 });
  assert.ok(Date.now() - liveAt < 5_000);
  await page.getByTestId('bell').click();
  const item = page.getByTestId('notification').first();
  await item.getByText('bellch 방송 시작').waitFor({ timeout: 2_000 });
  assert.match(await item.textContent() ?? '', /오늘의 방송/);
  await page.getByRole('button', { name: '모두 읽음' }).click();
  await waitFor('the count cleared', async () => (await page.getByTestId('bell-count').count()) === 0, 5_000);
  assert.equal((await s.api('GET', '/api/v1/me/notifications', undefined, fan.token)).body.unread, 0);
  assert.deepEqual(errors.filter((e) => !/status of 40[14]/.test(e)), []);
  await ctx.close();
});
