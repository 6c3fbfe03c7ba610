// Sections of a WHIP offer the ingest rejects: taken out of the offer werift sees (and out of
// its BUNDLE group), and put back into werift's answer as port-0 sections in the offer's order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutSections, withRejectedSections } from '../../../../src/media/whip/rejected-sections.js';
import { parseOffer } from '../../../../src/media/webrtc/sdp.js';

const OFFER = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1 2',
  'm=video 9 UDP/TLS/RTP/SAVPF 102', 'c=IN IP4 0.0.0.0', 'a=sendonly', 'a=mid:0', 'a=rtpmap:102 H264/90000',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=sendonly', 'a=mid:1', 'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97', 'c=IN IP4 0.0.0.0', 'a=sendonly', 'a=mid:2', 'a=rtpmap:96 VP8/90000', 'a=rtpmap:97 rtx/90000',
  '',
].join('\r\n');

test('withoutSections drops the sections and their mids from the BUNDLE group', () => {
  const sdp = withoutSections(OFFER, new Set([2]));
  assert.match(sdp, /^a=group:BUNDLE 0 1\r$/m);
  assert.deepEqual(parseOffer(sdp).map((m) => m.mid), ['0', '1']);
  assert.doesNotMatch(sdp, /VP8/);
  assert.equal(withoutSections(OFFER, new Set()), OFFER, 'nothing dropped: the same text');
});

test('withRejectedSections answers the dropped section with port 0, its mid and inactive, in its place', () => {
  const answer = [
    'v=0', 'o=- 9 9 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 102', 'c=IN IP4 0.0.0.0', 'a=recvonly', 'a=mid:0', 'a=rtpmap:102 H264/90000',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=recvonly', 'a=mid:1', 'a=rtpmap:111 opus/48000/2', '',
  ].join('\r\n');
  const full = withRejectedSections(answer, OFFER, new Set([2]));
  assert.equal(full, answer + ['m=video 0 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:2', 'a=inactive', ''].join('\r\n'));
  const middle = withRejectedSections(withoutSections(answer, new Set([0])), answer, new Set([0]));
  assert.deepEqual(parseOffer(middle).map((m) => [m.mid, m.port, m.direction]), [['0', 0, 'inactive'], ['1', 9, 'recvonly']]);
});
