// RTMPS ingest on onair's own TLS port (media.rtmps): ffmpeg publishes and plays over TLS, onair's
// RtmpClient publishes with the certificate verified, wrong keys are refused as over RTMP, plain
// RTMP / garbage / a silent client on the TLS port are dropped and counted while a publisher goes
// on, and a renewed certificate is served to new connections without touching an open publish.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { RtmpClient, RtmpClientError } from '../../src/media/index.js';
import { FLV_TAG_SCRIPT, FLV_TAG_VIDEO } from '../../src/formats/flv.js';
import { startMedia, publishArgs, run, ffprobe, killAll, fixtureTags, type MediaHarness } from './helpers/media-harness.js';
import { makeCerts, opensslMissing, type TestCerts } from '../../testkit/tls-certs.js';
import { until, sleep } from '../../testkit/wait.js';

const skip = await opensslMissing();
/** The test server's TLS handshake timeout: refusals of non-TLS bytes must come well before it. */
const HANDSHAKE_TIMEOUT_S = 2;

/** peerCert opens a TLS connection (no verification) and returns the certificate the server sent. */
function peerCert(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      s.destroy();
      resolve(c);
    });
    s.on('error', reject);
  });
}

/** closedAfter resolves with the ms until the server closed a raw TCP connection to port after sending it bytes. */
function closedAfter(port: number, bytes: Buffer | null): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = netConnect({ host: '127.0.0.1', port }, () => {
      if (bytes) s.write(bytes);
    });
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => resolve(Date.now() - t0));
  });
}

/** tlsPublisher publishes the fixture over rtmps:// in a real-time loop with the CA trusted. */
async function tlsPublisher(url: string, ca: string): Promise<{ client: RtmpClient; sentVideo: () => number; stop: () => void }> {
  const tags = fixtureTags().filter((t) => t.type !== FLV_TAG_SCRIPT);
  const client = await RtmpClient.publish(url, { ca });
  const loopMs = tags.at(-1)!.timestamp + 40;
  let i = 0;
  let base = 0;
  let sentVideo = 0;
  const t0 = Date.now();
  const timer = setInterval(() => {
    while (base + tags[i]!.timestamp <= Date.now() - t0) {
      const t = tags[i]!;
      if (base === 0 || t.data[1] !== 0) {
        client.sendTag(t.type, base + t.timestamp, t.data);
        if (t.type === FLV_TAG_VIDEO) sentVideo++;
      }
      if (++i === tags.length) {
        i = 0;
        base += loopMs;
      }
    }
  }, 20);
  return { client, sentVideo: () => sentVideo, stop: () => { clearInterval(timer); client.close(); } };
}

async function refusal(p: Promise<RtmpClient>): Promise<RtmpClientError> {
  try {
    (await p).close();
  } catch (err) {
    return err as RtmpClientError;
  }
  assert.fail('the connection was accepted');
}

