// test-runs-alone: counts packets lost on purpose; real losses under load would blur the count
/**
 * Packet loss on a WHIP publish from real Chromium: the server drops one video RTP packet in 12
 * packets for a few seconds (as if lost on the way). Frames with holes must be dropped, never
 * passed on damaged: the HTTP-FLV output decodes without a single decoder error. PLIs go out
 * and Chromium answers them with keyframes, and the stream carries on after the loss stops.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { launchBrowser, waitFor } from './helpers/web.js';
import { installWebrtcPage } from './helpers/webrtc-page.js';

let server: TestServer | undefined;
let browser: Browser | undefined;
after(async () => {
  await browser?.close().catch(() => undefined);
  await server?.close();
});

const PUBLISH = async ({ key }: { key: string }) => {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  document.body.appendChild(canvas);
  const ctx = canvas.getContext('2d')!;
  let i = 0;
  setInterval(() => {
    i++;
    // Noisy content: large frames, many packets per frame.
    for (let y = 0; y < 360; y += 40) for (let x = 0; x < 640; x += 40) {
      ctx.fillStyle = `hsl(${(x + y + i * 13) % 360}, 80%, ${30 + ((x * y + i) % 40)}%)`;
      ctx.fillRect(x, y, 40, 40);
    }
  }, 33);
  const r = await (window as any).rtcTest.whipPublish(canvas.captureStream(30).getVideoTracks()[0]!, key);
  (window as any).pc = r.pc;
  return r.status;
};

const PLI_COUNT = async () => {
  let n = 0;
  (await ((window as any).pc as RTCPeerConnection).getStats()).forEach((s: any) => { if (s.type === 'outbound-rtp' && s.kind === 'video') n = s.pliCount; });
  return n;
};

async function metric(s: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.split(/[ {]/)[0] === name) sum += Number(line.split(' ').pop());
  return sum;
}

test('WHIP under 8 % video packet loss: damaged frames dropped (clean decode), PLIs answered, recovery', { timeout: 120_000 }, async () => {
  // No periodic keyframe requests: every PLI here comes from loss.
  server = await startTestServer({ 'record.enabled': false, 'media.whip.keyframeIntervalSeconds': 0 });
  const s = server;
  const base = `http://127.0.0.1:${s.httpPort}`;
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(`${base}/healthz`);
  await installWebrtcPage(page);
  const whip = s.app.whip!;
  let dropped = 0;
  let lossy = false;
  // Deterministic 1-in-12 pattern, only while `lossy`.
  whip.testDropVideo = (seq) => {
    if (!lossy || seq % 12 !== 0) return false;
    dropped++;
    return true;
  };
  assert.equal(await page.evaluate(PUBLISH, { key: s.demoStreamKey! }), 201);
  await waitFor('demo live', async () => s.app.hub!.isLive('demo'), 30_000, 50);

  // Decode the HTTP-FLV output for the whole run: any decoder complaint means a damaged frame got through.
  const decoder = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', `${base}/live/demo.flv`, '-t', '12', '-an', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let decodeErrors = '';
  decoder.stderr.on('data', (d) => { decodeErrors += d; });
  const decoded = new Promise<number | null>((r) => decoder.on('exit', (code) => r(code)));

  await new Promise((r) => setTimeout(r, 2000));
  const before = whip.stats()[0]!;
  lossy = true;
  await new Promise((r) => setTimeout(r, 5000));
  lossy = false;
  const during = whip.stats()[0]!;
  await new Promise((r) => setTimeout(r, 4000));
  const afterLoss = whip.stats()[0]!;
  const code = await decoded;

  const plis = await metric(s, 'onair_whip_plis_sent_total');
  const seenByChromium = await page.evaluate(PLI_COUNT);
  console.log(`WHIP loss: ${dropped} packets dropped over 5 s; declared lost ${during.lost - before.lost}, frames dropped ${during.dropped - before.dropped}, frames passed ${during.units - before.units}; PLIs ${plis} (Chromium saw ${seenByChromium}); ${afterLoss.units - during.units} frames in the 4 s after`);
  assert.ok(dropped > 12, `packets dropped: ${dropped}`);
  assert.ok(during.lost >= dropped * 0.5, `declared lost ${during.lost} of ${dropped} dropped (some come back by NACK)`);
  assert.ok(during.dropped > 0, 'frames dropped');
  assert.ok(await metric(s, 'onair_whip_rtp_packets_lost_total') >= during.lost, 'loss counted while live');
  assert.ok(plis > 0 && seenByChromium > 0, `PLIs sent ${plis}, seen by Chromium ${seenByChromium}`);
  assert.ok(afterLoss.units - during.units > 30, `frames after the loss: ${afterLoss.units - during.units}`);
  assert.equal(code, 0);
  assert.equal(decodeErrors.trim(), '', 'the HTTP-FLV output decodes without errors');
});
