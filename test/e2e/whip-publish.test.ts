// test-runs-alone: audio/video skew at the live edge (the AAC transcoder's delay grows with load)
/**
 * WebRTC ingest over WHIP from real headless Chromium: a page publishes a canvas (moving pattern,
 * captureStream(30)) and a WebAudio oscillator with a sendonly RTCPeerConnection, H.264 preferred,
 * POSTing the offer to /whip with the channel's stream key as bearer token. The channel then
 * plays like an RTMP-published one: the API shows it live, HTTP-FLV carries h264 + aac at the
 * canvas size (ffprobe), LL-HLS gets segments; a wrong key is refused with 401, a second publish
 * with 409, and DELETE takes the channel offline.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { launchBrowser, registerUser, waitFor } from './helpers/web.js';
import { installWebrtcPage } from './helpers/webrtc-page.js';

const WIDTH = 640;
const HEIGHT = 360;

/** WHIP_PUBLISH runs in the page: canvas + oscillator → sendonly offer → POST /whip. */
const WHIP_PUBLISH = async ({ url, key, width, height, codec }: { url: string; key: string; width: number; height: number; codec: string }) => {
  const w = window as any;
  if (!w.source) {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    document.body.appendChild(canvas);
    const ctx = canvas.getContext('2d')!;
    let i = 0;
    w.drawTimer = setInterval(() => {
      i++;
      ctx.fillStyle = `hsl(${(i * 7) % 360}, 70%, 45%)`;
      ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = '#fff';
      ctx.fillRect((i * 8) % width, height / 3, 60, 60);
      ctx.font = '40px sans-serif';
      ctx.fillText(String(i), 20, height - 30);
    }, 33);
    const video = canvas.captureStream(30).getVideoTracks()[0]!;
    w.source = { video, audio: w.rtcTest.oscillator() };
  }
  const r = await w.rtcTest.whipPublish(w.source.video, key, { url, codec, audio: w.source.audio });
  if (r.status !== 201) return { status: r.status, body: r.body };
  w.pcs = [...(w.pcs ?? []), r.pc];
  return { status: r.status, location: r.location, contentType: r.contentType, answer: r.body, index: w.pcs.length - 1 };
};

/** SENDER_STATS reads the page's outbound-rtp video counters. */
const SENDER_STATS = async (index: number) => {
  const pc = (window as any).pcs[index] as RTCPeerConnection;
  const out: Record<string, unknown> = { state: pc.connectionState };
  const report = await pc.getStats();
  const codecs = new Map<string, string>();
  report.forEach((s: any) => { if (s.type === 'codec') codecs.set(s.id, s.mimeType); });
  report.forEach((s: any) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') Object.assign(out, { framesEncoded: s.framesEncoded, videoCodec: codecs.get(s.codecId), pliCount: s.pliCount, keyFramesEncoded: s.keyFramesEncoded });
    if (s.type === 'outbound-rtp' && s.kind === 'audio') Object.assign(out, { audioPackets: s.packetsSent, audioCodec: codecs.get(s.codecId) });
  });
  return out;
};

interface Probe {
  streams: { index: number; codec_type: string; codec_name: string; width?: number; height?: number; sample_rate?: string }[];
  packets: { stream_index: number; pts_time?: string; dts_time?: string }[];
}

function ffprobe(url: string, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const p = spawn('ffprobe', ['-v', 'error', '-rw_timeout', '8000000', '-read_intervals', '%+3', '-show_streams', '-show_entries', 'packet=stream_index,pts_time,dts_time', '-of', 'json', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => { if (p.exitCode === null) p.kill('SIGKILL'); }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`ffprobe exit ${code}: ${err.slice(-500)}`));
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- JSON.parse throws only Errors
      try { resolve(JSON.parse(out)); } catch (e) { reject(e); }
    });
  });
}

async function metric(s: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.split(/[ {]/)[0] === name) sum += Number(line.split(' ').pop());
  return sum;
}

let server: TestServer | undefined;
let browser: Browser | undefined;
after(async () => {
  await browser?.close().catch(() => undefined);
  await server?.close();
});

