/**
 * Connection limits on every listener of the whole server (issue 19 #7): with limits.<listener>.perIp
 * set to 2 and no exemption, a third connection from 127.0.0.1 is refused the listener's way
 * (RTMP: closed before the handshake, RTSP: 503, chat WebSocket and HTTP streams, HTTP-FLV,
 * WS-FLV: 429 before the upgrade or stream, Pusher: close 4100), while 127.0.0.2 (Linux routes
 * all of 127.0.0.0/8 to lo) still gets in; every refusal is in onair_connections_refused_total.
 * SRT's cap is tested with a hand-driven caller (test/unit/media/srt/server.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { clientHello } from '../../src/media/rtmp/handshake.js';
import tls from 'node:tls';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { makeCerts, type TestCerts } from '../../testkit/tls-certs.js';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';

const PER_IP = 2;
const OTHER = '127.0.0.2';
let s: TestServer;
let certs: TestCerts;
/** The on-publish callback: answered at once, unless a test holds its answers. */
let holdPublish = false;
const heldAnswers: http.ServerResponse[] = [];
const hook = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (holdPublish) heldAnswers.push(res);
    else res.writeHead(204).end();
  });
});

before(async () => {
  certs = await makeCerts();
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  s = await startTestServer({
    'media.onPublishUrl': `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/hook`,
    'limits.whip.perIp': PER_IP, 'limits.whep.perIp': PER_IP,
    'media.rtmps.enabled': true, 'media.rtmps.port': 0, 'media.rtmps.certFile': join(certs.dir, 'server.pem'), 'media.rtmps.keyFile': join(certs.dir, 'server.key'),
    'limits.rtmps.perIp': PER_IP,
    'limits.rtmp.perIp': PER_IP, 'limits.rtsp.perIp': PER_IP, 'limits.chatWs.perIp': PER_IP, 'limits.chatHttp.perIp': PER_IP,
    'limits.pusher.perIp': PER_IP, 'limits.flv.perIp': PER_IP,
  });
});
after(async () => {
  for (const r of heldAnswers.splice(0)) r.writeHead(403).end();
  await s?.close();
  certs?.remove();
  hook.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** rtmpHello connects from localAddress, sends C0C1 and resolves whether S0S1 came back (false: closed first). */
function rtmpHello(port: number, localAddress = '127.0.0.1'): Promise<{ answered: boolean; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(clientHello().c0c1));
    let got = 0;
    socket.on('data', (d) => {
      got += d.length;
      if (got >= 1 + 1536) resolve({ answered: true, socket });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ answered: got > 0, socket }));
  });
}

/** rtspOptions connects from localAddress, sends OPTIONS and resolves the status line of the first answer. */
function rtspOptions(port: number, localAddress = '127.0.0.1'): Promise<{ status: string; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(`OPTIONS rtsp://127.0.0.1:${port}/live/demo RTSP/1.0\r\nCSeq: 1\r\n\r\n`));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const eol = text.indexOf('\r\n');
      if (eol >= 0) resolve({ status: text.slice(0, eol), socket });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ status: text || 'closed', socket }));
  });
}

/**
 * openWs connects from localAddress; `hello` (if any) is sent on open and the connection counts as
 * in once a message matching `welcome` arrives. Resolves 'open', the refused upgrade's HTTP status,
 * or `close CODE`.
 */
function openWs(url: string, localAddress: string, hello: string | null, welcome: RegExp): Promise<{ result: string; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress });
    ws.on('open', () => {
      if (hello !== null) ws.send(hello);
    });
    ws.on('message', (d) => {
      if (welcome.test(d.toString())) resolve({ result: 'open', ws });
    });
    ws.on('unexpected-response', (_req, res) => resolve({ result: String(res.statusCode), ws }));
    ws.on('close', (code) => resolve({ result: `close ${code}`, ws }));
    ws.on('error', () => undefined);
  });
}

