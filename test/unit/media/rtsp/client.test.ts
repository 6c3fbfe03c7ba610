import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtspClient, RtspClientError, RTSP_DEFAULT_SESSION_TIMEOUT_MS, selectTracks, sessionTimeoutOf } from '../../../../src/media/rtsp/client.js';

const BASE = 'rtsp://cam:554/stream1/';

test('selectTracks: first H.264 and first AAC are taken, relative controls resolve against the base, others are listed as skipped', () => {
  const sdp = [
    'v=0', 's=x', 'a=control:rtsp://cam:554/stream1/',
    'm=video 0 RTP/AVP 97', 'a=rtpmap:97 H265/90000', 'a=control:trackID=0',
    'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkA,aMuDyyA=', 'a=control:trackID=1',
    'm=audio 0 RTP/AVP 98', 'a=rtpmap:98 MPEG4-GENERIC/48000/2', 'a=fmtp:98 mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1190', 'a=control:trackID=2',
    'm=audio 0 RTP/AVP 0', 'a=control:trackID=3',
    'm=application 0 RTP/AVP 107', 'a=rtpmap:107 vnd.onvif.metadata/90000',
  ].join('\r\n');
  const { tracks, aggregate } = selectTracks(sdp, BASE);
  assert.equal(aggregate, 'rtsp://cam:554/stream1/');
  assert.equal(tracks.video?.payloadType, 96);
  assert.equal(tracks.video?.control, 'rtsp://cam:554/stream1/trackID=1');
  assert.deepEqual([tracks.video?.sps?.[0], tracks.video?.pps?.[0]], [0x67, 0x68]);
  assert.equal(tracks.audio?.clockRate, 48000);
  assert.equal(tracks.audio?.config.toString('hex'), '1190');
  const payload = tracks.audio?.payload;
  assert.deepEqual(payload?.format === 'mpeg4-generic' && { s: payload.params.sizeLength, i: payload.params.indexLength }, { s: 13, i: 3 });
  assert.deepEqual(tracks.skipped, ['video H265/90000', 'audio PCMU/8000', 'application vnd.onvif.metadata/90000']);
  // What the owner's /live names as dropped tracks.
  assert.deepEqual(tracks.dropped, [
    { kind: 'video', codec: 'h265', reason: 'unsupported_codec' },
    { kind: 'audio', codec: 'pcmu', reason: 'unsupported_codec' },
    { kind: 'data', codec: 'vnd.onvif.metadata', reason: 'unsupported_codec' },
  ]);
});

test('selectTracks: AAC without config= and Opus are skipped (video-only); packetization-mode 2 and no tracks are errors', () => {
  const v = ['v=0', 's=x', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000'];
  const r = selectTracks([...v, 'm=audio 0 RTP/AVP 97', 'a=rtpmap:97 MPEG4-GENERIC/44100/2', 'm=audio 0 RTP/AVP 111', 'a=rtpmap:111 opus/48000/2'].join('\n'), BASE);
  assert.ok(r.tracks.video && !r.tracks.audio);
  assert.equal(r.tracks.skipped.length, 2);
  assert.match(r.tracks.skipped[0]!, /^audio MPEG4-GENERIC \(sdp: mpeg4-generic without a config=/);
  assert.equal(r.tracks.skipped[1], 'audio opus/48000');
  assert.equal(r.aggregate, BASE, 'no session a=control: the base');
  assert.throws(() => selectTracks([...v, 'a=fmtp:96 packetization-mode=2'].join('\n'), BASE), (e: Error) => e instanceof RtspClientError && /no H\.264 or AAC track in the SDP \(video H264 packetization-mode 2\)/.test(e.message));
  assert.throws(() => selectTracks('v=0\ns=x\n', BASE), /no H\.264 or AAC track in the SDP \(no media sections\)/);
  assert.throws(() => selectTracks('<html>', BASE), /bad SDP in DESCRIBE answer/);
});

test('selectTracks: AAC in MP4A-LATM (cpresent=0) is taken; LATM with in-band configuration is dropped for its parameters', () => {
  const v = ['v=0', 's=x', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000'];
  const latm = selectTracks([...v, 'm=audio 0 RTP/AVP 97', 'a=rtpmap:97 MP4A-LATM/44100/2', 'a=fmtp:97 cpresent=0;config=40002420', 'a=control:audio'].join('\n'), BASE);
  assert.equal(latm.tracks.audio?.payload.format, 'mp4a-latm');
  assert.equal(latm.tracks.audio.config.toString('hex'), '1210');
  assert.equal(latm.tracks.audio.clockRate, 44100);
  assert.deepEqual(latm.tracks.dropped, []);
  const inBand = selectTracks([...v, 'm=audio 0 RTP/AVP 97', 'a=rtpmap:97 MP4A-LATM/44100/2', 'a=fmtp:97 cpresent=1'].join('\n'), BASE);
  assert.equal(inBand.tracks.audio, undefined);
  assert.match(inBand.tracks.skipped[0] ?? '', /^audio MP4A-LATM \(sdp: MP4A-LATM with cpresent=1/);
  assert.deepEqual(inBand.tracks.dropped, [{ kind: 'audio', codec: 'mp4a-latm', reason: 'unsupported_parameters' }]);
});

test('sessionTimeoutOf reads ;timeout=N, else 60 s; the client refuses non-rtsp URLs with the URL masked', () => {
  assert.equal(sessionTimeoutOf('12345678;timeout=30'), 30_000);
  assert.equal(sessionTimeoutOf('12345678; timeout = 5'), 5_000);
  assert.equal(sessionTimeoutOf('12345678'), RTSP_DEFAULT_SESSION_TIMEOUT_MS);
  assert.equal(sessionTimeoutOf(undefined), RTSP_DEFAULT_SESSION_TIMEOUT_MS);
  assert.throws(() => new RtspClient({ url: 'http://u:secret@cam/x' }), (e: Error) => /not an rtsp:\/\/ URL: http:\/\/\*\*\*@cam\/x/.test(e.message) && !e.message.includes('secret'));
  assert.throws(() => new RtspClient({ url: 'rtsp://u:secret@[bad' }), (e: Error) => /bad RTSP URL/.test(e.message) && !e.message.includes('secret'));
});
