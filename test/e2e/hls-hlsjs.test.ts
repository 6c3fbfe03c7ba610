/**
 * hls.js (lowLatencyMode) in headless Chromium plays our LL-HLS output. The live source is
 * ffmpeg encoding in real time to FLV, parsed into the hub contract (see live-source.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { chromium } from 'playwright-core';
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createHlsService } from '../../src/media/hls/service.js';
import { FakeHub } from '../unit/hls/fakes.js';
import { startLiveSource } from '../unit/hls/live-source.js';

const HLS_JS = readFileSync(new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url));
const PLAYBACK_SECONDS = Number(process.env.HLS_E2E_SECONDS ?? 14);

export const PAGE = `<!doctype html><html><body>
<video id="v" muted autoplay playsinline width="640" height="360"></video>
<script src="/hls.min.js"></script>
<script>
  const v = document.getElementById('v');
  const stats = { errors: [], samples: [], supported: Hls.isSupported() };
  window.__stats = stats;
  const hls = new Hls({ lowLatencyMode: true, backBufferLength: 10, maxLiveSyncPlaybackRate: 1.5 });
  hls.on(Hls.Events.ERROR, (_e, d) => stats.errors.push({ type: d.type, details: d.details, fatal: d.fatal }));
  hls.loadSource(new URLSearchParams(location.search).get('src'));
  hls.attachMedia(v);
  v.play().catch((e) => stats.errors.push({ type: 'play', details: String(e), fatal: false }));
  setInterval(() => stats.samples.push({
    t: Date.now(), currentTime: v.currentTime, latency: hls.latency, targetLatency: hls.targetLatency,
    playingDate: hls.playingDate ? hls.playingDate.getTime() : null, paused: v.paused, readyState: v.readyState,
  }), 250);
</script></body></html>`;

interface Sample { t: number; currentTime: number; latency: number; targetLatency: number; playingDate: number | null; paused: boolean; readyState: number }

test('hls.js in headless Chromium plays the LL-HLS stream with low latency', { timeout: 120_000 }, async (t) => {
  const config = configSchema.parse({});
  const hub = new FakeHub();
  const hls = createHlsService({ config, logger: silentLogger(), hub });
  const app = Fastify();
  hls.registerHttp(app);
  app.get('/hls.min.js', (_req, reply) => reply.type('application/javascript').send(HLS_JS));
  app.get('/', (_req, reply) => reply.type('text/html').send(PAGE));
  await hls.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const source = startLiveSource(hub, 'ch', { seconds: PLAYBACK_SECONDS + 30 });
  const profile = mkdtempSync(join(tmpdir(), 'onair-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?src=${encodeURIComponent('/live/ch/index.m3u8')}`);
    await page.waitForTimeout(PLAYBACK_SECONDS * 1000);
    const stats = (await page.evaluate('window.__stats')) as { errors: { type: string; details: string; fatal: boolean }[]; samples: Sample[]; supported: boolean };
    assert.equal(stats.supported, true, 'MSE available');
    const fatal = stats.errors.filter((e) => e.fatal);
    assert.deepEqual(fatal, [], 'no fatal hls.js errors');
    const playing = stats.samples.filter((s) => s.currentTime > 0);
    assert.ok(playing.length > 10, `playback started (${playing.length} samples with currentTime > 0)`);
    const first = playing[0]!;
    const last = playing[playing.length - 1]!;
    const advanced = last.currentTime - first.currentTime;
    const wall = (last.t - first.t) / 1000;
    assert.ok(advanced > wall * 0.8, `currentTime advanced ${advanced.toFixed(2)} s over ${wall.toFixed(2)} s of wall time`);
    // Latency over the last half of the run (after hls.js has converged).
    const tail = playing.slice(Math.floor(playing.length / 2));
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const hlsLatency = median(tail.map((s) => s.latency));
    const pdtLatency = median(tail.filter((s) => s.playingDate).map((s) => (s.t - s.playingDate!) / 1000));
    // Upper bound of glass-to-glass: PDT latency plus the delay between spawning ffmpeg and the first frame reaching the server.
    const ingestDelay = (source.firstFrameAt! - source.spawnedAt - (source.firstDts ?? 0)) / 1000;
    const report = {
      hlsJsLatencySeconds: +hlsLatency.toFixed(3),
      ingestToDisplaySeconds: +pdtLatency.toFixed(3),
      glassToGlassUpperBoundSeconds: +(pdtLatency + Math.max(0, ingestDelay)).toFixed(3),
      targetLatency: tail[tail.length - 1]!.targetLatency,
      advancedSeconds: +advanced.toFixed(2),
      nonFatalErrors: stats.errors.map((e) => e.details),
      viewers: hls.stats('ch')?.viewers,
    };
    t.diagnostic(JSON.stringify(report));
    console.log('hls e2e', JSON.stringify(report));
    assert.ok(hlsLatency < 5, `hls.js latency ${hlsLatency} s`);
    assert.ok(pdtLatency < 5, `ingest-to-display latency ${pdtLatency} s`);
    assert.equal(hls.stats('ch')?.viewers, 1);
  } finally {
    await browser.close();
    source.stop();
    await hls.stop();
    await app.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
