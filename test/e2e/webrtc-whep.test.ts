// test-runs-alone: Chromium plays WebRTC in real time; frame-rate and latency checks
/**
 * WebRTC playback over WHEP in real headless Chromium: ffmpeg publishes H.264 + AAC over RTMP to
 * a whole onair server; a page does what the web player's startWhep does (recvonly video+audio
 * offer, all candidates gathered, POST application/sdp, answer, DELETE on stop) and we read the
 * browser's own getStats(): decoded H.264 frames at 640x360 and Opus packets.
 *
 * The server only offers 127.0.0.1 candidates (the test server binds 127.0.0.1), so all media
 * stays on loopback.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, publishTestStream, screenshots, stopProcess, videoAdvances, waitFor } from './helpers/web.js';

/** WHEP_PLAY is startWhep of web/src/player/engines.ts, plus stats for the test. */
const WHEP_PLAY = async ({ url, codecs }: { url: string; codecs?: string }) => {
  const pc = new RTCPeerConnection();
  const v = pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  if (codecs) {
    const caps = RTCRtpReceiver.getCapabilities('video')!.codecs.filter((c) => c.mimeType.toLowerCase() === codecs);
    v.setCodecPreferences(caps);
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((res) => {
    if (pc.iceGatheringState === 'complete') return res();
    const t = setTimeout(res, 2000);
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); res(); } };
  });
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
  const body = await r.text();
  if (r.status !== 201) { pc.close(); return { status: r.status, body }; }
  const location = r.headers.get('location');
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  document.body.appendChild(video);
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; void video.play().catch(() => undefined); };
  (window as any).pcs = [...((window as any).pcs ?? []), pc];
  return { status: r.status, location, etag: r.headers.get('etag'), contentType: r.headers.get('content-type'), answer: body, index: (window as any).pcs.length - 1 };
};

/** STATS reads inbound-rtp video/audio counters from getStats(). */
const STATS = async (index: number) => {
  const pc = (window as any).pcs[index] as RTCPeerConnection;
  const out: Record<string, any> = { state: pc.connectionState };
  const report = await pc.getStats();
  const codecs = new Map<string, string>();
  report.forEach((s: any) => { if (s.type === 'codec') codecs.set(s.id, s.mimeType); });
  report.forEach((s: any) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'video') Object.assign(out, { framesDecoded: s.framesDecoded, frameWidth: s.frameWidth, frameHeight: s.frameHeight, videoPackets: s.packetsReceived, videoCodec: codecs.get(s.codecId), videoLost: s.packetsLost });
    if (s.kind === 'audio') Object.assign(out, { audioPackets: s.packetsReceived, audioCodec: codecs.get(s.codecId), audioBytes: s.bytesReceived });
  });
  return out;
};

async function metric(s: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && /^[a-z_]+(\{[^}]*\})? /.test(line) && line.split(/[ {]/)[0] === name) sum += Number(line.split(' ').pop());
  return sum;
}

let server: TestServer | undefined;
let browser: Browser | undefined;
let ffmpeg: ChildProcess | undefined;
after(async () => {
  stopProcess(ffmpeg);
  await browser?.close().catch(() => undefined);
  await server?.close();
});

