/**
 * Framing and Content-Security-Policy (issue 19 #3) in headless Chromium: another origin cannot
 * frame the app's pages (overlays it can), and every page under the strict CSP plays every
 * protocol (HTTP-FLV via mpegts.js, LL-HLS via hls.js, WebRTC via WHEP) and every effect with no
 * `securitypolicyviolation` event and no CSP console error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ensureWebBuilt, launchBrowser, newContext, publishTestStream, registerUser, stopProcess, videoAdvances, waitFor } from './helpers/web.js';

const CHANNEL = 'cspcheck';
const EVERY_EFFECT = { party: 3, hearts: 5, money: 2, rocket: 1, clap: 4 };
let s: TestServer;
let browser: Browser;
let base: string;
let owner: { token: string; id: string };
let ffmpeg: ChildProcess | undefined;
let other: Server | undefined;
const contexts: BrowserContext[] = [];

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt() });
  base = `http://127.0.0.1:${s.httpPort}`;
  owner = await registerUser(s, 'carol', 'Carol');
  const c = await s.api('POST', '/api/v1/channels', { name: CHANNEL, title: 'CSP check' }, owner.token);
  assert.equal(c.status, 201);
  ffmpeg = publishTestStream(s.rtmpPort!, c.body.streamKey, 240);
  browser = await launchBrowser();
  await waitFor('the stream to go live', async () => (await s.api('GET', `/api/v1/channels/${CHANNEL}`)).body.channel.stream.live === true, 30_000, 200);
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  stopProcess(ffmpeg);
  other?.close();
  await s?.close();
});

/** cspPage opens a page that records CSP violations (events and console lines) from its first script on. */
async function cspPage(opts: { token?: string } = {}): Promise<{ page: Page; violations: () => Promise<string[]> }> {
  const ctx = await newContext(browser, { lang: 'en', ...opts });
  contexts.push(ctx);
  // Init scripts run through DevTools, so the CSP under test does not apply to this listener.
  await ctx.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`), true);
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  const consoleLines: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) consoleLines.push(m.text()); });
  return { page, violations: async () => [...consoleLines, ...(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []).catch(() => []))] };
}

/** fireEveryEffect publishes one aggregated window with every effect and waits until the layer drew animations. */
async function fireEveryEffect(page: Page): Promise<void> {
  const total = Object.values(EVERY_EFFECT).reduce((a, b) => a + b, 0);
  await waitFor('every effect drawn', async () => {
    const r = await fetch(`${base}/api/publish`, {
      method: 'POST', headers: { 'x-api-key': s.secrets.chatApiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: `effects:${CHANNEL}`, data: { type: 'effects', window_ms: 150, counts: EVERY_EFFECT, total, ts: Date.now() } }),
    });
    assert.equal(r.status, 200);
    return page.evaluate((n) => Number((document.querySelector<HTMLElement>('.fx-layer'))?.dataset.fxPlayed ?? 0) >= n, total);
  }, 15_000, 500);
  // Lottie (hearts, rocket, clap) draws SVG into its box; confetti draws on the canvas.
  await page.locator('.fx-lottie svg').first().waitFor({ state: 'attached' });
  await page.waitForTimeout(1000);
}

test('pages carry the CSP and anti-framing headers; overlays stay framable', async () => {
  for (const path of ['/', `/watch/${CHANNEL}`, '/studio', '/admin', '/vod/x']) {
    const r = await fetch(base + path);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'self'/, `${path}: ${csp}`);
    for (const d of ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "worker-src 'self' blob:"]) assert.ok(csp.includes(d), `${path} has ${d}: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', path);
  }
  const o = await fetch(`${base}/overlay/${CHANNEL}?widgets=effects`);
  assert.doesNotMatch(o.headers.get('content-security-policy') ?? '', /frame-ancestors/);
  assert.ok((o.headers.get('content-security-policy') ?? '').includes("script-src 'self'"));
  assert.equal(o.headers.get('x-frame-options'), null);
});

