// RtmpClient over rtmps://: a node:tls terminator (certificate from a throw-away CA) in front of
// onair's RTMP port. With the CA trusted, publishing over TLS takes the channel live with the
// fixture's H.264 + AAC and playing over TLS gets the media back; without it, or against a
// self-signed certificate, the client fails at once with a certificate error (not a timeout);
// rtmps:// to a plain RTMP port fails as a TLS handshake error.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { RtmpClient, RtmpClientError, type RtmpMediaMessage } from '../../src/media/rtmp/client.js';
import { FlvParser, FLV_TAG_VIDEO, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, type FlvTag } from '../../src/formats/flv.js';
import { startMedia, type MediaHarness } from './helpers/media-harness.js';
import { makeCerts, opensslMissing, startTlsTerminator, type TestCerts, type TlsTerminator } from '../../testkit/tls-certs.js';
import { until } from '../../testkit/wait.js';

const FIXTURE = new URL('../fixtures/media/h264-aac-640x360.flv', import.meta.url).pathname;
/** A certificate failure must come well before the client's own 10 s timeout. */
const FAIL_FAST_MS = 5000;

const skip = await opensslMissing();

/** The fixture's tags (script data, sequence headers, then frames). */
function fixtureTags(): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(FIXTURE));
  return tags;
}

async function refusal(p: Promise<RtmpClient>): Promise<{ err: RtmpClientError; ms: number }> {
  const t0 = Date.now();
  try {
    const c = await p;
    c.close();
  } catch (err) {
    return { err: err as RtmpClientError, ms: Date.now() - t0 };
  }
  assert.fail('the connection was accepted');
}