test('WHEP: Chromium plays H.264 + Opus from an RTMP publish; DELETE, errors and stream end', { timeout: 150_000 }, async () => {
  server = await startTestServer({ 'record.enabled': false });
  const s = server;
  const base = `http://127.0.0.1:${s.httpPort}`;
  const whepUrl = `${base}/live/demo/whep`;

  // Not live yet: 404 from a plain POST (a well-formed offer is not needed to learn that).
  const notLive = await fetch(whepUrl, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.equal(notLive.status, 404);
  assert.equal((await notLive.json()).error.code, 'not_found');

  ffmpeg = publishTestStream(s.rtmpPort!, s.demoStreamKey!, 90);
  await waitFor('demo live', async () => s.app.hub!.isLive('demo'), 30_000);

  // OPTIONS: WHEP discovery and CORS.
  const opt = await fetch(whepUrl, { method: 'OPTIONS' });
  assert.equal(opt.status, 204);
  assert.equal(opt.headers.get('accept-post'), 'application/sdp');
  assert.equal(opt.headers.get('access-control-allow-origin'), '*');
  // Wrong content type → 415; garbage → 400; unknown resource → 404; PATCH → 405.
  const json = await fetch(whepUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sdp":"v=0"}' });
  assert.equal(json.status, 415);
  assert.equal((await json.json()).error.code, 'unsupported_media_type');
  const noType = await fetch(whepUrl, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
  assert.equal(noType.status, 415);
  const garbage = await fetch(whepUrl, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'hello' });
  assert.equal(garbage.status, 400);
  assert.match((await garbage.json()).error.message, /bad offer/);
  assert.equal((await fetch(`${whepUrl}/00000000-0000-0000-0000-000000000000`, { method: 'DELETE' })).status, 404);
  assert.equal((await fetch(`${whepUrl}/00000000-0000-0000-0000-000000000000`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=end-of-candidates' })).status, 405);
  assert.equal((await fetch(`${base}/live/no-such-channel/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' })).status, 404);

  browser = await launchBrowser();
  const page: Page = await browser.newPage();
  await page.goto(`${base}/healthz`);

  // An offer without H.264 (VP8 only, as the browser writes it) → 400 naming H.264.
  const vp8 = await page.evaluate(WHEP_PLAY, { url: '/live/demo/whep', codecs: 'video/vp8' });
  assert.equal(vp8.status, 400);
  assert.match(String(vp8.body), /H\.264/);
  assert.equal(await metric(s, 'onair_webrtc_sessions'), 0, 'refused offers leave no session');

  const t0 = Date.now();
  const play = await page.evaluate(WHEP_PLAY, { url: '/live/demo/whep' });
  assert.equal(play.status, 201, String((play as { body?: string }).body));
  assert.match(String(play.location), /^\/live\/demo\/whep\/[0-9a-f-]{36}$/);
  assert.ok(play.etag);
  assert.equal(play.contentType, 'application/sdp');
  assert.match(String(play.answer), /a=rtpmap:\d+ H264\/90000/);
  assert.match(String(play.answer), /a=fmtp:\d+ .*packetization-mode=1/);
  assert.match(String(play.answer), /a=rtpmap:\d+ opus\/48000\/2/);
  assert.doesNotMatch(String(play.answer), /a=candidate:\S+ 1 udp \d+ (?!127\.0\.0\.1)/, 'only loopback candidates');
  assert.equal((String(play.answer).match(/^m=video \d+ \S+ (\d+)$/m) ?? []).length, 2, 'one video payload type in the answer');

  const stats = await waitFor('40 decoded frames and Opus packets', async () => {
    const st = await page.evaluate(STATS, play.index);
    return st.framesDecoded > 40 && st.audioPackets > 20 ? st : undefined;
  }, 45_000, 250);
  const firstFramesMs = Date.now() - t0;
  assert.equal(stats.state, 'connected');
  assert.equal(stats.frameWidth, 640);
  assert.equal(stats.frameHeight, 360);
  assert.equal(stats.videoCodec, 'video/H264');
  assert.equal(stats.audioCodec, 'audio/opus');
  // Headless Chromium here has no audio sink, so nothing pulls the audio jitter buffer (no decode
  // counters); a 440 Hz tone at 96 kbit/s in 20 ms Opus packets is ~240 bytes a packet, silence or
  // a broken encoder far less.
  assert.ok(stats.audioBytes / stats.audioPackets > 100, `Opus payloads of real audio: ${JSON.stringify(stats)}`);
  // Frames keep coming (not only the cached GOP).
  const later = await waitFor('more frames', async () => {
    const st = await page.evaluate(STATS, play.index);
    return st.framesDecoded > stats.framesDecoded + 30 ? st : undefined;
  }, 20_000, 250);
  assert.ok(later.audioPackets > stats.audioPackets);

  assert.equal(await metric(s, 'onair_webrtc_sessions'), 1);
  assert.ok(await metric(s, 'onair_webrtc_rtp_packets_sent_total') > 100);
  const hubStats = s.app.media!.hub.stats('demo');
  assert.equal(hubStats?.viewers.webrtc, 1, 'WebRTC viewers are counted in the hub stats');
  const whep = s.app.whep!;
  assert.ok(whep.stats()[0]!.opusPid, 'one Opus transcoder runs while a viewer watches');

  // DELETE ends the server session; the transcoder goes with the last viewer.
  const del = await fetch(base + play.location!, { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.equal(await metric(s, 'onair_webrtc_sessions'), 0);
  assert.equal(whep.stats().length, 0, 'channel output released');
  assert.equal((await fetch(base + play.location!, { method: 'DELETE' })).status, 404, 'a deleted session is gone');

  // A second viewer; the publisher stops: the session ends with the stream.
  const again = await page.evaluate(WHEP_PLAY, { url: '/live/demo/whep' });
  assert.equal(again.status, 201);
  await waitFor('second viewer plays', async () => ((await page.evaluate(STATS, again.index!)).framesDecoded ?? 0) > 10, 30_000, 250);
  stopProcess(ffmpeg);
  await waitFor('session ended with the stream', async () => (await metric(s, 'onair_webrtc_sessions')) === 0, 20_000, 200);
  assert.equal(await metric(s, 'onair_webrtc_sessions_ended_total'), 2);
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /onair_webrtc_sessions_ended_total\{reason="deleted"\} 1/);
  assert.match(text, /onair_webrtc_sessions_ended_total\{reason="stream_ended"\} 1/);
  console.log(`# first 40 frames decoded ${firstFramesMs} ms after the offer was made`);
});

test('the web watch page picks WebRTC when the server offers WHEP, and plays; past the viewer cap it plays LL-HLS', { timeout: 300_000 }, async (t) => {
  const web = await startTestServer({ 'record.enabled': false, 'web.dir': ensureWebBuilt(), 'media.webrtc.maxViewers': 1 });
  let pub: ChildProcess | undefined;
  try {
    const base = `http://127.0.0.1:${web.httpPort}`;
    pub = publishTestStream(web.rtmpPort!, web.demoStreamKey!, 120);
    await waitFor('demo live', async () => web.app.hub!.isLive('demo'), 30_000);
    browser ??= await launchBrowser();
    const ctx = await newContext(browser, { lang: 'en' });
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    await page.goto(`${base}/watch/demo`);
    await page.locator('.player[data-protocol="webrtc"]').waitFor({ timeout: 20_000 });
    const { from, to } = await videoAdvances(page, 2, 40_000);
    assert.ok(to - from >= 2, `currentTime advanced from ${from.toFixed(2)} to ${to.toFixed(2)}`);
    const size = await page.evaluate(() => { const v = document.querySelector('video')!; return [v.videoWidth, v.videoHeight]; });
    assert.deepEqual(size, [640, 360]);
    assert.equal(await metric(web, 'onair_webrtc_sessions'), 1);
    // A second viewer past media.webrtc.maxViewers (1 here) gets 503 from WHEP: the player plays
    // LL-HLS instead of showing the error.
    const ctx2 = await newContext(browser, { lang: 'en' });
    const page2 = await ctx2.newPage();
    await page2.goto(`${base}/watch/demo`);
    await page2.locator('.player[data-protocol="llhls"]').waitFor({ timeout: 30_000 });
    await videoAdvances(page2, 1, 40_000);
    assert.equal(await page2.locator('.player-status.error').count(), 0, 'no error shown');
    assert.equal(await metric(web, 'onair_webrtc_sessions'), 1, 'the refused viewer holds no session');
    await ctx2.close();
    const options = await page.getByLabel('Protocol').locator('option').allInnerTexts();
    assert.ok(options.includes('WebRTC') && options.includes('LL-HLS'), `switcher offers ${options.join(', ')}`);
    await screenshots(page, 'watch-webrtc');
    // Switching away ends the WebRTC session on the server (the player DELETEs its resource).
    await page.getByLabel('Protocol').selectOption({ label: 'LL-HLS' });
    await waitFor('WHEP session released', async () => (await metric(web, 'onair_webrtc_sessions')) === 0, 10_000, 200);
    t.diagnostic(`WebRTC watch page: currentTime ${from.toFixed(2)} -> ${to.toFixed(2)} s`);
    assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []);
    await ctx.close();
  } finally {
    stopProcess(pub);
    await web.close();
  }
});
