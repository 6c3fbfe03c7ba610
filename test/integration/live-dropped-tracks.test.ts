// Dropped tracks (issue 19 #1): a track an ingest receives but does not forward is named in the
// owner's GET /api/v1/channels/{name}/live, never in the public channel answers. Real ffmpeg
// publishers: RTMP with PCM audio (an FLV sound format the hub does not model), SRT with a
// second, MP2 audio stream next to the AAC one, RTSP ANNOUNCE with PCMU audio, and headless
// Chromium publishing WHIP with a second, VP8 video section next to the H.264 one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';
import { launchBrowser } from '../e2e/helpers/web.js';
import { installWebrtcPage } from '../e2e/helpers/webrtc-page.js';

const SOURCES = ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '30'];
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p'];

function ffmpeg(args: string[]): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...SOURCES, ...args], { stdio: 'ignore' });
}

async function owned(s: TestServer, name: string): Promise<{ token: string; key: string }> {
  const token = (await s.api('POST', '/api/v1/auth/register', { username: `${name}owner`, password: 'correct-horse-9' })).body.token;
  const c = await s.api('POST', '/api/v1/channels', { name }, token);
  assert.equal(c.status, 201);
  return { token, key: c.body.streamKey };
}

async function assertDropped(s: TestServer, name: string, token: string, expected: unknown[]): Promise<void> {
  const live = await until(async () => {
    const d = (await s.api('GET', `/api/v1/channels/${name}/live`, undefined, token)).body;
    return d.live && d.droppedTracks.length > 0 && d;
  }, 20_000, `${name} live with a dropped track`);
  assert.deepEqual(live.droppedTracks, expected);
  for (const token of [undefined, (await s.api('POST', '/api/v1/auth/register', { username: `${name}viewer`, password: 'correct-horse-9' })).body.token]) {
    const one = await s.api('GET', `/api/v1/channels/${name}`, undefined, token);
    const list = await s.api('GET', '/api/v1/channels?live=true', undefined, token);
    assert.equal(one.body.channel.stream.live, true);
    assert.doesNotMatch(JSON.stringify(one.body) + JSON.stringify(list.body), /droppedTracks|unsupported_codec|extra_track/);
  }
}

test('RTMP with PCM audio: the owner sees the audio track dropped, the public answer does not', { timeout: 60_000 }, async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const { token, key } = await owned(s, 'pcmshow');
  const ff = ffmpeg([...H264, '-c:a', 'pcm_s16le', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${key}`]);
  t.after(() => { if (ff.exitCode === null) ff.kill('SIGKILL'); });
  await assertDropped(s, 'pcmshow', token, [{ kind: 'audio', codec: 'pcm_le', reason: 'unsupported_codec' }]);
  const live = (await s.api('GET', '/api/v1/channels/pcmshow/live', undefined, token)).body;
  assert.equal(live.video.codec, 'avc');
  assert.equal(live.audio, undefined, 'the PCM audio is not forwarded');
});

test('SRT with a second, MP2 audio stream: the owner sees it dropped, the AAC audio is forwarded', { timeout: 60_000 }, async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const { token, key } = await owned(s, 'mp2show');
  const ff = ffmpeg(['-map', '0:v', '-map', '1:a', '-map', '1:a', ...H264, '-c:a:0', 'aac', '-c:a:1', 'mp2',
    '-f', 'mpegts', `srt://127.0.0.1:${s.ports.srt}?streamid=publish:${key}&latency=120000`]);
  t.after(() => { if (ff.exitCode === null) ff.kill('SIGKILL'); });
  await assertDropped(s, 'mp2show', token, [{ kind: 'audio', codec: 'mp2', reason: 'unsupported_codec' }]);
  assert.equal((await s.api('GET', '/api/v1/channels/mp2show/live', undefined, token)).body.audio.codec, 'aac');
});

test('RTSP publish with PCMU audio: the owner sees the audio media dropped', { timeout: 60_000 }, async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const { token, key } = await owned(s, 'pcmushow');
  const ff = ffmpeg([...H264, '-c:a', 'pcm_mulaw', '-ar', '8000', '-ac', '1',
    '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${s.ports.rtsp}/live/${key}`]);
  t.after(() => { if (ff.exitCode === null) ff.kill('SIGKILL'); });
  await assertDropped(s, 'pcmushow', token, [{ kind: 'audio', codec: 'pcmu', reason: 'unsupported_codec' }]);
});

test('WHIP with a second, VP8 video section: the owner sees it dropped, the H.264 video is forwarded', { timeout: 90_000 }, async (t) => {
  const s = await startTestServer({ 'record.enabled': false, 'hls.enabled': false });
  t.after(() => s.close());
  const { token, key } = await owned(s, 'vp8show');
  const browser = await launchBrowser();
  t.after(() => browser.close().catch(() => undefined));
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${s.httpPort}/healthz`);
  await installWebrtcPage(page);
  const r = await page.evaluate(async ({ key }) => {
    const w = window as any;
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 180;
    document.body.appendChild(canvas);
    const ctx = canvas.getContext('2d')!;
    let i = 0;
    setInterval(() => {
      i++;
      ctx.fillStyle = `hsl(${(i * 9) % 360}, 60%, 40%)`;
      ctx.fillRect(0, 0, 320, 180);
    }, 40);
    const stream = canvas.captureStream(25);
    const res = await w.rtcTest.whipPublish(stream.getVideoTracks()[0], key, { extraVideo: { track: stream.getVideoTracks()[0].clone(), codec: 'video/vp8' } });
    w.pc = res.pc;
    return { status: res.status as number, body: res.body as string };
  }, { key });
  assert.equal(r.status, 201, r.body);
  await assertDropped(s, 'vp8show', token, [{ kind: 'video', codec: 'vp8', reason: 'unsupported_codec' }]);
  assert.equal((await s.api('GET', '/api/v1/channels/vp8show/live', undefined, token)).body.video.codec, 'avc');
});
