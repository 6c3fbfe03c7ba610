// The whole platform in one process: REST-created channel, ffmpeg publishing with its key,
// viewers over HTTP-FLV and LL-HLS, live status in the API, and stream events in chat
// received by the official centrifuge SDK with a token from /api/v1/chat/token.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';

const execFileP = promisify(execFile);

function publish(url: string): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-c:a', 'aac', '-f', 'flv', url], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('live platform end to end', () => {
  let s: TestServer;
  let token: string;
  let streamKey: string;
  let ffmpeg: ChildProcess | undefined;
  let client: Centrifuge | undefined;
  const events: any[] = [];

  before(async () => {
    s = await startTestServer();
    token = (await s.api('POST', '/api/v1/auth/register', { username: 'streamer', password: 'hunter2hunter2', displayName: '스트리머' })).body.token;
    const c = await s.api('POST', '/api/v1/channels', { name: 'live1', title: '라이브' }, token);
    assert.equal(c.status, 201);
    streamKey = c.body.streamKey;
  });
  after(async () => {
    ffmpeg?.kill('SIGKILL');
    client?.disconnect();
    await s?.close();
  });

  test('a logged-in user gets a chat token with name and roles; the SDK subscribes to events', async () => {
    const t = await s.api('POST', '/api/v1/chat/token', undefined, token);
    assert.equal(t.status, 200);
    const claims = JSON.parse(Buffer.from(t.body.token.split('.')[1], 'base64url').toString());
    assert.equal(claims.info.name, '스트리머');
    assert.deepEqual(claims.info.roles, { live1: ['owner'] });
    client = new Centrifuge(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, { websocket: WebSocket, token: t.body.token });
    const sub = client.newSubscription('events:live1');
    sub.on('publication', (ctx) => events.push(ctx.data));
    const subscribed = new Promise((r) => sub.once('subscribed', r));
    sub.subscribe();
    client.connect();
    await subscribed;
  });

  test('ffmpeg publishes with the channel key; HTTP-FLV and LL-HLS play; the API shows it live', async () => {
    ffmpeg = publish(`rtmp://127.0.0.1:${s.rtmpPort}/live/${streamKey}`);
    await until(async () => (await s.api('GET', '/api/v1/channels/live1')).body.channel.stream.live, 15_000, 'channel live');
    await until(() => events.find((e) => e.type === 'live'), 5000, 'live event in chat');
    const flv = await execFileP('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', `http://127.0.0.1:${s.httpPort}/live/live1.flv`], { timeout: 20_000 });
    const flvStreams = JSON.parse(flv.stdout).streams;
    assert.deepEqual(flvStreams.map((x: any) => x.codec_name).sort(), ['aac', 'h264']);
    assert.equal(flvStreams.find((x: any) => x.codec_name === 'h264').width, 640);
    // LL-HLS lists the channel at once, but ffprobe wants a first complete segment to read.
    await until(async () => /#EXTINF/.test(await (await fetch(`http://127.0.0.1:${s.httpPort}/live/live1/source/playlist.m3u8`)).text()), 15_000, 'first LL-HLS segment');
    const hls = await execFileP('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,height', '-of', 'json', `http://127.0.0.1:${s.httpPort}/live/live1/index.m3u8`], { timeout: 30_000 });
    const hlsStreams = JSON.parse(hls.stdout).streams;
    assert.ok(hlsStreams.some((x: any) => x.codec_name === 'h264' && x.height === 360), hls.stdout);
    assert.ok(hlsStreams.some((x: any) => x.codec_name === 'aac'), hls.stdout);
    const ch = (await s.api('GET', '/api/v1/channels/live1')).body.channel;
    assert.equal(ch.stream.video.width, 640);
    assert.equal(ch.stream.bitrateIn, undefined, 'bitrates are for the owner (GET .../live)');
    assert.ok((await s.api('GET', '/api/v1/channels/live1/live', undefined, token)).body.bitrateIn > 0);
    const list = await s.api('GET', '/api/v1/channels?live=true');
    assert.deepEqual(list.body.channels.map((c: any) => c.name), ['live1']);
    const metrics = (await s.api('GET', '/metrics')).body as string;
    assert.match(metrics, /onair_media_streams_live 1/);
  });

  test('a rotated key stops working at once for new publishes; the live stream is undisturbed', async () => {
    const rot = await s.api('POST', '/api/v1/channels/live1/stream-key/rotate', undefined, token);
    assert.equal(rot.status, 200);
    const second = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${streamKey}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    second.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => second.on('exit', r));
    assert.notEqual(code, 0, 'old key refused');
    assert.ok((await s.api('GET', '/api/v1/channels/live1')).body.channel.stream.live, 'still live');
  });

  test('publisher loss: the channel goes offline and chat hears it', async () => {
    ffmpeg!.kill('SIGKILL');
    await until(async () => !(await s.api('GET', '/api/v1/channels/live1')).body.channel.stream.live, 15_000, 'offline');
    await until(() => events.find((e) => e.type === 'offline'), 5000, 'offline event');
    const flv = await fetch(`http://127.0.0.1:${s.httpPort}/live/live1.flv`);
    assert.equal(flv.status, 404);
    await flv.arrayBuffer();
  });
});
