/**
 * Chat, moderation, super chats, effects and the OBS overlay in headless Chromium,
 * several users in separate browser contexts against one onair server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { join } from 'node:path';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, registerUser, SCREENSHOT_DIR, screenshots, waitFor } from './helpers/web.js';

const CHANNEL = 'cafe';
const XSS = 'Hi <img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> & 안녕';

let s: TestServer;
let browser: Browser;
let base: string;
let owner: { token: string; id: string };
let viewer: { token: string; id: string };
let fan: { token: string; id: string };
const contexts: BrowserContext[] = [];
const realErrors = (errs: string[]) => errs.filter((e) => !/Failed to load resource: the server responded with a status of 40[1-4]/.test(e));

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt() });
  base = `http://127.0.0.1:${s.httpPort}`;
  owner = await registerUser(s, 'olivia', 'Olivia');
  viewer = await registerUser(s, 'victor', 'Victor');
  fan = await registerUser(s, 'fiona', 'Fiona 피오나');
  const c = await s.api('POST', '/api/v1/channels', { name: CHANNEL, title: 'Coffee & code' }, owner.token);
  assert.equal(c.status, 201);
  browser = await launchBrowser();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await s?.close();
});

async function openWatch(token: string, lang: 'en' | 'ko' = 'en'): Promise<Page> {
  const ctx = await newContext(browser, { token, lang });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${base}/watch/${CHANNEL}`);
  await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 });
  return page;
}

let ownerPage: Page;
let viewerPage: Page;
let ownerErrors: string[];
/** Pages the super chat test leaves open for the reactions test. */
let shared: { fanPage: Page; overlay: Page } | undefined;

