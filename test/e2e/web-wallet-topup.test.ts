/**
 * The 충전 page and the test provider's checkout in headless Chromium (issue 24): a viewer tops
 * up ₩10,000 with the test card and the wallet page shows the balance and the credit; the
 * "fail" button leaves the balance alone. Korean strings come from web/src/i18n.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, registerUser } from './helpers/web.js';

let s: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), 'payments.provider': 'test' });
  browser = await launchBrowser();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await s?.close();
});

test('a viewer tops up ₩10,000 through the test checkout and the balance shows it', { timeout: 60_000 }, async () => {
  const me = await registerUser(s, 'jiwoo', '지우');
  const ctx = await newContext(browser, { token: me.token, lang: 'ko' });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const errors = collectErrors(page);
  await page.goto(`http://127.0.0.1:${s.httpPort}/wallet`);
  await page.getByRole('heading', { name: '충전', level: 1 }).waitFor();
  // The heading shows before the wallet answer: wait for the balance to replace its placeholder.
  await page.waitForFunction(() => document.querySelector('[data-testid="wallet-balance"]')?.textContent !== '…');
  assert.equal(await page.getByTestId('wallet-balance').textContent(), '₩0');

  // The fail button: the top-up fails and nothing is credited.
  await page.getByRole('button', { name: '₩10,000' }).click();
  await page.waitForURL(/\/pay\/test\//);
  assert.equal(await page.getByTestId('checkout-amount').textContent(), '₩10,000');
  await page.getByRole('button', { name: '실패' }).click();
  await page.getByText('결제에 실패했어요').waitFor();

  await page.goto(`http://127.0.0.1:${s.httpPort}/wallet`);
  await page.getByRole('button', { name: '₩10,000' }).click();
  await page.waitForURL(/\/pay\/test\//);
  await page.getByLabel('카드 번호').fill('1111 2222 3333 4444');
  await page.getByRole('button', { name: '결제', exact: true }).click();
  await page.getByRole('alert').waitFor();
  await page.getByLabel('카드 번호').fill('4242 4242 4242 4242');
  await page.getByRole('button', { name: '결제', exact: true }).click();
  await page.waitForURL(/\/wallet$/);
  await page.getByTestId('wallet-balance').getByText('₩10,000').waitFor();
  const history = await page.getByTestId('wallet-entries').textContent();
  assert.match(history ?? '', /충전\s*\+₩10,000/);
  assert.equal((await s.api('GET', '/api/v1/wallet', undefined, me.token)).body.balance, 10_000);
  // The wrong card's 400 is the one expected console error.
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
});
