import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMediaPlaylist, renderMultivariantPlaylist, skippableSegments, type MediaPlaylistModel, type PlaylistSegment } from '../../../../src/media/hls/playlist.js';
import { HlsPackager } from '../../../../src/media/hls/packager.js';
import { synthFrames, videoTrack, audioTrack } from '../../../../testkit/hls-frames.js';
import { parseMediaPlaylist, checkPlaylist } from '../../helpers/m3u8.js';

function seg(msn: number, over: Partial<PlaylistSegment> = {}): PlaylistSegment {
  return { msn, uri: `s${msn}.m4s`, durationSeconds: 2, programDateTime: Date.UTC(2026, 0, 1, 0, 0, 2 * msn), discontinuity: false, mapUri: 'init.mp4', complete: true, ...over };
}

function model(over: Partial<MediaPlaylistModel> = {}): MediaPlaylistModel {
  return {
    targetDurationSeconds: 2, partTargetSeconds: 0.333, mediaSequence: 10, discontinuitySequence: 0,
    segments: [seg(10), seg(11), seg(12, { parts: [{ uri: 'p1.m4s', durationSeconds: 1, independent: true }, { uri: 'p2.m4s', durationSeconds: 1, independent: false }] }),
      seg(13, { complete: false, parts: [{ uri: 'p3.m4s', durationSeconds: 0.32, independent: true }] })],
    holdBackSeconds: 6, partHoldBackSeconds: 0.999, canSkipUntilSeconds: 12, preloadHintUri: 'p4.m4s', ended: false, ...over,
  };
}

test('playlist: media playlist tags, order and attributes', () => {
  const text = renderMediaPlaylist(model({ renditionReports: [{ uri: '../low/playlist.m3u8', lastMsn: 13, lastPart: 0 }] }));
  assert.equal(text, [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    '#EXT-X-TARGETDURATION:2',
    '#EXT-X-MEDIA-SEQUENCE:10',
    '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.999,HOLD-BACK=6,CAN-SKIP-UNTIL=12',
    '#EXT-X-PART-INF:PART-TARGET=0.333',
    '#EXT-X-MAP:URI="init.mp4"',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:20.000Z',
    '#EXTINF:2.00000,',
    's10.m4s',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:22.000Z',
    '#EXTINF:2.00000,',
    's11.m4s',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:24.000Z',
    '#EXT-X-PART:DURATION=1,URI="p1.m4s",INDEPENDENT=YES',
    '#EXT-X-PART:DURATION=1,URI="p2.m4s"',
    '#EXTINF:2.00000,',
    's12.m4s',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:26.000Z',
    '#EXT-X-PART:DURATION=0.32,URI="p3.m4s",INDEPENDENT=YES',
    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p4.m4s"',
    '#EXT-X-RENDITION-REPORT:URI="../low/playlist.m3u8",LAST-MSN=13,LAST-PART=0',
    '',
  ].join('\n'));
});

test('playlist: ENDLIST replaces the preload hint; discontinuity and new map', () => {
  const text = renderMediaPlaylist(model({ ended: true, discontinuitySequence: 2, segments: [seg(10), seg(11, { discontinuity: true, mapUri: 'init2.mp4' })] }));
  assert.match(text, /#EXT-X-DISCONTINUITY-SEQUENCE:2\n/);
  assert.match(text, /s10\.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init2\.mp4"\n#EXT-X-PROGRAM-DATE-TIME/);
  assert.ok(text.endsWith('#EXT-X-ENDLIST\n'));
  assert.doesNotMatch(text, /PRELOAD-HINT/);
});

test('playlist: delta update skips only segments older than CAN-SKIP-UNTIL and keeps the map', () => {
  const segments = Array.from({ length: 10 }, (_, i) => seg(i));
  const m = model({ mediaSequence: 0, segments, canSkipUntilSeconds: 12 });
  // 20 s total; boundary at 8 s: segments ending at <= 8 s (0..3) may be skipped.
  assert.equal(skippableSegments(m), 4);
  const text = renderMediaPlaylist(m, { skip: true });
  assert.match(text, /#EXT-X-PART-INF:PART-TARGET=0\.333\n#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n#EXT-X-MAP:URI="init\.mp4"\n/);
  assert.doesNotMatch(text, /s3\.m4s/);
  assert.match(text, /s4\.m4s/);
  assert.match(text, /#EXT-X-MEDIA-SEQUENCE:0\n/);
  // nothing skippable: a full playlist, no SKIP tag
  assert.doesNotMatch(renderMediaPlaylist(model(), { skip: true }), /EXT-X-SKIP/);
  // a discontinuity stops the skip range
  segments[2] = seg(2, { discontinuity: true });
  assert.equal(skippableSegments(model({ segments })), 2);
});

test('playlist: multivariant with codecs, resolution and a subtitles group', () => {
  const v = { uri: 'source/playlist.m3u8', bandwidth: 1234567.4, codecs: 'avc1.64001f,mp4a.40.2', resolution: { width: 1280, height: 720 }, frameRate: 25 };
  assert.equal(renderMultivariantPlaylist({ variants: [v] }), [
    '#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-STREAM-INF:BANDWIDTH=1234567,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=25.000',
    'source/playlist.m3u8', ''].join('\n'));
  const withSubs = renderMultivariantPlaylist({ variants: [v], subtitles: [{ groupId: 'subs', name: 'Korean', language: 'ko', uri: 'captions/playlist.m3u8', default: true }] });
  assert.match(withSubs, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Korean",LANGUAGE="ko",DEFAULT=YES,AUTOSELECT=YES,URI="captions\/playlist\.m3u8"\n/);
  assert.match(withSubs, /FRAME-RATE=25\.000,SUBTITLES="subs"\n/);
});

test('playlist: packager model passes structural checks over a long run', () => {
  const p = new HlsPackager({ name: 'source', targetDurationSeconds: 2, partTargetSeconds: 0.333, windowSegments: 7 });
  p.onTracks(videoTrack, audioTrack);
  let lastSeq = -1;
  for (const [i, f] of synthFrames({ seconds: 30 }).entries()) {
    p.onFrame(f);
    if (i % 97 !== 0) continue;
    const text = renderMediaPlaylist(p.playlistModel());
    if (p.lastPosition()) checkPlaylist(parseMediaPlaylist(text));
    const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? -1);
    assert.ok(seq >= lastSeq);
    lastSeq = seq;
    const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)![1]);
    for (const m of text.matchAll(/#EXTINF:([\d.]+),/g)) assert.ok(Math.round(Number(m[1])) <= target);
    for (const m of text.matchAll(/#EXT-X-PART:DURATION=([\d.]+)/g)) assert.ok(Number(m[1]) <= 0.333);
    assert.ok(text.indexOf('#EXT-X-MAP') < text.indexOf('#EXTINF') || !text.includes('#EXTINF'));
    const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
    for (const u of uris) assert.ok(p.resource(u), `listed segment ${u} is served`);
    for (const m of text.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)) assert.ok(p.resource(m[1]!), `listed part ${m[1]} is served`);
  }
  assert.ok(lastSeq > 5);
});
