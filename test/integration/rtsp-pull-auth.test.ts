/**
 * RtspClient against a small scripted RTSP server in the test (a net.Server): Digest (qop=auth
 * with opaque, no-qop, stale nonce) and Basic authentication checked with hashes computed here
 * with node:crypto, wrong passwords (clear, masked error), a redirect, bad SDPs, skipped audio,
 * junk interleaved channels, keepalives and TEARDOWN; a pull relay reconnecting when the server
 * drops the connection mid-stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { RtspParser, serializeResponse, encodeInterleaved, type RtspRequest } from '../../src/formats/rtsp-message.js';
import { encodeRtpHeader } from '../../src/formats/rtp-packet.js';
import { RtspClient, RtspClientError } from '../../src/media/rtsp/client.js';
import { RelayManager } from '../../src/media/relay/manager.js';
import { StreamHub } from '../../src/media/hub/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { until } from '../../testkit/wait.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

const SDP_H264_PCMA = [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=cam', 'c=IN IP4 0.0.0.0', 't=0 0', 'a=control:*',
  'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAHtkA,aMuDyyA=', 'a=control:trackID=1',
  'm=audio 0 RTP/AVP 8', 'a=control:trackID=2',
  '',
].join('\r\n');

interface FakeOptions {
  auth?: 'digest' | 'digest-noqop' | 'basic' | 'none';
  user?: string;
  pass?: string;
  /** Answer the first authorized request with stale=true once. */
  staleOnce?: boolean;
  sdp?: string;
  /** DESCRIBE of this path answers 302 to `redirectTo`. */
  redirectFrom?: string;
  redirectTo?: string;
  sessionTimeout?: number;
  /** Never answer this method. */
  silentOn?: string;
  /** Answer this method with a header block over the parser's 16 KiB limit. */
  hugeHeadOn?: string;
  /** After PLAY: frames to send (channel, payload). */
  afterPlay?: (send: (channel: number, payload: Buffer) => void, socket: net.Socket) => void;
}

const REALM = 'IP Camera(12345)';
const OPAQUE = '5ccc069c403ebaf9f0171e9517f40e41';

class FakeRtspServer {
  readonly requests: RtspRequest[] = [];
  readonly sockets = new Set<net.Socket>();
  private server = net.createServer((s) => this.onConnection(s));
  private nonceN = 0;
  private staleSent = false;
  port = 0;

  constructor(private readonly o: FakeOptions) {}

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  methods(): string[] {
    return this.requests.map((r) => r.method);
  }