/** httpStream GETs/POSTs from localAddress and resolves the status once the head arrives (the body stays open). */
function httpStream(path: string, localAddress = '127.0.0.1', method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Promise<string>; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.httpPort, path, method, localAddress, headers }, (res) => {
      let text = '';
      const done = new Promise<string>((r) => {
        res.on('data', (d) => (text += d.toString()));
        res.on('end', () => r(text));
        res.on('close', () => r(text));
      });
      resolve({ status: res.statusCode ?? 0, body: done, req });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function refusedCount(listener: string, reason = 'per_ip'): Promise<number> {
  const metrics = String((await s.api('GET', '/metrics')).body);
  const m = new RegExp(`onair_connections_refused_total\\{listener="${listener}",reason="${reason}"\\} (\\d+)`).exec(metrics);
  return m ? Number(m[1]) : 0;
}

test('RTMP: the third connection from one address is closed before the handshake; another address still connects; ffmpeg is refused too', async () => {
  const port = s.rtmpPort!;
  const held = [await rtmpHello(port), await rtmpHello(port)];
  try {
    assert.deepEqual(held.map((h) => h.answered), [true, true]);
    const third = await rtmpHello(port);
    assert.equal(third.answered, false, 'closed without S0S1');
    const other = await rtmpHello(port, OTHER);
    assert.equal(other.answered, true, '127.0.0.2 is another address');
    other.socket.destroy();
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${s.demoStreamKey}`], { stdio: 'ignore' });
    const code = await new Promise<number | null>((r) => ff.once('exit', r));
    assert.notEqual(code, 0, 'ffmpeg cannot publish from an address at its cap');
    assert.ok((await refusedCount('rtmp')) >= 2);
  } finally {
    for (const h of held) h.socket.destroy();
  }
  // Released on close: the address gets in again.
  await sleep(100);
  const again = await rtmpHello(port);
  assert.equal(again.answered, true);
  again.socket.destroy();
});

/** tlsHello resolves whether the TLS handshake with the RTMPS port finished (false: closed first). */
function tlsHello(port: number, localAddress = '127.0.0.1'): Promise<{ secure: boolean; socket: tls.TLSSocket }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', localAddress, ca: certs.caPem, servername: 'localhost' }, () => resolve({ secure: true, socket }));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ secure: false, socket }));
  });
}

test('RTMPS: the third TCP connection from one address is closed before TLS; another address completes TLS', async () => {
  const port = s.ports.rtmps!;
  const held = [await tlsHello(port), await tlsHello(port)];
  try {
    assert.deepEqual(held.map((h) => h.secure), [true, true]);
    const failures = s.app.media!.rtmps!.counts.handshakeFailures;
    const failed = () => failures.timeout + failures.not_tls + failures.tls;
    const before = failed();
    assert.equal((await tlsHello(port)).secure, false);
    await sleep(50);
    assert.equal(failed(), before, 'a refusal is not counted as a failed handshake');
    const other = await tlsHello(port, OTHER);
    assert.equal(other.secure, true);
    other.socket.destroy();
    assert.equal(await refusedCount('rtmps'), 1);

  } finally {
    for (const h of held) h.socket.destroy();
  }
});

test('RTSP: the third connection from one address gets 503; another address gets 200', async () => {
  const port = s.ports.rtsp!;
  const held = [await rtspOptions(port), await rtspOptions(port)];
  try {
    assert.deepEqual(held.map((h) => h.status), ['RTSP/1.0 200 OK', 'RTSP/1.0 200 OK']);
    const third = await rtspOptions(port);
    assert.match(third.status, /^RTSP\/1\.0 503 /);
    third.socket.destroy();
    const other = await rtspOptions(port, OTHER);
    assert.equal(other.status, 'RTSP/1.0 200 OK');
    other.socket.destroy();
    assert.equal(await refusedCount('rtsp'), 1);
  } finally {
    for (const h of held) h.socket.destroy();
  }
});

test('chat WebSocket: the third upgrade from one address is answered 429; another address connects', async () => {
  const url = `ws://127.0.0.1:${s.httpPort}/connection/websocket`;
  const centrifugo = (addr: string) => openWs(url, addr, '{"id":1,"connect":{}}', /"connect"/);
  const held = [await centrifugo('127.0.0.1'), await centrifugo('127.0.0.1')];
  try {
    assert.deepEqual(held.map((h) => h.result), ['open', 'open']);
    assert.equal((await centrifugo('127.0.0.1')).result, '429');
    const other = await centrifugo(OTHER);
    assert.equal(other.result, 'open');
    other.ws.close();
    assert.equal(await refusedCount('chatWs'), 1);
  } finally {
    for (const h of held) h.ws.close();
  }
});

test('chat HTTP streams (SSE): the third stream from one address is answered 429; another address connects', async () => {
  const path = `/connection/uni_sse?cf_connect=${encodeURIComponent('{}')}`;
  const held = [await httpStream(path), await httpStream(path)];
  try {
    assert.deepEqual(held.map((h) => h.status), [200, 200]);
    const third = await httpStream(path);
    assert.equal(third.status, 429);
    assert.equal(JSON.parse(await third.body).error.code, 'too_many_connections');
    // The bidirectional SSE transport shares the cap with the unidirectional streams.
    const bidi = await httpStream(`/connection/sse?cf_connect=${encodeURIComponent('{"id":1,"connect":{}}')}`);
    assert.equal(bidi.status, 429);
    const other = await httpStream(path, OTHER);
    assert.equal(other.status, 200);
    other.req.destroy();
    assert.equal(await refusedCount('chatHttp'), 2);
  } finally {
    for (const h of held) h.req.destroy();
  }
});

test('Pusher WebSocket: the third connection from one address is closed with 4100; another address connects', async () => {
  const url = `ws://127.0.0.1:${s.httpPort}/app/${s.secrets.pusherKey}?protocol=7`;
  const pusher = (addr: string) => openWs(url, addr, null, /pusher:connection_established/);
  const held = [await pusher('127.0.0.1'), await pusher('127.0.0.1')];
  try {
    assert.deepEqual(held.map((h) => h.result), ['open', 'open']);
    assert.equal((await pusher('127.0.0.1')).result, 'close 4100');
    const other = await pusher(OTHER);
    assert.equal(other.result, 'open');
    other.ws.close();
    assert.equal(await refusedCount('pusher'), 1);
  } finally {
    for (const h of held) h.ws.close();
  }
});

test('HTTP-FLV and WS-FLV share one cap: the third viewer from one address gets 429; another address watches', async () => {
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${s.demoStreamKey}`], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 150 && !s.app.media!.hub.isLive('demo'); i++) await sleep(100);
    assert.ok(s.app.media!.hub.isLive('demo'), 'demo is live');
    const first = await httpStream('/live/demo.flv');
    const ws = await openWs(`ws://127.0.0.1:${s.httpPort}/live/demo.flv`, '127.0.0.1', null, /[\s\S]/);
    try {
      assert.equal(first.status, 200);
      assert.equal(ws.result, 'open');
      const third = await httpStream('/live/demo.flv');
      assert.equal(third.status, 429);
      const thirdWs = await openWs(`ws://127.0.0.1:${s.httpPort}/live/demo.flv`, '127.0.0.1', null, /[\s\S]/);
      assert.equal(thirdWs.result, '429');
      const other = await httpStream('/live/demo.flv', OTHER);
      assert.equal(other.status, 200);
      other.req.destroy();
      assert.equal(await refusedCount('flv'), 2);
    } finally {
      first.req.destroy();
      ws.ws.close();
    }
  } finally {
    ff.kill('SIGKILL');
  }
});

test('WHIP: while two publish checks from one address are running, a third offer gets 429; another address is checked', async () => {
  // The previous test's publisher may still be going away.
  for (let i = 0; i < 100 && s.app.media!.hub.isLive('demo'); i++) await sleep(50);
  holdPublish = true;
  const offer = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=sendonly', 'a=rtpmap:96 H264/90000', ''].join('\r\n');
  const headers = { 'content-type': 'application/sdp', authorization: `Bearer ${s.demoStreamKey}` };
  const post = (addr: string) => httpStream('/whip', addr, 'POST', offer, headers);
  try {
    const held = [post('127.0.0.1'), post('127.0.0.1')];
    for (let i = 0; i < 50 && heldAnswers.length < 2; i++) await sleep(20);
    assert.equal(heldAnswers.length, 2, 'two publish checks are running');
    const third = await post('127.0.0.1');
    assert.equal(third.status, 429);
    assert.equal(JSON.parse(await third.body).error.code, 'too_many_connections');
    const other = post(OTHER);
    for (let i = 0; i < 50 && heldAnswers.length < 3; i++) await sleep(20);
    assert.equal(heldAnswers.length, 3, '127.0.0.2 reached the publish check');
    for (const r of heldAnswers.splice(0)) r.writeHead(403).end();
    assert.deepEqual((await Promise.all([...held, other])).map((r) => r.status), [403, 403, 403]);
    assert.equal(await refusedCount('whip'), 1);
    // The refused checks gave their slots back.
    holdPublish = false;
    assert.equal((await post('127.0.0.1')).status, 400, 'the offer is looked at again (no H.264 profile here)');
  } finally {
    holdPublish = false;
    for (const r of heldAnswers.splice(0)) r.writeHead(403).end();
  }
});

test('WHEP: the third viewer session from one address gets 429; another address gets an answer', async () => {
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-g', '10', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${s.demoStreamKey}`], { stdio: 'ignore' });
  const pc = new RTCPeerConnection({
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90_000, payloadType: 102, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' })] },
  });
  try {
    for (let i = 0; i < 150 && !s.app.media!.hub.isLive('demo'); i++) await sleep(100);
    assert.ok(s.app.media!.hub.isLive('demo'), 'demo is live');
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((r) => { if (pc.iceGatheringState === 'complete') r(); else pc.iceGatheringStateChange.subscribe((st) => { if (st === 'complete') r(); }); });
    const offer = pc.localDescription!.sdp;
    const post = (addr: string) => httpStream('/live/demo/whep', addr, 'POST', offer, { 'content-type': 'application/sdp' });
    const first = await post('127.0.0.1');
    const second = await post('127.0.0.1');
    assert.deepEqual([first.status, second.status], [201, 201], await first.body);
    const third = await post('127.0.0.1');
    assert.equal(third.status, 429);
    assert.equal(JSON.parse(await third.body).error.code, 'too_many_connections');
    const other = await post(OTHER);
    assert.equal(other.status, 201);
    assert.equal(await refusedCount('whep'), 1);
  } finally {
    await pc.close();
    ff.kill('SIGKILL');
  }
});
