// test-runs-alone: measures hls.js latency behind the live edge
/**
 * hls.js (lowLatencyMode) in headless Chromium plays our LL-HLS output. The path is real:
 * H.264/AAC from ffmpeg is published over RTMP (our RtmpClient, paced in real time by this
 * test) to the media role; its hub feeds the HLS service; the page loads hls.js from node_modules.
 *
 * Glass-to-glass latency: the test is the publisher, so it knows the wall-clock time each
 * frame was sent ("glass" = the moment an encoded frame leaves the encoder; x264 ultrafast
 * zerolatency adds a few ms before that). The playlist's PROGRAM-DATE-TIME is the server's
 * wall clock at the first frame plus media time, so hls.js's playingDate identifies the frame
 * on screen; latency = now - send time of that frame. Same machine, same clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { chromium, type BrowserContext } from 'playwright-core';
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createHlsService } from '../../src/media/hls/service.js';
import { execFileSync } from 'node:child_process';
import prom from 'prom-client';
import { createMediaService, RtmpClient } from '../../src/media/index.js';

interface FlvTag { type: number; timestamp: number; body: Buffer }

/** flvTags lists the tags of an FLV file. */
function flvTags(buf: Buffer): FlvTag[] {
  const out: FlvTag[] = [];
  let off = buf.readUInt32BE(5) + 4;
  while (off + 11 <= buf.length) {
    const size = buf.readUIntBE(off + 1, 3);
    const timestamp = (buf.readUIntBE(off + 4, 3) | (buf[off + 7]! << 24)) >>> 0;
    out.push({ type: buf[off]!, timestamp, body: buf.subarray(off + 11, off + 11 + size) });
    off += 11 + size + 4;
  }
  return out;
}

const FLV_TAG_VIDEO = 9;
/** Keyframe interval of the test publisher in frames at 25 fps (2 s, as OBS defaults to). */
const GOP_FRAMES = Number(process.env.HLS_E2E_GOP ?? 50);