  private authorized(req: RtspRequest): 'ok' | 'missing' | 'bad' | 'stale' {
    const mode = this.o.auth ?? 'none';
    if (mode === 'none') return 'ok';
    const h = req.headers['authorization'];
    if (!h) return 'missing';
    if (mode === 'basic') return h === `Basic ${Buffer.from(`${this.o.user}:${this.o.pass}`).toString('base64')}` ? 'ok' : 'bad';
    if (!h.startsWith('Digest ')) return 'bad';
    const p: Record<string, string> = {};
    for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) p[m[1]!] = m[2] ?? m[3]!;
    if (p['username'] !== this.o.user || p['realm'] !== REALM || p['uri'] !== req.uri) return 'bad';
    const ha1 = md5(`${this.o.user}:${REALM}:${this.o.pass}`);
    const ha2 = md5(`${req.method}:${req.uri}`);
    let expected: string;
    if (mode === 'digest') {
      if (p['qop'] !== 'auth' || !/^[0-9a-f]{8}$/.test(p['nc'] ?? '') || !p['cnonce'] || p['opaque'] !== OPAQUE) return 'bad';
      expected = md5(`${ha1}:${p['nonce']}:${p['nc']}:${p['cnonce']}:auth:${ha2}`);
    } else {
      if (p['qop'] !== undefined) return 'bad';
      expected = md5(`${ha1}:${p['nonce']}:${ha2}`);
    }
    if (p['response'] !== expected) return 'bad';
    if (p['nonce'] !== `nonce${this.nonceN}`) return 'stale';
    if (this.o.staleOnce && !this.staleSent) {
      this.staleSent = true;
      return 'stale';
    }
    return 'ok';
  }

  private challenge(stale: boolean): string {
    if (this.o.auth === 'basic') return `Basic realm="${REALM}"`;
    const nonce = `nonce${++this.nonceN}`;
    const qop = this.o.auth === 'digest' ? `, qop="auth", opaque="${OPAQUE}"` : '';
    return `Digest realm="${REALM}", nonce="${nonce}"${qop}${stale ? ', stale=TRUE' : ''}`;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const send = (channel: number, payload: Buffer) => socket.write(encodeInterleaved(channel, payload));
    const parser = new RtspParser({
      onMessage: (m) => {
        if (m.kind !== 'request') return;
        this.requests.push(m);
        const cseq = { CSeq: m.headers['cseq'] ?? '0' };
        const a = this.authorized(m);
        if (a !== 'ok') {
          socket.write(serializeResponse(401, { ...cseq, 'WWW-Authenticate': this.challenge(a === 'stale') }));
          return;
        }
        const session = { Session: `F00D;timeout=${this.o.sessionTimeout ?? 60}` };
        if (m.method === this.o.silentOn) return;
        if (m.method === this.o.hugeHeadOn) {
          socket.write(serializeResponse(200, { ...cseq, 'X-Filler': 'x'.repeat(20_000) }));
          return;
        }
        switch (m.method) {
          case 'OPTIONS':
            socket.write(serializeResponse(200, { ...cseq, Public: 'OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER' }));
            break;
          case 'DESCRIBE': {
            if (this.o.redirectFrom && m.uri.endsWith(this.o.redirectFrom)) {
              socket.write(serializeResponse(302, { ...cseq, Location: this.o.redirectTo! }));
              break;
            }
            socket.write(serializeResponse(200, { ...cseq, 'Content-Type': 'application/sdp', 'Content-Base': `${m.uri}/` }, this.o.sdp ?? SDP_H264_PCMA));
            break;
          }
          case 'SETUP':
            socket.write(serializeResponse(200, { ...cseq, ...session, Transport: m.headers['transport'] ?? '' }));
            break;
          case 'PLAY':
            socket.write(serializeResponse(200, { ...cseq, ...session }));
            this.o.afterPlay?.(send, socket);
            break;
          case 'GET_PARAMETER':
            socket.write(serializeResponse(200, { ...cseq, ...session }));
            break;
          case 'TEARDOWN':
            socket.end(serializeResponse(200, cseq));
            break;
          default:
            socket.write(serializeResponse(501, cseq));
        }
      },
    });
    socket.on('data', (d) => parser.push(d));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function rtp(seq: number, payload: Buffer, pt = 96): Buffer {
  return Buffer.concat([encodeRtpHeader({ marker: true, payloadType: pt, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 1234 }), payload]);
}

test('Digest (qop=auth, opaque): a wrong password is a clear 401 error without the password; the right one plays', async () => {
  const srv = await new FakeRtspServer({
    auth: 'digest', user: 'admin', pass: 'Circle Of Life', sessionTimeout: 2,
    afterPlay: (send) => {
      send(7, Buffer.from('junk on a channel nobody set up'));
      send(0, Buffer.from([1, 2, 3])); // too short for RTP: junk
      for (let i = 1; i <= 3; i++) send(0, rtp(i, Buffer.from([0x65, i])));
      send(1, Buffer.from([0x80, 200, 0, 6]));
    },
  }).listen();
  try {
    const bad = new RtspClient({ url: `rtsp://admin:not%20it@127.0.0.1:${srv.port}/Streaming/Channels/101` });
    const err = await bad.play().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof RtspClientError, String(err));
    assert.equal(err.status, 401);
    assert.match(err.message, /OPTIONS answered 401 Unauthorized: authentication failed \(wrong username or password for rtsp:\/\/127\.0\.0\.1:\d+\/Streaming\/Channels\/101\)/);
    assert.doesNotMatch(err.message, /not it|not%20it|admin/);
    assert.deepEqual(srv.methods(), ['OPTIONS', 'OPTIONS']);

    srv.requests.length = 0;
    const got: { kind: string; seq: number; payload: number[] }[] = [];
    let rtcp = 0;
    const ok = new RtspClient({
      url: `rtsp://admin:Circle%20Of%20Life@127.0.0.1:${srv.port}/Streaming/Channels/101`,
      onRtp: (kind, p) => got.push({ kind, seq: p.sequenceNumber, payload: [...p.payload] }),
      onRtcp: () => rtcp++,
    });
    const tracks = await ok.play();
    assert.ok(tracks.video && !tracks.audio, 'video only');
    assert.deepEqual(tracks.skipped, ['audio PCMA/8000']);
    assert.equal(tracks.video.control, `rtsp://127.0.0.1:${srv.port}/Streaming/Channels/101/trackID=1`);
    assert.equal(tracks.video.sps?.toString('base64'), 'Z0LAHtkA');
    assert.equal(ok.sessionId, 'F00D');
    assert.equal(ok.sessionTimeoutMs, 2000);
    assert.deepEqual(srv.methods(), ['OPTIONS', 'OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY']);
    const setup = srv.requests[3]!;
    assert.equal(setup.headers['transport'], 'RTP/AVP/TCP;unicast;interleaved=0-1');
    assert.equal(setup.headers['session'], undefined);
    assert.equal(srv.requests[4]!.headers['session'], 'F00D');
    assert.equal(srv.requests[4]!.uri, `rtsp://127.0.0.1:${srv.port}/Streaming/Channels/101/`);
    // Each authorized request counts the nonce up.
    assert.deepEqual(srv.requests.slice(1).map((r) => /nc=(\w+)/.exec(r.headers['authorization']!)![1]), ['00000001', '00000002', '00000003', '00000004']);
    await until(() => got.length === 3 && rtcp === 1, 5000, 'RTP delivered');
    assert.deepEqual(got.map((g) => g.seq), [1, 2, 3]);
    assert.deepEqual(got[0], { kind: 'video', seq: 1, payload: [0x65, 1] });
    assert.equal(ok.stats.junkFrames, 2);
    // Keepalive: GET_PARAMETER (listed in Public) every timeout/2, with the session.
    await until(() => srv.methods().includes('GET_PARAMETER'), 5000, 'keepalive');
    assert.equal(srv.requests.find((r) => r.method === 'GET_PARAMETER')!.headers['session'], 'F00D');
    ok.close();
    await until(() => srv.methods().includes('TEARDOWN'), 5000, 'TEARDOWN');
  } finally {
    await srv.close();
  }
});

