import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseCodecs, dropRemoteCandidates, narrowOffer, parseOffer, SdpError } from '../../../../src/media/webrtc/sdp.js';
import { ntpFromUnixMs, rewriteCandidates } from '../../../../src/media/webrtc/session.js';
import { at } from '../../../../testkit/at.js';

/** A Chromium 156 recvonly offer (video + audio), trimmed to the lines that matter here. */
const CHROMIUM_OFFER = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=extmap-allow-mixed', 'a=msid-semantic: WMS',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 108 116 41 45',
  'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1582777946 1 udp 2113937151 11124547-36b2-4324-92b2-e59fe09165ef.local 56235 typ host generation 0 network-cost 999',
  'a=candidate:1254800773 1 udp 2113937151 192.0.2.2 54222 typ host generation 0 network-cost 999',
  'a=ice-ufrag:Ab12', 'a=ice-pwd:0123456789abcdefghijklmn', 'a=ice-options:trickle', 'a=fingerprint:sha-256 00:11', 'a=setup:actpass', 'a=mid:0',
  'a=recvonly', 'a=rtcp-mux', 'a=rtcp-rsize',
  'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack', 'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000', 'a=rtcp-fb:102 nack', 'a=rtcp-fb:102 nack pli', 'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:103 rtx/90000', 'a=fmtp:103 apt=102',
  'a=rtpmap:104 H264/90000', 'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
  'a=rtpmap:108 H264/90000', 'a=rtcp-fb:108 nack', 'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:116 H264/90000', 'a=fmtp:116 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f',
  'a=rtpmap:41 H264/90000', 'a=fmtp:41 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f',
  'a=rtpmap:45 AV1/90000',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 0',
  'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=recvonly', 'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc', 'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111', 'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

test('parseOffer reads sections, directions, rtpmap and fmtp of a Chromium offer', () => {
  const m = parseOffer(CHROMIUM_OFFER);
  assert.deepEqual(m.map((x) => [x.kind, x.mid, x.direction, x.port]), [['video', '0', 'recvonly', 9], ['audio', '1', 'recvonly', 9]]);
  const h264 = at(m, 0).codecs.filter((c) => c.name === 'H264');
  assert.deepEqual(h264.map((c) => [c.pt, c.fmtp['packetization-mode'], c.fmtp['profile-level-id']]), [[102, '1', '42001f'], [104, '0', '42001f'], [108, '1', '42e01f'], [116, '1', '4d001f'], [41, '1', 'f4001f']]);
  assert.deepEqual(at(m, 1).codecs[0], { pt: 111, name: 'opus', clockRate: 48000, channels: 2, fmtp: { minptime: '10', useinbandfec: '1' } });
});

test('chooseCodecs: constrained baseline for a baseline source, main for main, high falls back to main (no 64 line offered)', () => {
  const m = parseOffer(CHROMIUM_OFFER);
  assert.equal(chooseCodecs(m, 66).video.codec.pt, 108);
  assert.equal(chooseCodecs(m, undefined).video.codec.pt, 108);
  assert.equal(chooseCodecs(m, 77).video.codec.pt, 116);
  assert.equal(chooseCodecs(m, 100).video.codec.pt, 116);
  const high = parseOffer(CHROMIUM_OFFER.replace('a=fmtp:41 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f', 'a=fmtp:41 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f'));
  assert.equal(chooseCodecs(high, 100).video.codec.pt, 41);
  assert.equal(chooseCodecs(m).audio?.codec.pt, 111);
});

test('chooseCodecs refuses offers without H.264 mode 1 or without a receiving video section', () => {
  const noMode1 = CHROMIUM_OFFER.replace(/packetization-mode=1/g, 'packetization-mode=0');
  assert.throws(() => chooseCodecs(parseOffer(noMode1)), /H\.264 with packetization-mode=1/);
  const sendOnly = CHROMIUM_OFFER.replace('a=mid:0\r\na=recvonly', 'a=mid:0\r\na=sendonly');
  assert.throws(() => chooseCodecs(parseOffer(sendOnly)), /no video section/);
});

test('parseOffer refuses what is not SDP', () => {
  for (const bad of ['', 'hello', 'v=0\r\n', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n', 'v=0\r\no=x\r\nm=video x RTP 96\r\n', 'v=0\r\no=x\r\nm=video 9 RTP/AVP 300\r\n', 'v=0\r\no=x\r\nbogus\r\n', 'x'.repeat(70_000)]) {
    assert.throws(() => parseOffer(bad), SdpError, JSON.stringify(bad.slice(0, 30)));
  }
});

test('narrowOffer keeps only the chosen payload type and its attribute lines', () => {
  const out = narrowOffer(CHROMIUM_OFFER, new Map([[0, 108], [1, 111]]));
  const m = parseOffer(out);
  assert.deepEqual(at(m, 0).codecs.map((c) => c.pt), [108]);
  assert.deepEqual(at(m, 1).codecs.map((c) => c.pt), [111]);
  assert.ok(!/a=rtpmap:102|a=fmtp:103|a=rtcp-fb:96|a=rtpmap:63/.test(out));
  assert.match(out, /a=rtcp-fb:108 nack\r\n/);
  assert.match(out, /a=ice-ufrag:Ab12/);
});

test('dropRemoteCandidates: all for ICE lite, only mDNS names otherwise', () => {
  assert.equal((dropRemoteCandidates(CHROMIUM_OFFER, true).match(/a=candidate/g) ?? []).length, 0);
  const kept = dropRemoteCandidates(CHROMIUM_OFFER, false);
  assert.equal((kept.match(/a=candidate/g) ?? []).length, 1);
  assert.match(kept, /192\.0\.2\.2 54222/);
});

test('rewriteCandidates: host candidates filtered to allowed addresses and announced as the public IP', () => {
  const answer = [
    'v=0', 'm=video 9 UDP/TLS/RTP/SAVPF 108',
    'a=candidate:1 1 udp 2116026367 127.0.0.1 40000 typ host generation 0',
    'a=candidate:2 1 udp 2116026367 192.0.2.2 40002 typ host generation 0',
    'a=candidate:3 1 udp 1677729535 203.0.113.5 40003 typ srflx raddr 192.0.2.2 rport 40002',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=candidate:1 1 udp 2116026367 127.0.0.1 40000 typ host generation 0',
  ].join('\r\n');
  const loop = rewriteCandidates(answer, { hostAddresses: ['127.0.0.1'] });
  assert.deepEqual(loop.split('\r\n').filter((l) => l.startsWith('a=candidate')).map((l) => l.split(' ')[4]), ['127.0.0.1', '203.0.113.5', '127.0.0.1']);
  const nat = rewriteCandidates(answer, { hostAddresses: ['192.0.2.2'], announcedIp: '198.51.100.7' });
  assert.deepEqual(nat.split('\r\n').filter((l) => l.startsWith('a=candidate')).map((l) => `${l.split(' ')[4]}:${l.split(' ')[5]}`), ['198.51.100.7:40002', '203.0.113.5:40003']);
  assert.equal(rewriteCandidates(answer, { hostAddresses: [] }), answer);
});

test('ntpFromUnixMs: NTP seconds since 1900 and a binary fraction', () => {
  assert.equal(ntpFromUnixMs(0), 2_208_988_800n << 32n);
  assert.equal(ntpFromUnixMs(1500), ((2_208_988_800n + 1n) << 32n) | 0x8000_0000n);
  assert.equal(ntpFromUnixMs(250) & 0xffff_ffffn, 0x4000_0000n);
});