describe('RtmpClient over rtmps://', { skip: skip ?? false }, () => {
  let h: MediaHarness;
  let certs: TestCerts;
  let trusted: TlsTerminator;
  let selfSigned: TlsTerminator;
  const clients: RtmpClient[] = [];

  before(async () => {
    certs = await makeCerts();
    h = await startMedia({ 'media.tlsCaFile': certs.caFile });
    h.keys.set('tls-key', 'tlsch');
    h.keys.set('relay-src-key', 'relaysrc');
    h.keys.set('relay-out-key', 'relayout');
    trusted = await startTlsTerminator(h.rtmpPort, certs.serverKey, certs.serverCert);
    selfSigned = await startTlsTerminator(h.rtmpPort, certs.selfKey, certs.selfCert);
  });

  after(async () => {
    for (const c of clients) c.close();
    await trusted?.close();
    await selfSigned?.close();
    await h?.stop();
    certs?.remove();
  });

  test('publish with the CA trusted: the channel goes live with H.264 + AAC; play over TLS gets the media', async () => {
    const pub = await RtmpClient.publish(`rtmps://127.0.0.1:${trusted.port}/live/tls-key`, { ca: certs.caPem });
    clients.push(pub);
    assert.equal(pub.url.tls, true);
    assert.equal(pub.url.tcUrl, `rtmps://127.0.0.1:${trusted.port}/live`);
    assert.equal(trusted.sessions, 1);
    assert.deepEqual(trusted.servernames, [false], 'no SNI for an IP address');
    const tags = fixtureTags();
    const sendUntil = (ms: number) => {
      for (const t of tags) if (t.timestamp <= ms && t.type !== FLV_TAG_SCRIPT) pub.sendTag(t.type, t.timestamp, t.data);
    };
    sendUntil(1000);
    await until(() => h.media.hub.isLive('tlsch') && !!h.media.stats().find((s) => s.channel === 'tlsch')?.video, 10_000, 'tlsch live with video');
    const st = h.media.stats().find((s) => s.channel === 'tlsch')!;
    assert.match(st.video?.codecString ?? '', /^avc1\./, JSON.stringify(st.video));
    assert.match(st.audio?.codecString ?? '', /^mp4a\.40\./, JSON.stringify(st.audio));
    assert.equal(st.publisher.protocol, 'rtmp');

    // play it back through the terminator, this time by host name (SNI = localhost)
    const got: RtmpMediaMessage[] = [];
    const player = await RtmpClient.play(`rtmps://localhost:${trusted.port}/live/tlsch`, { ca: certs.caPem });
    clients.push(player);
    player.on('media', (m: RtmpMediaMessage) => got.push(m));
    assert.equal(trusted.servernames.at(-1), 'localhost');
    await until(() => got.some((m) => m.type === FLV_TAG_VIDEO) && got.some((m) => m.type === FLV_TAG_AUDIO), 10_000, 'media over TLS');
    // the first video and audio messages are the sequence headers sent right after Play.Start,
    // held by the client until the 'media' listener above was attached
    const avcSeq = got.find((m) => m.type === FLV_TAG_VIDEO)!;
    assert.equal(avcSeq.payload[0]! & 0x0f, 7, 'H.264 (FLV codec id 7)');
    assert.equal(avcSeq.payload[1], 0, 'AVC sequence header first');
    const aacSeq = got.find((m) => m.type === FLV_TAG_AUDIO)!;
    assert.equal(aacSeq.payload[0]! >> 4, 10, 'AAC (FLV sound format 10)');
    assert.equal(aacSeq.payload[1], 0, 'AAC sequence header first');
    player.close();
    pub.close();
    await until(() => !h.media.hub.isLive('tlsch'), 5000, 'channel offline after close');
  });

  test('static relays over rtmps:// with media.tlsCaFile: pull a channel in over TLS and push it out over TLS', async () => {
    const pub = await RtmpClient.publish(h.rtmpUrl('live/relay-src-key'));
    clients.push(pub);
    // The fixture is 1 s long: loop it in real time (sequence headers only once) so the pull
    // relay's stall watchdog stays quiet.
    const tags = fixtureTags().filter((t) => t.type !== FLV_TAG_SCRIPT);
    const loopMs = tags.at(-1)!.timestamp + 40;
    let i = 0;
    let base = 0;
    const t0 = Date.now();
    const feeder = setInterval(() => {
      const now = Date.now() - t0;
      while (base + tags[i]!.timestamp <= now + 500) {
        const t = tags[i]!;
        const seqHeader = t.data[1] === 0;
        if (base === 0 || !seqHeader) pub.sendTag(t.type, base + t.timestamp, t.data);
        if (++i === tags.length) {
          i = 0;
          base += loopMs;
        }
      }
    }, 50);
    try {
      const sessionsBefore = trusted.sessions;
      const pull = h.media.startRelay({ direction: 'pull', channel: 'relayin', url: `rtmps://127.0.0.1:${trusted.port}/live/relaysrc` });
      const push = h.media.startRelay({ direction: 'push', channel: 'relayin', url: `rtmps://127.0.0.1:${trusted.port}/live/relay-out-key` });
      const bad = h.media.startRelay({ direction: 'push', channel: 'relayin', url: `rtmps://127.0.0.1:${selfSigned.port}/live/relay-out-key` });
      await until(() => { const o = h.media.stats().find((s) => s.channel === 'relayout'); return !!(o?.video && o.audio); }, 15_000, 'relayout live with video and audio (publish → pull over TLS → push over TLS)')
        .catch((err: Error) => assert.fail(`${err.message}: relays ${JSON.stringify(h.media.listRelays())}, live ${JSON.stringify(h.media.stats().map((x) => [x.channel, !!x.video]))}`));
      const out = h.media.stats().find((s) => s.channel === 'relayout')!;
      assert.match(out.video!.codecString, /^avc1\./);
      assert.match(out.audio?.codecString ?? '', /^mp4a\./);
      assert.ok(trusted.sessions >= sessionsBefore + 2, 'both relays went through TLS');
      const relays = h.media.listRelays();
      assert.equal(relays.find((r) => r.id === pull.id)?.state, 'running');
      assert.equal(relays.find((r) => r.id === push.id)?.state, 'running');
      const b = await until(() => h.media.listRelays().find((r) => r.id === bad.id && r.lastError), 10_000, 'bad push relay error');
      assert.equal(b.lastError, 'TLS certificate verify failed: self-signed certificate');
      assert.equal(b.connects, 0);
      for (const r of [pull, push, bad]) await h.media.stopRelay(r.id);
      assert.throws(() => h.media.startRelay({ direction: 'push', channel: 'x', url: 'https://example.com/live/k' }), /rtmp:\/\/ or rtmps:\/\//);
    } finally {
      clearInterval(feeder);
      pub.close();
    }
    // The publisher and the relays are gone; their channels end once the server sees the closes
    // (through the TLS terminator). 15 s: under a loaded CI run 5 s was not always enough.
    await until(() => !h.media.hub.isLive('relayout') && !h.media.hub.isLive('relayin'), 15_000, 'relay channels offline')
      .catch((err: Error) => assert.fail(`${err.message}: still live ${JSON.stringify(['relayout', 'relayin', 'relaysrc'].filter((c) => h.media.hub.isLive(c)))}, relays ${JSON.stringify(h.media.listRelays())}`));
  });

  test('without the CA: a certificate error, at once', async () => {
    const before = trusted.attempts;
    const { err, ms } = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${trusted.port}/live/tls-key`));
    assert.ok(err instanceof RtmpClientError, String(err));
    assert.match(err.message, /^TLS certificate verify failed: /);
    assert.ok(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'].includes(err.code!), err.code);
    assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`);
    assert.equal(trusted.attempts, before + 1);
    assert.equal(h.media.hub.isLive('tlsch'), false);
  });

  test('a self-signed server certificate is refused even with a CA given', async () => {
    const { err, ms } = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${selfSigned.port}/live/tls-key`, { ca: certs.caPem }));
    assert.equal(err.message, 'TLS certificate verify failed: self-signed certificate');
    assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`);
    assert.equal(selfSigned.sessions, 0);
  });

  test('a certificate from the trusted CA for another name is refused (name check)', async () => {
    const other = await startTlsTerminator(h.rtmpPort, certs.otherKey, certs.otherCert);
    try {
      const { err } = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${other.port}/live/tls-key`, { ca: certs.caPem }));
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      assert.match(err.message, /^TLS certificate verify failed: .*127\.0\.0\.1/);
      assert.equal(other.sessions, 0);
    } finally {
      await other.close();
    }
  });

  test('rtmps:// to a plain RTMP port: the timeout names the TLS handshake', async () => {
    // An RTMP server waits for 1537 handshake bytes and the TLS ClientHello is shorter: neither side
    // gives up by itself, so the client's timeout ends it and says where it was stuck.
    const { err, ms } = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${h.rtmpPort}/live/tls-key`, { ca: certs.caPem, timeoutMs: 1500 }));
    assert.equal(err.message, 'RTMP publish timed out after 1500 ms (TLS handshake)');
    assert.equal(err.code, 'ETIMEDOUT');
    assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`);
  });

  test('a server that answers the ClientHello with plain bytes: a TLS handshake error', async () => {
    const accepted: Socket[] = [];
    const junk = createServer((s) => {
      accepted.push(s);
      s.on('error', () => undefined);
      s.end(Buffer.alloc(64, 3));
    });
    await new Promise<void>((r) => junk.listen(0, '127.0.0.1', r));
    try {
      const { err, ms } = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${(junk.address() as AddressInfo).port}/live/tls-key`, { ca: certs.caPem }));
      assert.match(err.message, /^TLS handshake failed: /);
      assert.ok(ms < FAIL_FAST_MS, `failed after ${ms} ms`);
    } finally {
      for (const sock of accepted) sock.destroy();
      await new Promise((r) => junk.close(r));
    }
  });

  test('rtmps:// to a closed port: the connect error as it is', async () => {
    await trusted.close();
    const { err } = await refusal(RtmpClient.publish(`rtmps://127.0.0.1:${trusted.port}/live/tls-key`, { ca: certs.caPem }));
    assert.match(err.message, /ECONNREFUSED/);
  });
});
