// The WHIP offer sections the ingest does not take, named for the owner's droppedTracks: a second
// H.264 video or Opus audio is an extra track, another codec is unsupported (named by its first
// real payload format, not rtx/red/ulpfec; by number without an rtpmap), a data channel is data; sections the publisher does
// not send on, and the chosen ones, are not dropped tracks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOffer } from '../../../../src/media/webrtc/sdp.js';
import { chooseIngestCodecs } from '../../../../src/media/whip/session.js';
import { droppedSectionsOf } from '../../../../src/media/whip/dropped.js';

const H264 = ['a=rtpmap:102 H264/90000', 'a=fmtp:102 packetization-mode=1;profile-level-id=42e01f', 'a=rtpmap:103 rtx/90000', 'a=fmtp:103 apt=102'];
const section = (kind: string, pts: string, dir: string, mid: number, lines: string[], proto = 'UDP/TLS/RTP/SAVPF') =>
  [`m=${kind} 9 ${proto} ${pts}`, 'c=IN IP4 0.0.0.0', `a=${dir}`, `a=mid:${mid}`, ...lines];
const offer = (...sections: string[][]) => ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', ...sections.flat(), ''].join('\r\n');

const VIDEO = section('video', '102 103', 'sendonly', 0, H264);
const AUDIO = section('audio', '111', 'sendonly', 1, ['a=rtpmap:111 opus/48000/2']);

function dropped(sdp: string) {
  const media = parseOffer(sdp);
  const choice = chooseIngestCodecs(media);
  return droppedSectionsOf(media, new Set([choice.video.index, choice.audio.index]));
}

test('an offer of one H.264 video and one Opus audio drops nothing', () => {
  assert.deepEqual(dropped(offer(VIDEO, AUDIO)), []);
});

test('a second video section: VP8 is an unsupported codec (rtx not named), H.264 an extra track', () => {
  const vp8 = section('video', '97 96', 'sendonly', 2, ['a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96', 'a=rtpmap:96 VP8/90000']);
  assert.deepEqual(dropped(offer(VIDEO, AUDIO, vp8)), [{ kind: 'video', codec: 'vp8', reason: 'unsupported_codec' }]);
  assert.deepEqual(dropped(offer(VIDEO, AUDIO, section('video', '102 103', 'sendonly', 2, H264))), [{ kind: 'video', codec: 'h264', reason: 'extra_track' }]);
});

test('a second audio section, a data channel, and sections that do not send', () => {
  const pcmu = section('audio', '0', 'sendonly', 2, []);
  const opus2 = section('audio', '111', 'sendrecv', 3, ['a=rtpmap:111 opus/48000/2']);
  const data = section('application', 'webrtc-datachannel', 'sendrecv', 4, ['a=sctp-port:5000'], 'UDP/DTLS/SCTP');
  const recvonly = section('video', '96', 'recvonly', 5, ['a=rtpmap:96 VP9/90000']);
  assert.deepEqual(dropped(offer(VIDEO, AUDIO, pcmu, opus2, data, recvonly)), [
    { kind: 'audio', codec: 'payload_type_0', reason: 'unsupported_codec' },
    { kind: 'audio', codec: 'opus', reason: 'extra_track' },
    { kind: 'data', codec: 'application', reason: 'unsupported_codec' },
  ]);
});

test('the same kind and codec twice is named once', () => {
  const vp8 = (mid: number) => section('video', '96', 'sendonly', mid, ['a=rtpmap:96 VP8/90000']);
  assert.deepEqual(dropped(offer(VIDEO, AUDIO, vp8(2), vp8(3))), [{ kind: 'video', codec: 'vp8', reason: 'unsupported_codec' }]);
});
