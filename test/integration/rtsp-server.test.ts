/**
 * RTSP in the whole server (media.rtsp.port 0 here) with real clients: ffmpeg publishes the demo
 * channel over RTSP (TCP interleaved) and HTTP-FLV shows it; ffmpeg/ffprobe play an RTMP-published
 * channel over RTSP; wrong key, UDP transport and garbage are refused while a publisher goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';
import { RtspParser, serializeRequest, type RtspMessage, type RtspResponse } from '../../src/formats/rtsp-message.js';

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number ?? 1) : 0, stdout, stderr });
    });
  });
}

function publishRtsp(port: number, key: string, seconds: number): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    // High profile with B-frames (x264's default B-pyramid): decode times must be rebuilt from RTP's presentation times.
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p', '-b:v', '1500k', '-c:a', 'aac', '-b:a', '96k',
    '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${port}/live/${key}`], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function publishRtmp(port: number, key: string, seconds: number): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${key}`], { stdio: 'ignore' });
}

/** RtspClient sends raw requests and reads responses (and counts interleaved frames). */
class RtspClient {
  readonly socket: net.Socket;
  private readonly responses: RtspResponse[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  frames = 0;
  private cseq = 0;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    const parser = new RtspParser({ onMessage: (m: RtspMessage) => {
      if (m.kind === 'response') this.responses.push(m);
      else if (m.kind === 'interleaved') this.frames++;
      this.wake();
    } });
    this.socket.on('data', (d) => { try { parser.push(d); } catch { /* ignore */ } });
    this.socket.on('close', () => { this.closed = true; this.wake(); });
    this.socket.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async next(timeoutMs = 5000): Promise<RtspResponse> {
    const end = Date.now() + timeoutMs;
    while (this.responses.length === 0) {
      if (this.closed || Date.now() > end) throw new Error('no response');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
    return this.responses.shift()!;
  }

  async request(method: string, uri: string, headers: Record<string, string> = {}, body = ''): Promise<RtspResponse> {
    this.socket.write(serializeRequest(method, uri, { CSeq: ++this.cseq, ...headers }, body));
    return this.next();
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await until(() => this.closed, timeoutMs, 'connection closed');
  }

  close(): void {
    this.socket.destroy();
  }
}

const SDP = [
  'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=test', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1', 'a=control:streamid=0',
  'm=audio 0 RTP/AVP 97', 'a=rtpmap:97 MPEG4-GENERIC/44100/2', 'a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=1210', 'a=control:streamid=1',
  '',
].join('\r\n');

function kill(p: ChildProcess | undefined): void {
  if (p && p.exitCode === null && p.pid) p.kill('SIGKILL');
}

async function liveChannel(s: TestServer, name: string): Promise<{ protocol: string }> {
  return until(() => s.app.media!.stats().find((c) => c.channel === name)?.publisher, 20_000, `${name} live`);
}

test('ffmpeg publishes over RTSP (TCP): the channel is live, HTTP-FLV has h264 320x240 + aac and decodes cleanly; refusals meanwhile', async () => {
  const s = await startTestServer();
  const port = s.ports.rtsp!;
  assert.ok(port > 0, 'RTSP listens on a picked port');
  const key = s.demoStreamKey ?? s.secrets.demoStreamKey!;
  let ff: ChildProcess | undefined;
  const clients: RtspClient[] = [];
  try {
    const t0 = Date.now();
    ff = publishRtsp(port, key, 20);
    let ffErr = '';
    ff.stderr!.on('data', (d) => (ffErr += d));
    const pub = await liveChannel(s, 'demo');
    const liveMs = Date.now() - t0;
    assert.equal(pub.protocol, 'rtsp');
    // Live means frames: wait until video frames flow.
    await until(() => (s.app.media!.stats()[0]?.video?.width ?? 0) > 0, 10_000, 'video track');
    console.log(`# RTSP publish start → live in hub: ${liveMs} ms`);

    const flv = `http://127.0.0.1:${s.httpPort}/live/demo.flv`;
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', flv], 20_000);
    const streams = (JSON.parse(probe.stdout).streams as { codec_name: string; width?: number; height?: number }[]);
    assert.deepEqual(streams.map((x) => x.codec_name).sort(), ['aac', 'h264']);
    const v = streams.find((x) => x.codec_name === 'h264')!;
    assert.equal(v.width, 320);
    assert.equal(v.height, 240);

    // The RTSP publish played back over RTSP.
    const back = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name,width', '-of', 'json', `rtsp://127.0.0.1:${port}/live/demo`], 20_000);
    assert.deepEqual((JSON.parse(back.stdout).streams as { codec_name: string }[]).map((x) => x.codec_name).sort(), ['aac', 'h264']);

    // Refusals while the publisher goes on.
    const bytesIn = async () => (await s.app.rtsp!.metrics.bytesIn.get()).values[0]?.value ?? 0;
    const wrong = new RtspClient(port);
    clients.push(wrong);
    const r1 = await wrong.request('ANNOUNCE', `rtsp://127.0.0.1:${port}/live/not-a-key`, { 'Content-Type': 'application/sdp' }, SDP);
    assert.equal(r1.status, 403);
    assert.match(r1.reason, /invalid stream key/);
    // AAC in LATM with in-band configuration cannot be read: alone it is 415 naming why; beside H.264 it is
    // dropped (the publish would go on video-only) and the request reaches the key check.
    const latmInBand = ['m=audio 0 RTP/AVP 98', 'a=rtpmap:98 MP4A-LATM/44100/2', 'a=fmtp:98 cpresent=1', 'a=control:streamid=1', ''];
    const latmOnly = await wrong.request('ANNOUNCE', `rtsp://127.0.0.1:${port}/live/not-a-key`, { 'Content-Type': 'application/sdp' }, [...SDP.split('\r\n').slice(0, 5), ...latmInBand].join('\r\n'));
    assert.equal(latmOnly.status, 415);
    assert.match(latmOnly.reason, /MP4A-LATM with cpresent=1/);
    const videoAndLatm = await wrong.request('ANNOUNCE', `rtsp://127.0.0.1:${port}/live/not-a-key`, { 'Content-Type': 'application/sdp' }, [...SDP.split('\r\n').slice(0, 9), ...latmInBand].join('\r\n'));
    assert.equal(videoAndLatm.status, 403);
    const busy = await wrong.request('ANNOUNCE', `rtsp://127.0.0.1:${port}/live/${key}`, { 'Content-Type': 'application/sdp' }, SDP);
    assert.equal(busy.status, 409);
    assert.match(busy.reason, /already publishing/);
    const udp = new RtspClient(port);
    clients.push(udp);
    const d = await udp.request('DESCRIBE', `rtsp://127.0.0.1:${port}/live/demo`, { Accept: 'application/sdp' });
    assert.equal(d.status, 200);
    // Unicast UDP is offered (interop-ingest.test.ts plays and publishes over it); multicast is not.
    const r2 = await udp.request('SETUP', `rtsp://127.0.0.1:${port}/live/demo/trackID=0`, { Transport: 'RTP/AVP;multicast;client_port=5000-5001' });
    assert.equal(r2.status, 461);
    assert.match(r2.reason, /unicast UDP with client_port; no multicast/);
    const unknown = await udp.request('FROBNICATE', `rtsp://127.0.0.1:${port}/live/demo`);
    assert.equal(unknown.status, 501);
    const garbage = new RtspClient(port);
    clients.push(garbage);
    garbage.socket.write('\x16\x03\x01 this is not rtsp at all\r\n\r\n');
    const g = await garbage.next();
    assert.equal(g.status, 400);
    await garbage.waitClosed();
    const bytesAt = await bytesIn();
    await until(async () => (await bytesIn()) > bytesAt + 50_000, 10_000, `publisher still sending (${bytesAt} bytes in; ffmpeg: ${ffErr.slice(0, 300)})`);
    assert.ok(s.app.media!.hub.isLive('demo'), 'the publisher was not disturbed');

    // A clean decode of a few seconds of what went through the hub.
    const dec = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', flv, '-t', '3', '-f', 'null', '-'], 30_000);
    assert.equal(dec.stderr.trim(), '', `decode errors: ${dec.stderr.slice(0, 500)}`);
    const metrics = (await s.api('GET', '/metrics')).body as string;
    assert.match(metrics, /onair_rtsp_sessions\{kind="publish"\} 1/);
    assert.match(metrics, /onair_rtsp_refused_total\{reason="key"\} 2/);
    assert.match(metrics, /onair_rtsp_refused_total\{reason="transport"\} 1/);
    assert.match(metrics, /onair_rtsp_refused_total\{reason="bad_request"\} 1/);
    const code = await new Promise<number | null>((r) => (ff!.exitCode !== null ? r(ff!.exitCode) : ff!.once('exit', r)));
    assert.equal(code, 0, `ffmpeg failed: ${ffErr}`);
    await until(() => !s.app.media!.hub.isLive('demo'), 10_000, 'offline after TEARDOWN');
  } finally {
    kill(ff);
    for (const c of clients) c.close();
    await s.close();
  }
});

test('ffmpeg plays an RTMP-published channel over RTSP (TCP): h264 + aac, clean decode, timestamps advance', async () => {
  const s = await startTestServer();
  const port = s.ports.rtsp!;
  const key = s.demoStreamKey ?? s.secrets.demoStreamKey!;
  let ff: ChildProcess | undefined;
  try {
    ff = publishRtmp(s.rtmpPort!, key, 20);
    await liveChannel(s, 'demo');
    await until(() => s.app.media!.stats()[0]?.audio && s.app.media!.stats()[0]?.video, 10_000, 'tracks');
    const url = `rtsp://127.0.0.1:${port}/live/demo`;
    const probe = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name,width,height,sample_rate', '-of', 'json', url], 20_000);
    const streams = JSON.parse(probe.stdout).streams as { codec_name: string; width?: number }[];
    assert.deepEqual(streams.map((x) => x.codec_name).sort(), ['aac', 'h264']);
    assert.equal(streams.find((x) => x.codec_name === 'h264')!.width, 320);
    const dec = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-t', '3', '-f', 'null', '-'], 30_000);
    assert.equal(dec.stderr.trim(), '', `decode errors: ${dec.stderr.slice(0, 500)}`);
    const pk = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-read_intervals', '%+#100', '-select_streams', 'v', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', url], 30_000);
    const pts = pk.stdout.split('\n').map((l) => l.split(',')[0]!.trim()).filter((l) => /^\d/.test(l)).map(Number);
    assert.ok(pts.length > 30, `${pts.length} video packets`);
    assert.ok(pts[pts.length - 1]! - pts[0]! > 1.5, `timestamps advance: ${pts[0]} → ${pts[pts.length - 1]}`);
    const metrics = (await s.api('GET', '/metrics')).body as string;
    assert.match(metrics, /onair_rtsp_sent_bytes_total [1-9]\d*/);
  } finally {
    kill(ff);
    await s.close();
  }
});

test('a silent session is closed after media.rtsp.sessionTimeoutSeconds; a held port leaves the server up without RTSP; stop frees the port', async () => {
  const s = await startTestServer({ 'media.rtsp.sessionTimeoutSeconds': 5 });
  const port = s.ports.rtsp!;
  const key = s.demoStreamKey ?? s.secrets.demoStreamKey!;
  const c = new RtspClient(port);
  try {
    const a = await c.request('ANNOUNCE', `rtsp://127.0.0.1:${port}/live/${key}`, { 'Content-Type': 'application/sdp' }, SDP);
    assert.equal(a.status, 200);
    const st = await c.request('SETUP', `rtsp://127.0.0.1:${port}/live/${key}/streamid=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record' });
    assert.equal(st.status, 200);
    assert.match(st.headers['session']!, /^[0-9a-f]{16};timeout=5$/);
    assert.equal(st.headers['transport'], 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record');
    // RECORD before every track is set up is fine; an interleaved frame on a channel nobody set up is ignored.
    const rec = await c.request('RECORD', `rtsp://127.0.0.1:${port}/live/${key}`, { Session: st.headers['session']!.split(';')[0]! });
    assert.equal(rec.status, 200);
    c.socket.write(Buffer.from('2409000401020304', 'hex'));
    assert.ok(s.app.media!.hub.isLive('demo'));
    const t0 = Date.now();
    await c.waitClosed(12_000);
    const after = Date.now() - t0;
    assert.ok(after >= 4000, `closed after ${after} ms`);
    await until(() => !s.app.media!.hub.isLive('demo'), 5000, 'offline after the timeout');
    const metrics = (await s.api('GET', '/metrics')).body as string;
    assert.match(metrics, /onair_rtsp_sessions_ended_total\{kind="publish",reason="timeout"\} 1/);
  } finally {
    c.close();
    await s.close();
  }
  // The listener is closed: the port can be bound again — and held, it leaves a new server without RTSP.
  const holder = net.createServer();
  await new Promise<void>((res, rej) => { holder.once('error', rej); holder.listen(port, '127.0.0.1', () => res()); });
  const s2 = await startTestServer({ 'media.rtsp.port': port });
  try {
    assert.equal(s2.ports.rtsp, undefined);
    assert.equal((await s2.api('GET', '/api/v1/channels/demo')).status, 200);
  } finally {
    await s2.close();
    holder.close();
  }
});
