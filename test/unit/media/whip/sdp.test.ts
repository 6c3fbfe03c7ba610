import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOffer, SdpError } from '../../../../src/media/webrtc/sdp.js';
import { chooseIngestCodecs, ntpToUnixMs } from '../../../../src/media/whip/session.js';

function offer(video: string, audio: string, dir = 'sendonly'): string {
  return [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
    `m=video 9 UDP/TLS/RTP/SAVPF ${video}`, 'c=IN IP4 0.0.0.0', `a=${dir}`, 'a=mid:0',
    'a=rtpmap:96 VP8/90000',
    'a=rtpmap:102 H264/90000', 'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
    'a=rtpmap:104 H264/90000', 'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
    'a=rtpmap:106 H264/90000', 'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    `m=audio 9 UDP/TLS/RTP/SAVPF ${audio}`, 'c=IN IP4 0.0.0.0', `a=${dir}`, 'a=mid:1',
    'a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000', '',
  ].join('\r\n');
}

test('chooseIngestCodecs: H.264 mode 1 (constrained baseline first) and Opus from sendonly sections', () => {
  const c = chooseIngestCodecs(parseOffer(offer('96 102 104 106', '111 0')));
  assert.equal(c.video.index, 0);
  assert.equal(c.video.codec.pt, 106);
  assert.equal(c.audio.index, 1);
  assert.equal(c.audio.codec.pt, 111);
  // Without 42e01f the first mode-1 H.264 is taken; mode 0 never is.
  assert.equal(chooseIngestCodecs(parseOffer(offer('96 104 102', '111'))).video.codec.pt, 102);
});

test('chooseIngestCodecs refuses offers without H.264 mode 1, without Opus, or that do not send', () => {
  assert.throws(() => chooseIngestCodecs(parseOffer(offer('96', '111'))), (e: Error) => e instanceof SdpError && /H\.264/.test(e.message));
  assert.throws(() => chooseIngestCodecs(parseOffer(offer('96 104', '111'))), /H\.264/);
  assert.throws(() => chooseIngestCodecs(parseOffer(offer('102', '0'))), /Opus/);
  assert.throws(() => chooseIngestCodecs(parseOffer(offer('102', '111', 'recvonly'))), /no video section to publish/);
});

test('ntpToUnixMs: NTP 64-bit timestamps to Unix milliseconds', () => {
  const unixS = 1_800_000_000;
  const ntp = (BigInt(unixS + 2_208_988_800) << 32n) | 0x8000_0000n; // + 0.5 s
  assert.equal(ntpToUnixMs(ntp), unixS * 1000 + 500);
});