const HLS_JS = readFileSync(new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url));
const PLAYBACK_SECONDS = Number(process.env.HLS_E2E_SECONDS ?? 20);

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
  // hls.js fixes its start position before the first segment is loaded; when that load is slow
  // (a busy machine) playback starts behind and hls.js only speeds up when close to its target.
  // Like a watch page's "go live", jump to the live sync position once after playback begins.
  stats.jumpedToLive = null;
  v.addEventListener('playing', () => {
    if (stats.jumpedToLive !== null) return;
    const behind = hls.latency - hls.targetLatency;
    stats.jumpedToLive = behind > 1 ? +behind.toFixed(2) : 0;
    if (behind > 1 && hls.liveSyncPosition) v.currentTime = hls.liveSyncPosition;
  });
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
  // Pre-encode the media, then publish it over RTMP in real time, recording each video tag's send time.
  const profile = mkdtempSync(join(tmpdir(), 'onair-chromium-'));
  const flvPath = join(profile, 'source.flv');
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=426x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(PLAYBACK_SECONDS + 30), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(GOP_FRAMES), '-r', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', flvPath,
  ], { timeout: 120_000 });
  const tags = flvTags(readFileSync(flvPath)).filter((t) => t.type === 8 || t.type === FLV_TAG_VIDEO);
  // Server side: when the first frame reached the hub (the packager's PDT origin), and its dts.
  const arrival: { at?: number; dts?: number } = {};
  let detachProbe: (() => void) | undefined;
  media.hub.on('streamStart', (channel: string) => {
    detachProbe = media.hub.subscribe(channel, {
      onFrame(f) {
        if (arrival.at !== undefined) return;
        arrival.at = Date.now();
        arrival.dts = f.dts;
      },
    });
  });
  const client = await RtmpClient.publish(`rtmp://127.0.0.1:${rtmpPort}/live/e2e-key`);
  const sentAt = new Map<number, number>(); // video dts → wall clock when sent
  const start = Date.now();
  let next = 0;
  const pacer = setInterval(() => {
    const elapsed = Date.now() - start;
    while (next < tags.length && tags[next]!.timestamp <= elapsed) {
      const tag = tags[next++]!;
      client.sendTag(tag.type, tag.timestamp, tag.body);
      if (tag.type === FLV_TAG_VIDEO && !sentAt.has(tag.timestamp)) sentAt.set(tag.timestamp, Date.now());
    }
  }, 5);
  let browser: BrowserContext | undefined;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?src=${encodeURIComponent('/live/ch/index.m3u8')}`);
    await page.waitForTimeout(PLAYBACK_SECONDS * 1000);
    const stats = await page.evaluate<{ errors: { type: string; details: string; fatal: boolean }[]; samples: Sample[]; supported: boolean; jumpedToLive: number | null }>('window.__stats');
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
    // Latency over the last third of the run (after hls.js has caught up with the live edge).
    const tail = playing.slice(Math.floor((playing.length * 2) / 3));
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const hlsLatency = median(tail.map((s) => s.latency));
    const pdtLatency = median(tail.filter((s) => s.playingDate).map((s) => (s.t - s.playingDate!) / 1000));
    // The frame on screen: dts = playingDate - (PDT origin) + first dts; its send time is in sentAt.
    const sentTimes = [...sentAt.entries()].sort((a, b) => a[0] - b[0]);
    const sendTimeOf = (dts: number) => {
      let best = sentTimes[0]!;
      for (const e of sentTimes) if (Math.abs(e[0] - dts) < Math.abs(best[0] - dts)) best = e;
      return best[1];
    };
    const glass = tail.filter((s) => s.playingDate).map((s) => (s.t - sendTimeOf(s.playingDate! - arrival.at! + arrival.dts!)) / 1000);
    const glassToGlass = median(glass);
    const report = {
      hlsJsLatencySeconds: +hlsLatency.toFixed(3),
      ingestToDisplaySeconds: +pdtLatency.toFixed(3),
      glassToGlassSeconds: +glassToGlass.toFixed(3),
      firstFrameTransitMs: arrival.at! - sentAt.get(arrival.dts!)!,
      targetLatency: tail[tail.length - 1]!.targetLatency,
      advancedSeconds: +advanced.toFixed(2),
      nonFatalErrors: stats.errors.map((e) => e.details),
      startBehindTargetSeconds: stats.jumpedToLive,
      latencyTimeline: playing.filter((_s, i) => i % 8 === 0).map((s) => +s.latency.toFixed(2)),
      viewers: hls.stats('ch')?.viewers,
      serverRequests: Object.fromEntries(
        ((await registry.getSingleMetric('onair_hls_requests_total')!.get()).values).map((v) => [v.labels.kind, v.value]),
      ),
    };
    t.diagnostic(JSON.stringify(report));
    console.log('hls e2e', JSON.stringify(report));
    // On a loaded CI machine Chromium stalls now and then and hls.js drifts behind, so the
    // steady-state median is reported (and measured by bench/latency.ts), not asserted. What
    // must hold: playback reached the low-latency edge, through parts and blocking reloads.
    const glassAll = playing.filter((s) => s.playingDate).map((s) => (s.t - sendTimeOf(s.playingDate! - arrival.at! + arrival.dts!)) / 1000);
    const bestGlass = Math.min(...glassAll);
    t.diagnostic(`best glass-to-glass ${bestGlass.toFixed(3)} s, median of the last third ${glassToGlass.toFixed(3)} s`);
    assert.ok(bestGlass < 3, `playback never came within 3 s of live (best ${bestGlass} s)`);
    assert.ok((report.serverRequests.part ?? 0) > 10, 'hls.js fetched partial segments');
    assert.ok((report.serverRequests.playlist ?? 0) > 10, 'hls.js reloaded the media playlist (blocking)');
    assert.equal(hls.stats('ch')?.viewers, 1);
  } finally {
    await browser?.close();
    clearInterval(pacer);
    client.close();
    detachProbe?.();
    await hls.stop();
    await media.stop();
    await app.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
