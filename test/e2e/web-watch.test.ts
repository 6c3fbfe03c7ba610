/**
 * The watch page plays a live stream in headless Chromium: ffmpeg publishes a test
 * pattern over RTMP with the channel's key; the page plays it over LL-HLS (hls.js,
 * lowLatencyMode) and over HTTP-FLV (mpegts.js); the home page lists it as live and the
 * studio shows its live bitrate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { Browser, BrowserContext } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, publishTestStream, registerUser, screenshots, stopProcess, videoAdvances, waitFor } from './helpers/web.js';

const CHANNEL = 'live1';
let s: TestServer;
let browser: Browser;
let base: string;
let owner: { token: string; id: string };
let ffmpeg: ChildProcess | undefined;
const contexts: BrowserContext[] = [];

before(async () => {
  // variant: the node's A/B label; the player reports QoE beacons under it (operators' kit).
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), variant: 'canary' });
  base = `http://127.0.0.1:${s.httpPort}`;
  assert.ok(s.rtmpPort, 'the media role listens for RTMP');
  owner = await registerUser(s, 'sora', 'Sora 소라');
  const c = await s.api('POST', '/api/v1/channels', { name: CHANNEL, title: '테스트 방송 Test stream' }, owner.token);
  assert.equal(c.status, 201);
  ffmpeg = publishTestStream(s.rtmpPort, c.body.streamKey, 240);
  browser = await launchBrowser();
  await waitFor('the stream to go live', async () => (await s.api('GET', `/api/v1/channels/${CHANNEL}`)).body.channel.stream.live === true, 20_000, 200);
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  stopProcess(ffmpeg);
  await s?.close();
});

for (const [protocol, label] of [['llhls', 'LL-HLS'], ['flv', 'HTTP-FLV']] as const) {
  test(`the watch page plays over ${label}`, { timeout: 60_000 }, async (t) => {
    const ctx = await newContext(browser, { lang: 'en' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    await page.goto(`${base}/watch/${CHANNEL}?protocol=${protocol}&qoeMs=1000`);
    await page.locator(`.player[data-protocol="${protocol}"]`).waitFor({ timeout: 10_000 });
    const { from, to } = await videoAdvances(page, 2, 40_000);
    assert.ok(to - from >= 2, `currentTime advanced from ${from.toFixed(2)} to ${to.toFixed(2)}`);
    const latency = await page.locator('.latency').innerText().catch(() => '');
    t.diagnostic(`${label}: currentTime ${from.toFixed(2)} → ${to.toFixed(2)} s; ${latency}`);
    // The protocol switcher offers the others this browser can play.
    const options = await page.getByLabel('Protocol').locator('option').allInnerTexts();
    assert.ok(options.includes('LL-HLS') && options.includes('HTTP-FLV'), `switcher offers ${options.join(', ')}`);
    if (protocol === 'llhls') {
      // Live captions: a cue published for the channel shows over the picture once CC is on.
      await page.getByRole('button', { name: 'Captions' }).click();
      const cue = await s.api('POST', `/api/v1/channels/${CHANNEL}/captions/cues`, { text: '안녕하세요, live captions', final: true, lang: 'ko' }, owner.token);
      assert.equal(cue.status, 202, JSON.stringify(cue.body));
      await page.locator('.player-caption', { hasText: '안녕하세요, live captions' }).waitFor({ timeout: 5_000 });
      await screenshots(page, 'watch-live');
    }
    // The player reported its startup and playback as QoE beacons, labelled with the variant.
    const sessions = new RegExp(`onair_qoe_sessions_total\\{variant="canary",protocol="${protocol}"\\} (\\d+)`);
    const played = new RegExp(`onair_qoe_played_seconds_total\\{variant="canary",protocol="${protocol}"\\} ([\\d.]+)`);
    await waitFor('QoE beacons from the watch page', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(sessions.exec(text)?.[1] ?? 0) >= 1 && Number(played.exec(text)?.[1] ?? 0) > 0;
    }, 10_000, 250);
    assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []);
  });
}

test('home lists the live channel; the studio shows live bitrate', { timeout: 60_000 }, async () => {
  const ctx = await newContext(browser, { lang: 'ko', token: owner.token });
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.goto(base + '/');
  const card = page.locator('.channel-card', { hasText: '테스트 방송 Test stream' });
  await card.waitFor({ timeout: 10_000 });
  await card.locator('.live-badge').waitFor();
  await screenshots(page, 'home-live');

  await page.goto(base + '/studio');
  const bitrate = page.locator('[data-stat="bitrate"]');
  try {
    await bitrate.waitFor({ timeout: 15_000 });
  } catch (err) {
    const live = (await s.api('GET', `/api/v1/channels/${CHANNEL}`)).body.channel.stream;
    throw new Error(`no live health in the studio (ffmpeg exit ${ffmpeg?.exitCode}, stream ${JSON.stringify(live)}): ${await page.locator('#main').innerText()}`.slice(0, 1500), { cause: err });
  }
  const kbps = await waitFor('a non-zero bitrate', async () => {
    const m = /([\d.]+)\s*(kbps|Mbps)/.exec(await bitrate.innerText());
    const v = m ? Number(m[1]) * (m[2] === 'Mbps' ? 1000 : 1) : 0;
    return v > 100 ? v : undefined;
  }, 15_000, 250);
  assert.ok(kbps > 100 && kbps < 5000, `bitrate ${kbps} kbps (ffmpeg sends ~900 kbps)`);
  await page.locator('#health dd', { hasText: /avc1|h264|H\.264/i }).first().waitFor();
  await page.locator('#preview .player[data-playing="1"]').waitFor({ timeout: 20_000 });
  await screenshots(page, 'studio-live');
});

test('after the stream ends its recording plays and seeks on the VOD page', { timeout: 60_000 }, async (t) => {
  stopProcess(ffmpeg);
  const vod = await waitFor('the recording to be ready', async () => {
    const r = await s.api('GET', `/api/v1/vods?channel=${CHANNEL}`);
    return r.status === 200 ? (r.body.vods as { id: string; durationMs: number; renditions: unknown[] }[]).find((v) => v.renditions.length > 0) : undefined;
  }, 30_000, 250);
  t.diagnostic(`vod ${vod.id}: ${vod.durationMs} ms`);
  const ctx = await newContext(browser, { lang: 'en' });
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.goto(`${base}/vod/${vod.id}`);
  const video = page.locator('video');
  await video.waitFor();
  await page.waitForFunction(() => { const v = document.querySelector('video')!; return v.readyState >= 1 && v.duration > 0; }, undefined, { timeout: 15_000 });
  const duration = await page.evaluate(() => document.querySelector('video')!.duration);
  assert.ok(Math.abs(duration * 1000 - vod.durationMs) < 3000, `media duration ${duration} s matches the recording (${vod.durationMs} ms)`);
  // Seek (range requests) to the middle and play from there.
  const target = Math.max(1, Math.floor(duration / 2));
  await page.evaluate((at) => { const v = document.querySelector('video')!; v.muted = true; v.currentTime = at; void v.play(); }, target);
  await page.waitForFunction((at) => document.querySelector('video')!.currentTime >= at + 1, target, { timeout: 15_000 });
  await screenshots(page, 'vod-playing');
});