describe('RTMPS ingest (media.rtmps)', { skip: skip ?? false }, () => {
  let certs: TestCerts;
  let live: string;
  let h: MediaHarness;
  let port: number;
  let hooks: HttpServer;
  const callbacks: Record<string, unknown>[] = [];
  const stops: (() => void)[] = [];

  before(async () => {
    certs = await makeCerts();
    // The files onair serves, as certbot's live/ dir would hold them; rotation overwrites them.
    live = mkdtempSync(join(tmpdir(), 'onair-rtmps-live-'));
    copyFileSync(join(certs.dir, 'server.pem'), join(live, 'fullchain.pem'));
    copyFileSync(join(certs.dir, 'server.key'), join(live, 'privkey.pem'));
    // media.onPublishUrl / onUnpublishUrl receiver: records the bodies, allows every publish
    hooks = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        callbacks.push({ path: req.url, ...JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const hooksUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
    h = await startMedia({
      'media.onPublishUrl': `${hooksUrl}/publish`,
      'media.onUnpublishUrl': `${hooksUrl}/unpublish`,
      'media.rtmps.enabled': true,
      'media.rtmps.port': 0,
      'media.rtmps.certFile': join(live, 'fullchain.pem'),
      'media.rtmps.keyFile': join(live, 'privkey.pem'),
      'media.rtmps.handshakeTimeoutSeconds': HANDSHAKE_TIMEOUT_S,
      'media.rtmps.reloadIntervalSeconds': 0,
    });
    port = h.media.rtmps!.port!;
    h.keys.set('ff-key', 'ffch');
    h.keys.set('client-key', 'clientch');
    h.keys.set('rot-key', 'rotch');
  });

  after(async () => {
    for (const s of stops) s();
    killAll();
    await h?.stop();
    await new Promise((r) => hooks?.close(r));
    if (live) rmSync(live, { recursive: true, force: true });
    certs?.remove();
  });

  test('ffmpeg publishes over rtmps://: live as rtmps, HTTP-FLV and rtmps play carry H.264 + AAC', async () => {
    assert.ok(port > 0 && port !== h.rtmpPort);
    const ff = run('ffmpeg', publishArgs(`rtmps://127.0.0.1:${port}/live/ff-key`, ['-t', '30']));
    stops.push(() => ff.kill('SIGKILL'));
    await until(() => h.media.stats().find((s) => s.channel === 'ffch' && s.video && s.audio), 20_000, 'ffch live over rtmps');
    assert.equal(h.media.hub.stats('ffch')!.publisher.protocol, 'rtmps');
    assert.equal(h.media.connections().rtmps, 1);
    assert.equal(h.media.connections().rtmp, 0);
    const flv = await ffprobe(h.httpUrl('live/ffch.flv'));
    assert.deepEqual(flv.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    const played = await ffprobe(`rtmps://127.0.0.1:${port}/live/ffch`);
    assert.deepEqual(played.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    ff.kill('SIGINT');
    await until(() => !h.media.hub.isLive('ffch'), 10_000, 'ffch offline after ffmpeg stops');
  });

  test('RtmpClient verifies the certificate: publishes with the CA, fails clearly without it; a wrong key is refused as over RTMP', async () => {
    const bare = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${port}/live/client-key`));
    assert.match(bare.message, /^TLS certificate verify failed: /);
    assert.equal(h.media.hub.isLive('clientch'), false);

    const wrong = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${port}/live/not-a-key`, { ca: certs.caPem }));
    assert.equal(wrong.code, 'NetStream.Publish.BadName');
    assert.match(wrong.message, /invalid stream key/);

    const pub = await tlsPublisher(`rtmps://127.0.0.1:${port}/live/client-key`, certs.caPem);
    stops.push(pub.stop);
    await until(() => h.media.stats().find((s) => s.channel === 'clientch' && s.video && s.audio), 10_000, 'clientch live');
    assert.equal(h.media.hub.stats('clientch')!.publisher.protocol, 'rtmps');
    // a second publisher for the live channel over TLS is refused like over plain RTMP
    const second = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${port}/live/client-key`, { ca: certs.caPem }));
    assert.match(second.message, /already publishing/);
    pub.stop();
    await until(() => !h.media.hub.isLive('clientch'), 5000, 'clientch offline');
    // the publish callbacks say the publish came over rtmps
    await until(() => callbacks.some((c) => c.path === '/unpublish' && c.channel === 'clientch'), 5000, 'unpublish callback');
    const pubCb = callbacks.find((c) => c.path === '/publish' && c.channel === 'clientch');
    assert.equal(pubCb?.protocol, 'rtmps', JSON.stringify(pubCb));
    const unpubCb = callbacks.find((c) => c.path === '/unpublish' && c.channel === 'clientch');
    assert.equal(unpubCb?.protocol, 'rtmps', JSON.stringify(unpubCb));
  });

  test('plain RTMP, garbage and a silent client on the TLS port are dropped and counted; a publisher is undisturbed', async () => {
    const pub = await tlsPublisher(`rtmps://127.0.0.1:${port}/live/client-key`, certs.caPem);
    stops.push(pub.stop);
    await until(() => h.media.hub.isLive('clientch'), 10_000, 'clientch live');
    const counts = h.media.rtmps!.counts.handshakeFailures;
    const before = { ...counts };
    const bytesBefore = h.media.hub.counters.bytesIn;

    // plain RTMP C0+C1 (version 3, then 1536 bytes), HTTP, random bytes: refused at once
    const c0c1 = Buffer.alloc(1537, 0);
    c0c1[0] = 3;
    const fast = await Promise.all([
      closedAfter(port, c0c1),
      closedAfter(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')),
      closedAfter(port, Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4])),
    ]);
    for (const ms of fast) assert.ok(ms < HANDSHAKE_TIMEOUT_S * 1000 * 0.75, `refused after ${ms} ms (before the handshake timeout)`);
    // a client that starts a handshake and never finishes it is dropped after handshakeTimeoutSeconds
    const slow = await closedAfter(port, Buffer.from([0x16, 0x03, 0x01]));
    assert.ok(slow >= HANDSHAKE_TIMEOUT_S * 1000 - 100 && slow < HANDSHAKE_TIMEOUT_S * 1000 + 4000, `silent client dropped after ${slow} ms`);
    await until(() => counts.not_tls + counts.tls >= before.not_tls + before.tls + 3 && counts.timeout >= before.timeout + 1, 3000, 'failures counted');
    assert.ok(counts.not_tls >= before.not_tls + 2, JSON.stringify(counts));

    const metrics = await h.registry.metrics();
    assert.match(metrics, /onair_rtmps_handshake_failures_total\{reason="timeout"\} [1-9]/);
    assert.match(metrics, /onair_rtmps_handshake_failures_total\{reason="not_tls"\} [1-9]/);

    const sent = pub.sentVideo();
    await sleep(500);
    assert.ok(pub.sentVideo() > sent);
    assert.equal(h.media.hub.isLive('clientch'), true, 'publisher still live');
    assert.ok(h.media.hub.counters.bytesIn > bytesBefore, 'media still arrives');
    pub.stop();
    await until(() => !h.media.hub.isLive('clientch'), 5000, 'clientch offline');
  });

  test('certificate rotation: a new pair is served to new connections, a bad pair is refused and counted, an open publish goes on', async () => {
    const listener = h.media.rtmps!;
    const first = await peerCert(port);
    const pub = await tlsPublisher(`rtmps://127.0.0.1:${port}/live/rot-key`, certs.caPem);
    stops.push(pub.stop);
    await until(() => h.media.hub.isLive('rotch'), 10_000, 'rotch live');

    // Nothing changed: a poll does nothing.
    assert.deepEqual(listener.reload(false), { status: 'unchanged' });

    // A half-renewed pair (new certificate, old key): refused, counted, the old pair stays.
    copyFileSync(join(certs.dir, 'other.pem'), join(live, 'fullchain.pem'));
    const half = listener.reload(false);
    assert.equal(half.status, 'failed');
    assert.match((half as { error: string }).error, /media\.rtmps\.keyFile/);
    assert.equal(listener.counts.reloadFailed, 1);
    assert.equal((await peerCert(port)).serialNumber, first.serialNumber);
    // the same bad files are not retried (nor logged again) on every poll
    assert.deepEqual(listener.reload(false), { status: 'unchanged' });

    // The key arrives: the next poll installs the pair.
    copyFileSync(join(certs.dir, 'other.key'), join(live, 'privkey.pem'));
    assert.deepEqual(listener.reload(false), { status: 'reloaded' });
    const second = await peerCert(port);
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.equal(second.subject.CN, 'other.example');
    assert.match(await h.registry.metrics(), /onair_rtmps_cert_reloads_total\{result="ok"\} 1/);

    const sent = pub.sentVideo();
    const bytes = h.media.hub.counters.bytesIn;
    await sleep(500);
    assert.ok(pub.sentVideo() > sent && h.media.hub.counters.bytesIn > bytes, 'the open publish goes on');
    assert.equal(h.media.hub.stats('rotch')!.publisher.protocol, 'rtmps');

    // A new client checking names now fails on 127.0.0.1 (the new certificate is for other.example).
    const mismatch = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${port}/live/rot-key`, { ca: certs.caPem }));
    assert.equal(mismatch.code, 'ERR_TLS_CERT_ALTNAME_INVALID');

    // Back to the first pair.
    copyFileSync(join(certs.dir, 'server.pem'), join(live, 'fullchain.pem'));
    copyFileSync(join(certs.dir, 'server.key'), join(live, 'privkey.pem'));
    assert.deepEqual(listener.reload(), { status: 'reloaded' });
    assert.equal((await peerCert(port)).serialNumber, first.serialNumber);
    pub.stop();
    await until(() => !h.media.hub.isLive('rotch'), 5000, 'rotch offline');
  });

  test('the reload poll picks up renewed files by itself', async () => {
    // A second service on the same files with a 1 s poll (the default is 60 s).
    copyFileSync(join(certs.dir, 'server.pem'), join(live, 'fullchain.pem'));
    copyFileSync(join(certs.dir, 'server.key'), join(live, 'privkey.pem'));
    const h2 = await startMedia({
      'media.rtmps.enabled': true,
      'media.rtmps.port': 0,
      'media.rtmps.certFile': join(live, 'fullchain.pem'),
      'media.rtmps.keyFile': join(live, 'privkey.pem'),
      'media.rtmps.reloadIntervalSeconds': 1,
    });
    try {
      const p2 = h2.media.rtmps!.port!;
      const first = await peerCert(p2);
      await sleep(20); // a distinct mtime even on coarse clocks
      copyFileSync(join(certs.dir, 'other.pem'), join(live, 'fullchain.pem'));
      copyFileSync(join(certs.dir, 'other.key'), join(live, 'privkey.pem'));
      await until(() => h2.media.rtmps!.counts.reloaded >= 1, 5000, 'polled reload');
      assert.notEqual((await peerCert(p2)).serialNumber, first.serialNumber);
    } finally {
      await h2.stop();
      copyFileSync(join(certs.dir, 'server.pem'), join(live, 'fullchain.pem'));
      copyFileSync(join(certs.dir, 'server.key'), join(live, 'privkey.pem'));
    }
  });
});
