// Super chat alerts in OBS's browser source: the overlay's alert for a spoken super chat plays an
// audio file the server made (Chromium records the media request and its WAV answer), and the
// speech leaves out the word the channel's filter masks; the channel's alert sound (bundled by
// default, then the owner's upload) plays first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { EspeakEngine } from '../../src/community/alerts/tts.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, registerUser } from './helpers/web.js';

let s: TestServer;
let browser: Browser;

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), 'hls.enabled': false });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close().catch(() => undefined);
  await s?.close();
});

test("the overlay's alert for a spoken super chat plays the server's speech", { timeout: 90_000 }, async () => {
  const owner = await registerUser(s, 'ttshost');
  const fan = await registerUser(s, 'ttsfan', '후원자');
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'ttsch' }, owner.token)).status, 201);
  assert.equal((await s.api('POST', '/api/v1/wallet/credits', { username: 'ttsfan', amount: 10_000 }, s.secrets.adminToken)).status, 201);
  const filter = await s.api('POST', '/api/v1/channels/ttsch/moderation/filters', { word: '바보', action: 'mask' }, owner.token);
  assert.ok(filter.status < 300, JSON.stringify(filter.body));
  const ov = await s.api('POST', '/api/v1/channels/ttsch/overlays', { label: 'OBS' }, owner.token);
  assert.equal(ov.status, 201);

  const ctx = await newContext(browser, { lang: 'ko' });
  const page = await ctx.newPage();
  const errors = collectErrors(page);
  const audio: { url: string; status: number; type: string | null; body: Buffer }[] = [];
  const sounds: string[] = [];
  page.on('request', (r) => { if (/\/alert-sound/.test(r.url())) sounds.push(new URL(r.url()).pathname); });
  page.on('response', (r) => {
    if (!/\/api\/v1\/superchats\/[^/]+\/tts$/.test(new URL(r.url()).pathname)) return;
    void r.body().then((body) => audio.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] ?? null, body })).catch(() => undefined);
  });
  await page.goto(`http://127.0.0.1:${s.httpPort}${ov.body.url}&widgets=alerts`);
  await page.waitForFunction(() => document.querySelector('main.overlay') !== null);
  await new Promise((r) => setTimeout(r, 1000));

  const sent = await s.api('POST', '/api/v1/channels/ttsch/superchats', { amount: 2_000, message: '바보 아니고 화이팅', tts: true }, fan.token, { 'idempotency-key': 'tts-1' });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  const id = sent.body.superchat.id as string;
  await page.locator(`.alert-card[data-alert-id="${id}"] audio.alert-audio`).waitFor({ state: 'attached', timeout: 10_000 });
  const start = Date.now();
  while (audio.length === 0 && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 100));
  const got = audio[0];
  assert.ok(got, 'the overlay requested the speech');
  assert.equal(new URL(got.url).pathname, `/api/v1/superchats/${id}/tts`);
  assert.equal(got.status, 200);
  assert.equal(got.type, 'audio/wav');
  // What the server read: the masked word left out (espeak-ng is deterministic for one text).
  const expected = await new EspeakEngine('ko').synthesize('후원자님, 2,000원. 아니고 화이팅', 10_000);
  assert.ok(got.body.equals(expected), 'the speech is of the masked text without the mask');
  const played = await page.evaluate(() => {
    const a = document.querySelector<HTMLAudioElement>('audio.alert-audio');
    return a ? { error: a.error?.code ?? null, duration: a.duration } : null;
  });
  assert.equal(played?.error, null, 'Chromium decoded the WAV');
  assert.ok(sounds.includes('/alert-sounds/chime.wav'), `the default alert sound first: ${JSON.stringify(sounds)}`);

  // The owner uploads a sound (checked by its bytes): the overlay plays it from the API.
  const notAudio = await s.api('POST', '/api/v1/channels/ttsch/alert-sound/file', { data: Buffer.from('<svg onload=alert(1)>').toString('base64') }, owner.token);
  assert.equal(notAudio.status, 400, JSON.stringify(notAudio.body));
  assert.equal((await s.api('POST', '/api/v1/channels/ttsch/alert-sound/file', { data: Buffer.alloc(600 * 1024, 1).toString('base64') }, owner.token)).status, 413);
  assert.equal((await s.api('PUT', '/api/v1/channels/ttsch/alert-sound', { sound: 'coin' }, fan.token)).status, 403, 'a viewer may not choose');
  const wav = await new EspeakEngine('en').synthesize('ding', 10_000);
  const up = await s.api('POST', '/api/v1/channels/ttsch/alert-sound/file', { data: wav.toString('base64') }, owner.token);
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal(up.body.sound, 'custom');
  await page.reload();
  await page.waitForFunction(() => document.querySelector('main.overlay') !== null);
  await new Promise((r) => setTimeout(r, 1000));
  await s.api('POST', '/api/v1/channels/ttsch/superchats', { amount: 1_000, message: '두 번째', tts: true }, fan.token, { 'idempotency-key': 'tts-3' });
  const deadline = Date.now() + 10_000;
  while (!sounds.includes('/api/v1/channels/ttsch/alert-sound/file') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(sounds.includes('/api/v1/channels/ttsch/alert-sound/file'), `the uploaded sound: ${JSON.stringify(sounds)}`);
  const file = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1/channels/ttsch/alert-sound/file`);
  assert.equal(file.headers.get('content-type'), 'audio/wav');
  assert.ok(Buffer.from(await file.arrayBuffer()).equals(wav));

  // Without speech asked, no audio; an unknown id is 404.
  const quiet = await s.api('POST', '/api/v1/channels/ttsch/superchats', { amount: 1_000, message: '조용히' }, fan.token, { 'idempotency-key': 'tts-2' });
  assert.equal((await s.api('GET', `/api/v1/superchats/${quiet.body.superchat.id}/tts`)).status, 404);
  assert.equal((await s.api('GET', '/api/v1/superchats/nope/tts')).status, 404);
  assert.deepEqual(errors.filter((e) => !/status of 40[14]/.test(e)), []);
  await ctx.close();
});
