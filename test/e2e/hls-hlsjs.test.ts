/**
 * hls.js (lowLatencyMode) in headless Chromium plays our LL-HLS output. The whole path is
 * real: ffmpeg encodes in real time and publishes over RTMP to the media role; its hub feeds
 * the HLS service; the test page loads hls.js from node_modules.
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
import { spawn } from 'node:child_process';
import prom from 'prom-client';
import { createMediaService } from '../../src/media/index.js';

const HLS_JS = readFileSync(new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url));
const PLAYBACK_SECONDS = Number(process.env.HLS_E2E_SECONDS ?? 14);

export const PAGE = `<!doctype html><html><body>
<video id="v" muted autoplay playsinline width="426" height="240"></video>
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
  const config = configSchema.parse({ host: '127.0.0.1', rtmp: { port: 0 } });
  const logger = silentLogger();
  const registry = new prom.Registry();
  const media = createMediaService({ config, logger, registry, streamKeys: { resolve: async (k) => (k === 'e2e-key' ? { channel: 'ch' } : null) } });
  const hls = createHlsService({ config, logger, hub: media.hub, registry });
  const app = Fastify();
  media.registerHttp(app);
  hls.registerHttp(app);
  app.get('/hls.min.js', (_req, reply) => reply.type('application/javascript').send(HLS_JS));
  app.get('/', (_req, reply) => reply.type('text/html').send(PAGE));
  const { rtmpPort } = await media.start();
  await hls.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  // When the first frame reaches the hub, on the server's clock.
  const source: { spawnedAt: number; firstFrameAt?: number; firstDts?: number } = { spawnedAt: Date.now() };
  let detachProbe: (() => void) | undefined;
  media.hub.on('streamStart', (channel: string) => {
    detachProbe = media.hub.subscribe(channel, {
      onFrame(f) {
        if (source.firstFrameAt !== undefined) return;
        source.firstFrameAt = Date.now();
        source.firstDts = f.dts;
      },
    });
  });
  const ffmpeg = spawn('ffmpeg', [
    '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=426x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(PLAYBACK_SECONDS + 30), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-r', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/e2e-key`,
  ], { stdio: 'ignore' });
  source.spawnedAt = Date.now();
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
    // Shared CI machines can starve the browser; playback must still clearly advance.
    assert.ok(advanced > wall * 0.6, `currentTime advanced ${advanced.toFixed(2)} s over ${wall.toFixed(2)} s of wall time`);
    // Latency over the last half of the run (after hls.js has converged).
    const tail = playing.slice(Math.floor(playing.length / 2));
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const hlsLatency = median(tail.map((s) => s.latency));
    const pdtLatency = median(tail.filter((s) => s.playingDate).map((s) => (s.t - s.playingDate!) / 1000));
    // PDT is the server's clock when a segment's first frame arrived, so now - playingDate is ingest-to-display.
    // Upper bound of glass-to-glass: add the delay between spawning ffmpeg and the first frame reaching the server
    // (this includes ffmpeg's start-up, so it over-estimates the encoder and network delay).
    const ingestDelay = (source.firstFrameAt! - source.spawnedAt - (source.firstDts ?? 0)) / 1000;
    const report = {
      hlsJsLatencySeconds: +hlsLatency.toFixed(3),
      ingestToDisplaySeconds: +pdtLatency.toFixed(3),
      glassToGlassUpperBoundSeconds: +(pdtLatency + Math.max(0, ingestDelay)).toFixed(3),
      targetLatency: tail[tail.length - 1]!.targetLatency,
      advancedSeconds: +advanced.toFixed(2),
      nonFatalErrors: stats.errors.map((e) => e.details),
      latencyTimeline: playing.filter((_s, i) => i % 8 === 0).map((s) => +s.latency.toFixed(2)),
      viewers: hls.stats('ch')?.viewers,
    };
    t.diagnostic(JSON.stringify(report));
    console.log('hls e2e', JSON.stringify(report));
    assert.ok(hlsLatency < 5, `hls.js latency ${hlsLatency} s`);
    assert.ok(pdtLatency < 5, `ingest-to-display latency ${pdtLatency} s`);
    assert.equal(hls.stats('ch')?.viewers, 1);
  } finally {
    await browser.close();
    if (ffmpeg.exitCode === null) ffmpeg.kill('SIGKILL');
    detachProbe?.();
    await hls.stop();
    await media.stop();
    await app.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