test('a chat message from a second browser context shows in the first within 1 s', { timeout: 60_000 }, async (t) => {
  ownerPage = await openWatch(owner.token);
  ownerErrors = collectErrors(ownerPage);
  viewerPage = await openWatch(viewer.token);
  const input = viewerPage.getByLabel('Send a message');
  await input.waitFor();
  // Subscriptions are live once the composer is enabled and the server knows both clients.
  await ownerPage.waitForFunction(() => !!document.querySelector('.chat-scroll'));
  // Latency is measured inside the browsers (same machine clock): from the viewer's submit
  // to the owner's page having the row in its DOM, so test-driver overhead is not counted.
  await ownerPage.evaluate(() => {
    const w = window as unknown as { __arrived: Record<string, number> };
    w.__arrived = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('.chat-row[data-kind="message"] .text')) {
        const text = el.textContent ?? '';
        if (!(text in w.__arrived)) w.__arrived[text] = Date.now();
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
  await viewerPage.evaluate(() => {
    const w = window as unknown as { __sent: number[] };
    w.__sent = [];
    document.querySelector('form.chat-form')!.addEventListener('submit', () => w.__sent.push(Date.now()), { capture: true });
  });
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const text = `hello from victor #${i} <b>not bold</b>`;
    await input.fill(text);
    await viewerPage.getByRole('button', { name: 'Send' }).click();
    await ownerPage.locator('.chat-row[data-kind="message"] .text', { hasText: text }).waitFor({ timeout: 5_000 });
    const sent = await viewerPage.evaluate((n) => (window as unknown as { __sent: number[] }).__sent[n]!, i);
    const arrived = await ownerPage.evaluate((x) => (window as unknown as { __arrived: Record<string, number> }).__arrived[x]!, text);
    times.push(arrived - sent);
  }
  t.diagnostic(`chat delivery, submit to the other page's DOM: ${times.join(', ')} ms`);
  assert.ok(Math.max(...times) < 1000, `delivered within 1 s (${times.join(', ')} ms)`);
  const row = ownerPage.locator('.chat-row[data-kind="message"]').last();
  assert.equal(await row.locator('.text b').count(), 0, 'message text is not HTML');
  assert.match(await row.locator('.name').innerText(), /Victor/);
  // The owner's own message carries the streamer badge.
  await ownerPage.getByLabel('Send a message').fill('welcome!');
  await ownerPage.getByRole('button', { name: 'Send' }).click();
  await viewerPage.locator('.chat-row', { hasText: 'welcome!' }).locator('.badge-owner').waitFor({ timeout: 5_000 });
});

test('the owner bans a user from the user card; the user\'s input is disabled with the reason', { timeout: 60_000 }, async () => {
  await ownerPage.locator('.chat-row[data-kind="message"] .name', { hasText: 'Victor' }).first().click();
  const card = ownerPage.getByRole('dialog', { name: /Victor/ });
  await card.waitFor();
  await card.getByLabel('Reason').fill('spamming links');
  await screenshots(ownerPage, 'watch-user-card');
  await card.getByRole('button', { name: 'Ban', exact: true }).click();
  await card.getByRole('status').filter({ hasText: '✓' }).waitFor({ timeout: 5_000 });
  // Everyone sees the announcement; the banned user's messages disappear from view.
  await ownerPage.locator('.chat-row.system', { hasText: /banned/ }).waitFor({ timeout: 5_000 });
  // The banned user is removed from the channel at once, then learns the reason from the server.
  await viewerPage.locator('.chat-disabled').waitFor({ timeout: 5_000 });
  const input = viewerPage.getByLabel('Send a message');
  if (await input.isEnabled()) {
    await input.fill('am I still here?');
    await viewerPage.getByRole('button', { name: 'Send' }).click();
  }
  await viewerPage.locator('.chat-disabled', { hasText: 'spamming links' }).waitFor({ timeout: 5_000 });
  assert.equal(await input.isDisabled(), true, 'input disabled');
  assert.equal(await ownerPage.locator('.chat-row .text', { hasText: 'am I still here?' }).count(), 0, 'the refused message was not published');
  await card.getByRole('button', { name: 'Close' }).click();
  await screenshots(viewerPage, 'watch-banned');
  const audit = await s.api('GET', `/api/v1/channels/${CHANNEL}/moderation/audit`, undefined, owner.token);
  assert.ok(audit.body.entries.some((e: { action: string; reason: string | null }) => e.action === 'ban' && e.reason === 'spamming links'), 'ban audited with its reason');
});

test('a super chat sent from the dialog shows in the ticker and on the overlay as text', { timeout: 60_000 }, async () => {
  const credit = await s.api('POST', '/api/v1/wallet/credits', { username: 'fiona', amount: 50_000 }, s.secrets.adminToken);
  assert.equal(credit.status, 201);
  const ov = await s.api('POST', `/api/v1/channels/${CHANNEL}/overlays`, { label: 'OBS' }, owner.token);
  assert.equal(ov.status, 201);

  // The OBS overlay, opened first (alerts are live, not replayed).
  const octx = await newContext(browser, { lang: 'ko' });
  contexts.push(octx);
  const overlay = await octx.newPage();
  overlay.setDefaultTimeout(10_000);
  const overlayErrors = collectErrors(overlay);
  await overlay.goto(`${base}${ov.body.url}&widgets=alerts,chat,effects,ticker`);
  await overlay.waitForFunction(() => document.querySelector('main.overlay') !== null);

  const fanPage = await openWatch(fan.token, 'ko');
  await fanPage.getByRole('button', { name: /후원/ }).click();
  const dialog = fanPage.locator('dialog#superchat');
  await dialog.getByTestId('balance').filter({ hasText: '₩50,000' }).waitFor({ timeout: 5_000 });
  await dialog.locator('label.amount-chip', { hasText: /^₩10,000$/ }).click();
  await dialog.getByLabel('메시지', { exact: true }).fill(XSS);
  await screenshots(fanPage, 'superchat-dialog');
  await dialog.getByRole('button', { name: /₩10,000 후원하기/ }).click();
  await dialog.getByRole('status').waitFor({ timeout: 5_000 });
  const wallet = await s.api('GET', '/api/v1/wallet', undefined, fan.token);
  assert.equal(wallet.body.balance, 40_000, 'charged once');

  // Ticker and highlighted row on the owner's watch page.
  await ownerPage.locator('.ticker .ticker-item', { hasText: 'Fiona 피오나' }).waitFor({ timeout: 5_000 });
  const superRow = ownerPage.locator('.chat-row.super').last();
  assert.equal(await superRow.locator('.text').innerText(), XSS);
  assert.match(await superRow.locator('.amount').innerText(), /₩10,000/);

  // The overlay alert renders the script-laden message as text.
  const alert = overlay.locator('.alert-card');
  await alert.waitFor({ timeout: 5_000 });
  assert.equal(await alert.locator('.alert-text').innerText(), XSS);
  assert.match(await alert.locator('.alert-amount').innerText(), /₩10,000/);
  assert.equal(await alert.locator('img, script').count(), 0, 'no elements from user text');
  await overlay.locator('.overlay-ticker .ticker-item', { hasText: 'Fiona' }).waitFor();
  assert.equal(await overlay.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no script ran');
  assert.equal(await ownerPage.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
  await overlay.setViewportSize({ width: 1280, height: 720 });
  await overlay.screenshot({ path: join(SCREENSHOT_DIR, 'overlay-alert-desktop.png'), omitBackground: true });
  await screenshots(ownerPage, 'watch-superchat');

  await dialog.getByRole('button', { name: '닫기' }).last().click();
  await dialog.waitFor({ state: 'hidden' });
  assert.deepEqual(realErrors(overlayErrors), []);
  shared = { fanPage, overlay };
});

test('reactions reach every effect layer through the aggregated effects channel', { timeout: 60_000 }, async () => {
  assert.ok(shared, 'runs after the super chat test');
  const { fanPage, overlay } = shared;
  await fanPage.getByRole('button', { name: '축하 보내기' }).click();
  await fanPage.waitForTimeout(200);
  await fanPage.getByRole('button', { name: '하트 보내기' }).click();
  await ownerPage.waitForFunction(() => Number((document.querySelector<HTMLElement>('.fx-layer'))?.dataset.fxPlayed ?? 0) >= 2, undefined, { timeout: 5_000 });
  await overlay.waitForFunction(() => Number((document.querySelector<HTMLElement>('.fx-layer'))?.dataset.fxPlayed ?? 0) >= 2, undefined, { timeout: 5_000 });
  assert.deepEqual(realErrors(ownerErrors), []);
});

test('a chat flood keeps the list capped without moving the page; reduced motion gets a quiet counter', { timeout: 60_000 }, async () => {
  const publish = (channel: string, data: unknown) => fetch(`${base}/api/publish`, {
    method: 'POST', headers: { 'x-api-key': s.secrets.chatApiKey, 'content-type': 'application/json' }, body: JSON.stringify({ channel, data }),
  });
  await ownerPage.evaluate(() => {
    const w = window as unknown as { __shift: number };
    w.__shift = 0;
    // Rows moving inside the chat scroller are the chat itself; count shifts of anything else on the page.
    type Shift = PerformanceEntry & { value: number; hadRecentInput: boolean; sources: { node?: Node }[] };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as Shift[]) {
        const outside = e.sources.some((src) => src.node && !(src.node as Element).closest?.('.chat-scroll') && !src.node.parentElement?.closest('.chat-scroll'));
        if (!e.hadRecentInput && outside) w.__shift += e.value;
      }
    })
      .observe({ type: 'layout-shift', buffered: false });
  });
  const stageBefore = await ownerPage.locator('.stage').boundingBox();
  const chatBefore = await ownerPage.locator('.chat').boundingBox();
  const N = 400;
  const sends: Promise<Response>[] = [];
  for (let i = 0; i < N; i++) sends.push(publish(`chat:${CHANNEL}`, { type: 'message', id: `flood-${i}`, text: `flood message ${i} ${'가나다 '.repeat(i % 7)}`, user: { id: `bot${i % 13}`, name: `bot${i % 13}`, badges: [] }, ts: Date.now() }));
  assert.ok((await Promise.all(sends)).every((r) => r.ok));
  // Publications race each other over HTTP, so wait for the count of flood rows rather than one text.
  await waitFor('the flood to reach the page', async () => (await ownerPage.locator('.chat-row[data-user^="bot"]').count()) >= 150, 10_000, 100);
  await ownerPage.waitForTimeout(300);
  const rows = await ownerPage.locator('.chat-row').count();
  assert.ok(rows <= 200, `the list is capped (${rows} rows in the DOM)`);
  assert.deepEqual(await ownerPage.locator('.stage').boundingBox(), stageBefore, 'the player did not move');
  assert.deepEqual(await ownerPage.locator('.chat').boundingBox(), chatBefore, 'the chat panel did not grow');
  const shift = await ownerPage.evaluate(() => (window as unknown as { __shift: number }).__shift);
  assert.ok(shift < 0.01, `cumulative layout shift outside the chat list ${shift}`);

  const ctx = await newContext(browser, { lang: 'en', reducedMotion: 'reduce' });
  contexts.push(ctx);
  const calm = await ctx.newPage();
  await calm.goto(`${base}/watch/${CHANNEL}`);
  await calm.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 });
  // Subscriptions settle just after the connection; publish until the layer has drawn one window.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !(await calm.locator('.fx-chip').count())) {
    await publish(`effects:${CHANNEL}`, { type: 'effects', window_ms: 150, counts: { hearts: 12, party: 3 }, total: 15, ts: Date.now() });
    await calm.waitForTimeout(300);
  }
  await calm.locator('.fx-chip', { hasText: '×12' }).waitFor({ timeout: 2_000 });
  assert.equal(await calm.locator('.fx-anim').count(), 0, 'no animations with reduced motion');
});