test('another origin cannot frame the watch page; it can frame an overlay', { timeout: 60_000 }, async () => {
  other = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><iframe id="watch" src="${base}/watch/${CHANNEL}"></iframe><iframe id="overlay" src="${base}/overlay/${CHANNEL}?widgets=effects"></iframe>`);
  });
  await new Promise<void>((r) => other!.listen(0, '127.0.0.1', r));
  const ctx = await newContext(browser, { lang: 'en' });
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
  const frameOf = (re: RegExp) => page.frames().find((f) => re.test(f.url()));
  const overlay = await waitFor('the overlay frame to render', async () => {
    const f = frameOf(/\/overlay\//);
    return f && (await f.evaluate(() => document.querySelector('main.overlay') !== null).catch(() => false)) ? f : undefined;
  });
  assert.ok(overlay);
  await page.waitForTimeout(1000);
  const watch = frameOf(/\/watch\//);
  const rendered = watch ? await watch.evaluate(() => (document.querySelector('#app')?.childElementCount ?? 0) > 0).catch(() => false) : false;
  assert.equal(rendered, false, 'the watch page did not render inside another site\'s frame');
});

for (const [protocol, label] of [['flv', 'HTTP-FLV (mpegts.js)'], ['llhls', 'LL-HLS (hls.js)'], ['webrtc', 'WebRTC (WHEP)']] as const) {
  test(`watch over ${label} with every effect: no CSP violation`, { timeout: 90_000 }, async (t) => {
    const { page, violations } = await cspPage();
    await page.goto(`${base}/watch/${CHANNEL}?protocol=${protocol}`);
    await page.locator(`.player[data-protocol="${protocol}"]`).waitFor({ timeout: 20_000 });
    const { from, to } = await videoAdvances(page, 2, 45_000);
    t.diagnostic(`${label}: ${from.toFixed(2)} → ${to.toFixed(2)} s`);
    await page.locator('.conn[data-state="connected"]').waitFor();
    await fireEveryEffect(page);
    assert.deepEqual(await violations(), []);
  });
}

test('home, studio, admin and overlay (with every effect): no CSP violation', { timeout: 90_000 }, async () => {
  const home = await cspPage({ token: owner.token });
  await home.page.goto(base + '/');
  await home.page.locator('.channel-card', { hasText: 'CSP check' }).waitFor();
  await home.page.goto(base + '/studio');
  await home.page.locator('#preview .player[data-playing="1"]').waitFor({ timeout: 30_000 });
  assert.deepEqual(await home.violations(), [], 'home and studio');

  const admin = await cspPage();
  await admin.page.goto(base + '/admin');
  await admin.page.getByLabel('Admin token').fill(s.secrets.adminToken);
  await admin.page.getByRole('button', { name: 'Use token' }).click();
  await admin.page.locator('#channels').getByRole('link', { name: CHANNEL }).waitFor();
  assert.deepEqual(await admin.violations(), [], 'admin');

  const overlay = await cspPage();
  await overlay.page.goto(`${base}/overlay/${CHANNEL}?widgets=alerts,chat,effects,ticker`);
  await overlay.page.locator('main.overlay').waitFor();
  await fireEveryEffect(overlay.page);
  assert.deepEqual(await overlay.violations(), [], 'overlay');
});

test('the VOD page plays the recording with no CSP violation', { timeout: 90_000 }, async () => {
  stopProcess(ffmpeg);
  const vod = await waitFor('the recording to be ready', async () => {
    const r = await s.api('GET', `/api/v1/vods?channel=${CHANNEL}`);
    return r.status === 200 ? (r.body.vods as { id: string; renditions: unknown[] }[]).find((v) => v.renditions.length > 0) : undefined;
  }, 45_000, 250);
  const { page, violations } = await cspPage();
  await page.goto(`${base}/vod/${vod.id}`);
  await page.waitForFunction(() => { const v = document.querySelector('video'); return !!v && v.readyState >= 2; }, undefined, { timeout: 20_000 });
  await page.evaluate(() => { const v = document.querySelector('video')!; v.muted = true; void v.play(); });
  await page.waitForFunction(() => document.querySelector('video')!.currentTime >= 1, undefined, { timeout: 20_000 });
  assert.deepEqual(await violations(), []);
});
