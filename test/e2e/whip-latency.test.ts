// test-runs-alone: measures publish-to-player latency
/**
 * Publish-to-HTTP-FLV latency of a WHIP publish, measured end to end on one machine: a Chromium
 * page publishes a canvas that flips between black and white every second, noting the wallclock
 * of each flip; ffmpeg reads /live/{channel}.flv, decodes it to 8x8 grey and we note when each
 * flip comes out. latency = flip seen − flip drawn (page and test share the clock). It includes
 * the browser's capture and H.264 encode, loopback WebRTC, our depacketizing and hub, HTTP-FLV,
 * and ffmpeg's decode.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { launchBrowser, stopProcess, waitFor } from './helpers/web.js';
import { installWebrtcPage } from './helpers/webrtc-page.js';

const FLIP_MS = 1000;
const FLIPS = 12;
const PIXELS = 64;

let server: TestServer | undefined;
let browser: Browser | undefined;
let reader: ChildProcess | undefined;
after(async () => {
  stopProcess(reader);
  await browser?.close().catch(() => undefined);
  await server?.close();
});

/** FLIPPER runs in the page: a 320x240 canvas, black/white flips, published over WHIP. */
const FLIPPER = async ({ key, flipMs }: { key: string; flipMs: number }) => {
  const canvas = document.createElement('canvas');
  canvas.width = 320;
  canvas.height = 240;
  document.body.appendChild(canvas);
  const ctx = canvas.getContext('2d')!;
  const w = window as any;
  w.flips = [] as number[];
  let white = false;
  let lastFlip = 0;
  w.timer = setInterval(() => {
    const now = Date.now();
    if (w.flipping && now - lastFlip >= flipMs) {
      white = !white;
      lastFlip = now;
      w.flips.push(now);
    }
    ctx.fillStyle = white ? '#fff' : '#000';
    ctx.fillRect(0, 0, 320, 240);
  }, 10);
  const r = await w.rtcTest.whipPublish(canvas.captureStream(60).getVideoTracks()[0]!, key, { maintainResolution: false });
  w.pc = r.pc;
  return r.status;
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

test('WHIP publish → HTTP-FLV latency (canvas flips seen by an ffmpeg reader)', { timeout: 120_000 }, async () => {
  server = await startTestServer({ 'record.enabled': false });
  const s = server;
  const base = `http://127.0.0.1:${s.httpPort}`;
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(`${base}/healthz`);
  await installWebrtcPage(page);
  assert.equal(await page.evaluate(FLIPPER, { key: s.demoStreamKey!, flipMs: FLIP_MS }), 201);
  await waitFor('demo live', async () => s.app.hub!.isLive('demo'), 30_000, 50);

  // The reader: decoded frames as 8x8 grey, each with the time it came out.
  const seen: { at: number; bright: boolean }[] = [];
  reader = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0',
    '-i', `${base}/live/demo.flv`, '-an', '-vf', 'scale=8:8,format=gray', '-f', 'rawvideo', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let pending = Buffer.alloc(0);
  reader.stdout!.on('data', (d: Buffer) => {
    const at = Date.now();
    pending = Buffer.concat([pending, d]);
    while (pending.length >= PIXELS) {
      let sum = 0;
      for (let i = 0; i < PIXELS; i++) sum += pending[i]!;
      seen.push({ at, bright: sum / PIXELS > 128 });
      pending = pending.subarray(PIXELS);
    }
  });
  await waitFor('the reader decodes frames', async () => seen.length > 10, 20_000, 50);
  const load0 = loadavg()[0]!;
  await page.evaluate(() => { (window as any).flips = []; (window as any).flipping = true; });
  await new Promise((r) => setTimeout(r, FLIPS * FLIP_MS + 1500));
  const flips = (await page.evaluate(() => (window as any).flips as number[])).slice(0, FLIPS);
  const load1 = loadavg()[0]!;

  // Each flip k turns the picture white (even k) or black (odd k): the first frame after it with that brightness.
  const lat: number[] = [];
  for (let k = 0; k < flips.length; k++) {
    const want = k % 2 === 0;
    const next = flips[k + 1] ?? Infinity;
    const hit = seen.find((f) => f.at >= flips[k]! && f.bright === want);
    if (hit && hit.at < next + 2000) lat.push(hit.at - flips[k]!);
  }
  assert.ok(lat.length >= FLIPS - 2, `flips seen: ${lat.length} of ${flips.length}`);
  const sorted = [...lat].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  console.log(`WHIP→HTTP-FLV latency over ${lat.length} flips: p50 ${p50} ms, p95 ${percentile(sorted, 95)} ms, max ${sorted.at(-1)} ms (load ${load0.toFixed(2)} → ${load1.toFixed(2)}); samples ${lat.join(' ')}`);
  assert.ok(p50 < 1500, `p50 ${p50} ms`);
});
