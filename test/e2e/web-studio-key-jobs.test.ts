/**
 * Issue 23 in the browser: the studio's owner reveals the stream key (and is told in words when an
 * old key cannot be shown); the admin page filters jobs by state, cancels and retries them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { JobQueue } from '../../src/platform/jobs/queue.js';
import { ensureWebBuilt, launchBrowser, newContext, registerUser, waitFor } from './helpers/web.js';

let s: TestServer;
let browser: Browser;
let base = '';

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), 'record.enabled': false });
  base = `http://127.0.0.1:${s.httpPort}`;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await s?.close();
});

test('the owner reveals the stream key in the studio; an old key is explained in Korean', { timeout: 60_000 }, async () => {
  const owner = await registerUser(s, 'sora', 'Sora');
  const c = await s.api('POST', '/api/v1/channels', { name: 'sorakey' }, owner.token);
  assert.equal(c.status, 201);
  const ctx = await newContext(browser, { lang: 'ko', token: owner.token });
  try {
    const page = await ctx.newPage();
    await page.goto(`${base}/studio`);
    // A fresh page load has no key in memory: the owner asks for it.
    await page.locator('[data-name="reveal-key"]').click();
    const field = page.locator('input[data-name="stream-key"]');
    await field.waitFor();
    assert.notEqual(await field.inputValue(), c.body.streamKey, 'masked until shown');
    await page.locator('#key').getByRole('button', { name: '보기' }).click();
    assert.equal(await field.inputValue(), c.body.streamKey);

    // As a channel made before keys were sealed: the reveal answers 409, worded for the owner.
    await s.platform.db.kysely.updateTable('channels').set({ stream_key_sealed: null }).where('name', '=', 'sorakey').execute();
    await page.reload();
    await page.locator('[data-name="reveal-key"]').click();
    await page.locator('[data-name="stream-key-error"]', { hasText: '재발급하면 보고 복사할 수 있는 키가 생겨요' }).waitFor();
  } finally {
    await ctx.close();
  }
});

test('the admin page filters jobs by state, cancels a queued job and retries it', { timeout: 60_000 }, async () => {
  // A type no worker handles stays queued, so the page is what moves it.
  const queue = new JobQueue(s.platform.db, { maxAttempts: 1, backoff: { baseMs: 1000, maxMs: 1000 }, leaseMs: 10_000 });
  const job = await queue.enqueue({ type: 'e2e-untouched' });
  const ctx = await newContext(browser, { lang: 'en' });
  try {
    const page = await ctx.newPage();
    await page.goto(`${base}/admin`);
    await page.getByLabel('Admin token').fill(s.secrets.adminToken);
    await page.getByRole('button', { name: 'Use token' }).click();
    const row = page.locator(`#jobs [data-job="${job.id}"]`);
    await row.locator('[data-action="cancel"]').click();
    await waitFor('cancelled', async () => (await queue.get(job.id))?.state === 'cancelled', 10_000);
    await page.locator('select[name="job-state"]').selectOption('cancelled');
    await page.locator(`#jobs [data-job="${job.id}"][data-state="cancelled"]`).waitFor();
    await page.locator(`#jobs [data-job="${job.id}"] [data-action="retry"]`).click();
    await waitFor('queued again', async () => (await queue.get(job.id))?.state === 'queued', 10_000);
    // The cancelled filter no longer lists it; an empty state says so in words.
    await page.locator('#jobs [data-name="jobs-empty"]', { hasText: 'No jobs in this state.' }).waitFor();
    await page.locator('select[name="job-state"]').selectOption('queued');
    await page.locator(`#jobs [data-job="${job.id}"][data-state="queued"]`).waitFor();
  } finally {
    await ctx.close();
  }
});
