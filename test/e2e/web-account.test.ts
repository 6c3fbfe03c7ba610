/**
 * The account dialog (issue 19 #17) in headless Chromium: a password change logs other devices
 * out while this page stays in and its chat reconnects with a new token; "log out everywhere"
 * ends this session too. Korean and English strings come from web/src/i18n.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ensureWebBuilt, launchBrowser, newContext, registerUser } from './helpers/web.js';

let s: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt() });
  browser = await launchBrowser();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await s?.close();
});

test('password change keeps this page in and its chat connected; log out everywhere ends it', { timeout: 60_000 }, async () => {
  const me = await registerUser(s, 'petra', 'Petra');
  const otherDevice = (await s.api('POST', '/api/v1/auth/login', { username: 'petra', password: 'correct-horse-9' })).body.token as string;
  const ctx = await newContext(browser, { token: me.token, lang: 'en' });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`http://127.0.0.1:${s.httpPort}/watch/demo`);
  await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 });

  await page.getByTestId('account').click();
  const dialog = page.locator('dialog#account');
  await dialog.getByLabel('Current password').fill('wrong-password');
  await dialog.getByLabel('New password (at least 8 characters)').fill('brand-new-pass-2');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await dialog.getByText('The current password is wrong.').waitFor();

  await dialog.getByLabel('Current password').fill('correct-horse-9');
  await dialog.getByLabel('New password (at least 8 characters)').fill('brand-new-pass-2');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await dialog.getByText('Password changed. Sessions logged out on other devices: 1.').waitFor();
  assert.equal((await s.api('GET', '/api/v1/me', undefined, otherDevice)).status, 401, 'the other device is logged out');
  assert.equal((await s.api('GET', '/api/v1/me', undefined, me.token)).status, 200, 'this page stays in');
  // The user's chat tokens were revoked with the other sessions: this page reconnects with a new one.
  await page.locator('.conn[data-state="disconnected"]').waitFor({ timeout: 5_000 });
  await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 10_000 });

  page.once('dialog', (d) => void d.accept());
  await dialog.getByTestId('logout-all').click();
  await page.locator('header').getByRole('button', { name: 'Log in' }).waitFor();
  assert.equal((await s.api('GET', '/api/v1/me', undefined, me.token)).status, 401, 'this session ended too');
});

test('the account dialog in Korean', { timeout: 30_000 }, async () => {
  const me = await registerUser(s, 'minji', 'Minji');
  const ctx = await newContext(browser, { token: me.token, lang: 'ko' });
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.goto(`http://127.0.0.1:${s.httpPort}/`);
  await page.getByTestId('account').click();
  const dialog = page.locator('dialog#account');
  await dialog.getByRole('button', { name: '비밀번호 바꾸기' }).waitFor();
  await dialog.getByRole('button', { name: '모든 기기에서 로그아웃' }).waitFor();
});