test('WHIP: Chromium publishes H.264 + Opus; the channel is live on HTTP-FLV and LL-HLS; 401, 409, 415, DELETE', { timeout: 180_000 }, async () => {
  server = await startTestServer({ 'record.enabled': false, 'media.whip.mediaTimeoutSeconds': 3 });
  const s = server;
  const base = `http://127.0.0.1:${s.httpPort}`;
  const whipUrl = `${base}/whip`;
  const owner = await registerUser(s, 'whipowner');
  const created = await s.api('POST', '/api/v1/channels', { name: 'whipper', title: 'WHIP test' }, owner.token);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const key = created.body.streamKey as string;

  // Discovery, content type and keys, before any browser.
  const opt = await fetch(whipUrl, { method: 'OPTIONS' });
  assert.equal(opt.status, 204);
  assert.equal(opt.headers.get('accept-post'), 'application/sdp');
  assert.equal(opt.headers.get('access-control-allow-origin'), '*');
  const json = await fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{}' });
  assert.equal(json.status, 415);
  assert.equal((await json.json()).error.code, 'unsupported_media_type');
  const noKey = await fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.equal(noKey.status, 401);
  const wrongKey = await fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer live_not-a-key' }, body: 'v=0\r\n' });
  assert.equal(wrongKey.status, 401);
  assert.equal((await wrongKey.json()).error.code, 'unauthorized');
  const garbage = await fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: 'hello' });
  assert.equal(garbage.status, 400);
  assert.equal((await fetch(`${whipUrl}/00000000-0000-0000-0000-000000000000`, { method: 'DELETE' })).status, 404);
  assert.equal((await fetch(`${whipUrl}/00000000-0000-0000-0000-000000000000`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=end-of-candidates' })).status, 405);
  assert.equal(s.app.hub!.isLive('whipper'), false, 'refusals leave the channel offline');

  browser = await launchBrowser();
  const page: Page = await browser.newPage();
  await page.goto(`${base}/healthz`);
  await installWebrtcPage(page);

  // A VP8-only offer: 400 naming H.264; the channel stays offline.
  const vp8 = await page.evaluate(WHIP_PUBLISH, { url: '/whip', key, width: WIDTH, height: HEIGHT, codec: 'video/vp8' });
  assert.equal(vp8.status, 400);
  assert.match(String(vp8.body), /H\.264/);
  assert.equal(await metric(s, 'onair_whip_sessions'), 0);

  const t0 = Date.now();
  const pub = await page.evaluate(WHIP_PUBLISH, { url: '/whip', key, width: WIDTH, height: HEIGHT, codec: 'video/h264' });
  assert.equal(pub.status, 201, String((pub as { body?: string }).body));
  assert.match(String(pub.location), /^\/whip\/[0-9a-f-]{36}$/);
  assert.equal(pub.contentType, 'application/sdp');
  assert.match(String(pub.answer), /a=rtpmap:\d+ H264\/90000/);
  assert.match(String(pub.answer), /a=rtpmap:\d+ opus\/48000\/2/);
  assert.match(String(pub.answer), /a=recvonly/);

  await waitFor('the channel live in the hub', async () => s.app.hub!.isLive('whipper'), 30_000, 100);
  const liveMs = Date.now() - t0;
  const info = await s.api('GET', '/api/v1/channels/whipper');
  assert.equal(info.status, 200);
  assert.equal(info.body.channel?.stream?.live ?? info.body.stream?.live, true, JSON.stringify(info.body));
  const sender = await page.evaluate(SENDER_STATS, pub.index);
  assert.equal(sender.videoCodec, 'video/H264', 'Chromium encodes H.264');

  // A second publish while live → 409 (with a real offer, and without touching the live one).
  const second = await page.evaluate(WHIP_PUBLISH, { url: '/whip', key, width: WIDTH, height: HEIGHT, codec: 'video/h264' });
  assert.equal(second.status, 409);

  // HTTP-FLV: h264 at the canvas size + aac.
  const probe = await ffprobe(`${base}/live/whipper.flv`, 20_000);
  const v = probe.streams.find((x) => x.codec_type === 'video');
  const a = probe.streams.find((x) => x.codec_type === 'audio');
  assert.equal(v?.codec_name, 'h264', JSON.stringify(probe));
  assert.equal(v?.width, WIDTH);
  assert.equal(v?.height, HEIGHT);
  assert.equal(a?.codec_name, 'aac', JSON.stringify(probe.streams));
  // Both tracks on one timeline: over 3 s of the live edge, audio and video times advance together.
  const times = (index: number) => probe.packets.filter((p) => p.stream_index === index).map((p) => Number(p.dts_time));
  const vt = times(v.index);
  const at = times(a.index);
  // A loaded machine makes Chromium's canvas capture slow (9 fps seen at load 13): enough frames to compare clocks.
  assert.ok(vt.length >= 10 && at.length > 50, `packets: ${vt.length} video, ${at.length} audio`);
  assert.ok(vt.every((t, i) => i === 0 || t >= vt[i - 1]!), 'video dts never steps back');
  assert.ok(at.every((t, i) => i === 0 || t > at[i - 1]!), 'audio dts always advances');
  // Video reaches the hub as it arrives; audio first goes through ffmpeg (Opus → AAC), so at the live
  // edge audio trails video by the transcoder's delay, which the server measures (and which grows on a
  // busy machine). One timeline means: what remains once that delay is accounted for is small.
  const delay = s.app.whip!.stats()[0]!;
  assert.ok(delay.audioDelayMs >= 0 && delay.audioDelayMax3sMs >= delay.audioDelayMs && delay.audioDelayMax10sMs >= delay.audioDelayMax3sMs,
    `transcoder delay measured: ${JSON.stringify(delay)}`);
  const videoLead = vt.at(-1)! - at.at(-1)!;
  console.log(`WHIP: HTTP-FLV live edge: video leads audio by ${videoLead.toFixed(3)} s; transcoder delay ${delay.audioDelayMs} ms (max ${delay.audioDelayMax3sMs} ms over the probe's last 3 s, ${delay.audioDelayMax10sMs} ms over 10 s)`);
  assert.ok(videoLead > -0.35 && videoLead < 0.35 + delay.audioDelayMax3sMs / 1000,
    `last video ${vt.at(-1)} s vs last audio ${at.at(-1)} s; transcoder delay up to ${delay.audioDelayMax3sMs} ms`);
  assert.ok(await metric(s, 'onair_whip_audio_transcode_delay_seconds_count') > 50, 'transcoder delay observed per AAC frame');

  // LL-HLS: the playlist gets whole segments.
  const playlist = await waitFor('LL-HLS segments', async () => {
    const multi = await fetch(`${base}/live/whipper/index.m3u8`);
    if (multi.status !== 200) return undefined;
    const variant = (await multi.text()).split('\n').find((l) => l && !l.startsWith('#'));
    if (!variant) return undefined;
    const r = await fetch(`${base}/live/whipper/${variant.trim()}`);
    if (r.status !== 200) return undefined;
    const text = await r.text();
    return (text.match(/#EXTINF:/g) ?? []).length >= 2 ? text : undefined;
  }, 30_000, 250);
  assert.match(playlist, /#EXT-X-PART:/);

  const stats = s.app.whip!.stats()[0]!;
  assert.equal(stats.live, true);
  assert.ok(stats.units > 30, `access units in: ${stats.units}`);
  assert.ok(await metric(s, 'onair_whip_frames_in_total') > 30);
  assert.equal(await metric(s, 'onair_whip_sessions'), 1);
  const hubStats = s.app.media!.stats().find((c) => c.channel === 'whipper')!;
  assert.equal(hubStats.publisher.protocol, 'whip');
  assert.equal(hubStats.audio?.codec, 'aac');

  const plis = await metric(s, 'onair_whip_plis_sent_total');
  const sent = await page.evaluate(SENDER_STATS, pub.index);
  // DELETE → offline at once; the resource is gone.
  const del = await fetch(base + pub.location!, { method: 'DELETE' });
  assert.equal(del.status, 204);
  await waitFor('offline', async () => !s.app.hub!.isLive('whipper'), 5_000, 50);
  assert.equal((await s.api('GET', '/api/v1/channels/whipper')).body.channel?.stream?.live ?? false, false);
  assert.equal((await fetch(base + pub.location!, { method: 'DELETE' })).status, 404);
  assert.equal(await metric(s, 'onair_whip_sessions'), 0);

  // Publish again after DELETE; then the hub kicks the publisher (as after a ban): offline, session gone.
  const again = await page.evaluate(WHIP_PUBLISH, { url: '/whip', key, width: WIDTH, height: HEIGHT, codec: 'video/h264' });
  assert.equal(again.status, 201, String((again as { body?: string }).body));
  await waitFor('live again', async () => s.app.hub!.isLive('whipper'), 30_000, 100);
  assert.equal(s.app.media!.hub.kick('whipper', 'banned'), true);
  assert.equal(s.app.hub!.isLive('whipper'), false);
  assert.equal(s.app.whip!.sessionCount(), 0);
  // The publisher's DELETE after the kick finds its session already ended: 204 once, then gone.
  assert.equal((await fetch(base + again.location!, { method: 'DELETE' })).status, 204);
  assert.equal((await fetch(base + again.location!, { method: 'DELETE' })).status, 404);

  // The publisher goes away without DELETE (tab closed): the channel goes offline on its own.
  const third = await page.evaluate(WHIP_PUBLISH, { url: '/whip', key, width: WIDTH, height: HEIGHT, codec: 'video/h264' });
  assert.equal(third.status, 201, String((third as { body?: string }).body));
  await waitFor('live a third time', async () => s.app.hub!.isLive('whipper'), 30_000, 100);
  const closedAt = Date.now();
  await page.evaluate((i) => (window as any).pcs[i].close(), third.index!);
  await waitFor('offline after the publisher left', async () => !s.app.hub!.isLive('whipper'), 10_000, 50);
  const goneMs = Date.now() - closedAt;
  assert.equal(s.app.whip!.sessionCount(), 0);
  assert.equal(await metric(s, 'onair_whip_sessions'), 0);

  console.log(`WHIP: HTTP-FLV live edge: last video ${vt.at(-1)} s, last audio ${at.at(-1)} s (${vt.length} video / ${at.length} audio packets in 3 s)`);
  console.log(`WHIP: publisher gone → offline in ${goneMs} ms; offer→live ${liveMs} ms; ${stats.units} access units, ${stats.lost} packets lost, ${stats.keyframeRequests} keyframe requests; ${plis} PLIs sent, publisher saw ${sent.pliCount} PLIs and encoded ${sent.keyFramesEncoded} keyframes`);
});
