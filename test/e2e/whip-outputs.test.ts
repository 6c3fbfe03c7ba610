// test-runs-alone: Chromium publishes and plays back at once (two real-time media pipelines)
/**
 * A WHIP-published channel feeds every output as an RTMP-published one does: headless Chromium
 * publishes a canvas + oscillator over WHIP; a second page plays it back over WHEP (H.264
 * decoded, Opus received: browser to browser through the hub); the live thumbnail is served;
 * the recording becomes a VOD of the published length with h264 + aac that decodes cleanly.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { launchBrowser, waitFor } from './helpers/web.js';
import { installWebrtcPage } from './helpers/webrtc-page.js';
import { probe, run } from '../../testkit/record.js';

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
    ctx.fillStyle = `hsl(${(i * 5) % 360}, 60%, 40%)`;
    ctx.fillRect(0, 0, 640, 360);
    ctx.fillStyle = '#fff';
    ctx.fillRect((i * 6) % 600, 150, 40, 40);
  }, 33);
  const r = await (window as any).rtcTest.whipPublish(canvas.captureStream(30).getVideoTracks()[0]!, key);
  return { status: r.status, location: r.status === 201 ? r.location : null };
};

/** PLAY is a WHEP viewer (recvonly video + audio), as the web player's startWhep. */
const PLAY = async (url: string) => {
  const r = await (window as any).rtcTest.whepPlay(url);
  if (r.status === 201) (window as any).viewer = r.pc;
  return r.status;
};

const VIEWER_STATS = async () => {
  const out: Record<string, number> = {};
  (await ((window as any).viewer as RTCPeerConnection).getStats()).forEach((s: any) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') Object.assign(out, { framesDecoded: s.framesDecoded ?? 0, width: s.frameWidth ?? 0 });
    if (s.type === 'inbound-rtp' && s.kind === 'audio') Object.assign(out, { audioPackets: s.packetsReceived ?? 0 });
  });
  return out;
};

test('WHIP in → WHEP out, live thumbnail, recording → VOD (h264 + aac, published length)', { timeout: 180_000 }, async () => {
  server = await startTestServer({ 'record.thumbnailIntervalSeconds': 5, 'jobs.pollIntervalMs': 200 });
  const s = server;
  const base = `http://127.0.0.1:${s.httpPort}`;
  browser = await launchBrowser();
  const publisher = await browser.newPage();
  await publisher.goto(`${base}/healthz`);
  await installWebrtcPage(publisher);
  const pub = await publisher.evaluate(PUBLISH, { key: s.demoStreamKey! });
  assert.equal(pub.status, 201);
  await waitFor('demo live', async () => s.app.hub!.isLive('demo'), 30_000, 50);
  const liveAt = Date.now();

  const rec = await waitFor('recording row', async () => {
    const r = await s.api('GET', '/api/v1/vods?channel=demo&state=all');
    return r.body.vods?.find((v: { state: string }) => v.state === 'recording');
  }, 20_000, 200);

  // Browser to browser: a WHEP viewer of the WHIP-published channel.
  const viewer = await browser.newPage();
  await viewer.goto(`${base}/healthz`);
  await installWebrtcPage(viewer);
  assert.equal(await viewer.evaluate(PLAY, '/live/demo/whep'), 201);
  const vs = await waitFor('WHEP frames decoded', async () => {
    const st = await viewer.evaluate(VIEWER_STATS);
    return (st.framesDecoded ?? 0) > 30 && (st.audioPackets ?? 0) > 20 ? st : undefined;
  }, 30_000, 250);
  assert.equal(vs.width, 640);

  const thumb = await waitFor('live thumbnail', async () => {
    const r = await fetch(`${base}/live/demo/thumbnail.jpg`);
    return r.status === 200 ? r : undefined;
  }, 20_000, 250);
  assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
  await thumb.arrayBuffer();

  // Publish about 8 s in all, then DELETE.
  await new Promise((r) => setTimeout(r, Math.max(0, 8000 - (Date.now() - liveAt))));
  const publishedMs = Date.now() - liveAt;
  assert.equal((await fetch(base + pub.location!, { method: 'DELETE' })).status, 204);
  await waitFor('offline', async () => !s.app.hub!.isLive('demo'), 5000, 50);

  const vod = await waitFor('ready VOD', async () => {
    const r = await s.api('GET', '/api/v1/vods?channel=demo');
    return r.body.vods?.find((v: { id: string }) => v.id === rec.id);
  }, 60_000, 250);
  assert.equal(vod.state, 'ready');
  const dir = join(s.dataDir, 'recordings', 'demo');
  const mp4 = readdirSync(dir).map((d) => join(dir, d, 'source.mp4')).find((p) => existsSync(p))!;
  const p = await probe(mp4);
  assert.deepEqual(p.streams.map((x) => `${x.codec_type}:${x.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  // The recording also holds the frames from the first keyframe to the AAC header (at most 6 s), before the channel went live.
  const recordedMs = p.duration * 1000;
  assert.ok(recordedMs > publishedMs - 500 && recordedMs < publishedMs + 6500, `recorded ${p.duration} s of ${publishedMs} ms published`);
  // WebRTC video is variable frame rate (frames carry their capture times): decode without
  // forcing a constant rate, and check the decode times strictly increase.
  const pk = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=dts', '-of', 'csv=p=0', mp4]);
  const dts = pk.stdout.trim().split('\n').map(Number);
  assert.ok(dts.length > 100 && dts.every((d, i) => i === 0 || d > dts[i - 1]!), 'video decode times strictly increase');
  const dec = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', mp4, '-fps_mode', 'passthrough', '-enc_time_base', '-1', '-f', 'null', '-']);
  assert.equal(dec.status, 0);
  assert.equal(dec.stderr.trim(), '', 'the recording decodes without errors');
  console.log(`WHIP outputs: WHEP viewer decoded ${vs.framesDecoded} frames at ${vs.width}px; recorded ${p.duration} s of ${(publishedMs / 1000).toFixed(1)} s published`);
});