test('Digest without qop, a stale nonce retried once, Basic; no credentials is a clear error', async () => {
  const noqop = await new FakeRtspServer({ auth: 'digest-noqop', user: 'u', pass: 'p:w@d', staleOnce: true }).listen();
  const basic = await new FakeRtspServer({ auth: 'basic', user: 'Aladdin', pass: 'open sesame' }).listen();
  try {
    const a = new RtspClient({ url: `rtsp://u:p%3Aw%40d@127.0.0.1:${noqop.port}/s` });
    await a.play();
    // OPTIONS without credentials, with them (stale), with the fresh nonce.
    assert.deepEqual(noqop.methods().slice(0, 3), ['OPTIONS', 'OPTIONS', 'OPTIONS']);
    assert.doesNotMatch(noqop.requests[1]!.headers['authorization']!, /qop|nc=/);
    a.close();
    const b = new RtspClient({ url: `rtsp://Aladdin:open%20sesame@127.0.0.1:${basic.port}/s` });
    await b.play();
    assert.equal(basic.requests[1]!.headers['authorization'], 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    b.close();
    const none = new RtspClient({ url: `rtsp://127.0.0.1:${basic.port}/s` });
    await assert.rejects(none.play(), /OPTIONS answered 401 Unauthorized: the server wants credentials/);
  } finally {
    await noqop.close();
    await basic.close();
  }
});

test('one redirect is followed, a second is an error; bad SDPs and no playable track are clear errors; connection refused', async () => {
  const srv = await new FakeRtspServer({ redirectFrom: '/old', redirectTo: '/new' }).listen();
  const loop = await new FakeRtspServer({ redirectFrom: '/loop', redirectTo: '/loop' }).listen();
  const junk = await new FakeRtspServer({ sdp: 'this is no sdp' }).listen();
  const pcma = await new FakeRtspServer({ sdp: 'v=0\r\ns=x\r\nm=audio 0 RTP/AVP 8\r\n' }).listen();
  try {
    const c = new RtspClient({ url: `rtsp://127.0.0.1:${srv.port}/old` });
    await c.play();
    assert.equal(c.url, `rtsp://127.0.0.1:${srv.port}/new`);
    assert.ok(srv.requests.some((r) => r.method === 'DESCRIBE' && r.uri.endsWith('/new')));
    c.close();
    await assert.rejects(new RtspClient({ url: `rtsp://127.0.0.1:${loop.port}/loop` }).play(), /too many redirects/);
    await assert.rejects(new RtspClient({ url: `rtsp://127.0.0.1:${junk.port}/s` }).play(), /bad SDP in DESCRIBE answer \(sdp: no v= line\)/);
    await assert.rejects(new RtspClient({ url: `rtsp://127.0.0.1:${pcma.port}/s` }).play(), /no H\.264 or AAC track in the SDP \(audio PCMA\/8000\)/);
    const port = pcma.port;
    await pcma.close();
    await assert.rejects(new RtspClient({ url: `rtsp://x:secret@127.0.0.1:${port}/s`, connectTimeoutMs: 3000 }).play(), (e: Error) => /ECONNREFUSED/.test(e.message) && !/secret/.test(e.message));
  } finally {
    await srv.close();
    await loop.close();
    await junk.close();
  }
});

test('bounded: an oversized answer head and a request the server never answers are clear errors', async () => {
  const huge = await new FakeRtspServer({ hugeHeadOn: 'DESCRIBE' }).listen();
  const silent = await new FakeRtspServer({ silentOn: 'PLAY' }).listen();
  try {
    await assert.rejects(new RtspClient({ url: `rtsp://127.0.0.1:${huge.port}/s` }).play(), /DESCRIBE: bad data from the server \(rtsp: message head longer than 16384 bytes\)/);
    const t0 = Date.now();
    await assert.rejects(new RtspClient({ url: `rtsp://127.0.0.1:${silent.port}/s`, requestTimeoutMs: 300 }).play(), /PLAY got no answer within 300 ms/);
    assert.ok(Date.now() - t0 < 5000);
    // The client closed its connection after the failure.
    await until(() => silent.sockets.size === 0, 5000, 'connection closed');
  } finally {
    await huge.close();
    await silent.close();
  }
});

test('a pull relay: masked URL in its info, masked lastError on a wrong password, and reconnects when the server drops it mid-stream', async () => {
  let drops = 0;
  const srv = await new FakeRtspServer({
    auth: 'digest', user: 'cam', pass: 'right',
    afterPlay: (send, socket) => {
      send(0, rtp(1, Buffer.from([0x09, 0xf0])));
      if (drops++ === 0) setTimeout(() => socket.destroy(), 200);
    },
  }).listen();
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 23, viewerStallMs: 10_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const relays = new RelayManager(hub, silentLogger());
  try {
    assert.throws(() => relays.start({ direction: 'pull', channel: 'x', url: 'srt://127.0.0.1:1/s' }), /rtsp:\/\//);
    const wrong = relays.start({ direction: 'pull', channel: 'cam0', url: `rtsp://cam:wrong@127.0.0.1:${srv.port}/live` });
    assert.equal(wrong.url, `rtsp://***@127.0.0.1:${srv.port}/live`);
    const w = await until(() => relays.list().find((r) => r.id === wrong.id && r.lastError), 10_000, 'wrong password reported');
    assert.match(w.lastError!, /authentication failed/);
    assert.doesNotMatch(w.lastError!, /cam:|@127/, 'no credentials in lastError');
    await relays.stop(wrong.id);

    const info = relays.start({ direction: 'pull', channel: 'cam1', url: `rtsp://cam:right@127.0.0.1:${srv.port}/live` });
    const state = () => relays.list().find((r) => r.id === info.id)!;
    await until(() => state().connects === 1, 10_000, 'first connection');
    await until(() => state().state === 'waiting' && /server closed the connection/.test(state().lastError ?? ''), 10_000, 'reconnecting after the drop');
    await until(() => state().connects === 2 && state().state === 'running', 10_000, 'connected again');
  } finally {
    await relays.stopAll();
    await srv.close();
  }
});
