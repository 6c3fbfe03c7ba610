/**
 * Undecodable frames at ingest (issue 20 #2): the pure check, and the hub dropping, counting
 * (per stream for the owner, per protocol and reason for Prometheus) and never forwarding them,
 * while every decodable frame — however small — goes through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { StreamHub } from '../../../../src/media/hub/hub.js';
import { registerMediaMetrics } from '../../../../src/media/hub/metrics.js';
import { FRAME_DROP_EMPTY_PAYLOAD, FRAME_DROP_NO_CODEC_CONFIG, undecodableReason } from '../../../../src/media/hub/frame-check.js';
import { unplayableWarningsOf, WARNING_VIDEO_PROFILE_UNPLAYABLE } from '../../../../src/media/hub/playability.js';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../../../../src/media/hub/types.js';
import { silentLogger } from '../../../../src/observability/logger.js';

const video: VideoTrackInfo = { codec: 'avc', config: Buffer.from('0164001fff', 'hex'), width: 1280, height: 720, codecString: 'avc1.64001f', profile: 100 };
const aac: AudioTrackInfo = { codec: 'aac', config: Buffer.from('1210', 'hex'), sampleRate: 44100, channels: 2, codecString: 'mp4a.40.2' };
const mp3: AudioTrackInfo = { codec: 'mp3', config: Buffer.alloc(0), sampleRate: 44100, channels: 2, codecString: 'mp4a.40.34' };
const frame = (kind: 'video' | 'audio', codec: MediaFrame['codec'], data: Buffer, dts = 0): MediaFrame => ({ kind, codec, dts, pts: dts, keyframe: kind === 'video', data });

test('undecodableReason: empty payloads and frames before their codec configuration, nothing else', () => {
  const cases: { name: string; f: MediaFrame; v?: VideoTrackInfo; a?: AudioTrackInfo; want: string | null }[] = [
    { name: 'header-only AAC tag', f: frame('audio', 'aac', Buffer.alloc(0)), a: aac, want: FRAME_DROP_EMPTY_PAYLOAD },
    { name: 'empty video', f: frame('video', 'avc', Buffer.alloc(0)), v: video, want: FRAME_DROP_EMPTY_PAYLOAD },
    { name: 'empty MP3', f: frame('audio', 'mp3', Buffer.alloc(0)), a: mp3, want: FRAME_DROP_EMPTY_PAYLOAD },
    { name: 'AAC without a sequence header', f: frame('audio', 'aac', Buffer.from([0x21, 0x10])), want: FRAME_DROP_NO_CODEC_CONFIG },
    { name: 'AAC under an MP3 track', f: frame('audio', 'aac', Buffer.from([0x21, 0x10])), a: mp3, want: FRAME_DROP_NO_CODEC_CONFIG },
    { name: 'AVC without avcC', f: frame('video', 'avc', Buffer.from('0000000165', 'hex')), want: FRAME_DROP_NO_CODEC_CONFIG },
    { name: 'HEVC under an AVC track', f: frame('video', 'hevc', Buffer.from('0000000126', 'hex')), v: video, want: FRAME_DROP_NO_CODEC_CONFIG },
    { name: 'a one-byte AAC frame (valid: digital silence can be this small)', f: frame('audio', 'aac', Buffer.from([0x01])), a: aac, want: null },
    { name: 'an AVC frame', f: frame('video', 'avc', Buffer.from('0000000165', 'hex')), v: video, want: null },
    { name: 'MP3 needs no configuration record', f: frame('audio', 'mp3', Buffer.from('fffb9064', 'hex')), a: mp3, want: null },
    { name: 'Opus needs no configuration record', f: frame('audio', 'opus', Buffer.from([0xfc])), want: null },
    { name: 'audio without video is fine', f: frame('audio', 'aac', Buffer.from([0x21])), a: aac, want: null },
  ];
  for (const c of cases) assert.equal(undecodableReason(c.f, c.v, c.a), c.want, c.name);
});

test('the hub drops undecodable frames before any output, counts them per stream and per protocol/reason, and forwards the rest', async () => {
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 22, viewerStallMs: 60_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const registry = new Registry();
  registerMediaMetrics(registry, hub);
  const got: string[] = [];
  hub.subscribe('c', { onFrame: (f) => got.push(`${f.kind} ${f.dts} ${f.data.length}`) });
  const s = hub.publish('c', { protocol: 'rtmp', close: () => undefined });
  assert.ok(s);
  s.pushFrame(frame('audio', 'aac', Buffer.from([0x21, 0x10]), 0)); // before the sequence header
  s.setTracks(video, aac, 0);
  s.pushFrame(frame('video', 'avc', Buffer.from('0000000165', 'hex'), 0));
  s.pushFrame(frame('audio', 'aac', Buffer.from([0x21, 0x10]), 23));
  s.pushFrame(frame('audio', 'aac', Buffer.alloc(0), 46));
  s.pushFrame(frame('audio', 'aac', Buffer.alloc(0), 69));
  s.pushFrame(frame('audio', 'aac', Buffer.from([0x21, 0x10]), 92));
  assert.deepEqual(got, ['video 0 5', 'audio 23 2', 'audio 92 2']);
  const stats = hub.stats('c');
  assert.deepEqual(stats?.droppedFrames, { no_codec_config: 1, empty_payload: 2 });
  assert.deepEqual(stats.warnings, []);
  const metric = await registry.getSingleMetricAsString('onair_ingest_dropped_frames_total');
  assert.match(metric, /onair_ingest_dropped_frames_total\{protocol="rtmp",reason="empty_payload"\} 2/);
  assert.match(metric, /onair_ingest_dropped_frames_total\{protocol="rtmp",reason="no_codec_config"\} 1/);
  s.end('done');

  // A second stream on another protocol adds its own series; the first stream's counts are not carried over.
  const w = hub.publish('c', { protocol: 'whip', close: () => undefined });
  assert.ok(w);
  w.pushFrame(frame('video', 'avc', Buffer.alloc(0), 0));
  w.droppedTrack({ kind: 'audio', codec: 'mp4a-latm', reason: 'unsupported_parameters' });
  w.droppedTrack({ kind: 'audio', codec: 'mp4a-latm', reason: 'unsupported_parameters' }); // once per stream and track
  assert.match(await registry.getSingleMetricAsString('onair_ingest_dropped_tracks_total'), /\{protocol="whip",kind="audio",reason="unsupported_parameters"\} 1$/m);
  assert.deepEqual(hub.stats('c')?.droppedFrames, { empty_payload: 1 });
  assert.match(await registry.getSingleMetricAsString('onair_ingest_dropped_frames_total'), /protocol="whip",reason="empty_payload"\} 1/);
  w.end('done');
});

test('a video profile browsers cannot decode is a warning on the stream, gone when the publisher switches to one they can', () => {
  assert.deepEqual(unplayableWarningsOf({ ...video, profile: 244, codecString: 'avc1.f4001f' }), [
    { code: WARNING_VIDEO_PROFILE_UNPLAYABLE, params: { codec: 'avc', profile: 244, profileName: 'High 4:4:4 Predictive' } },
  ]);
  for (const profile of [66, 77, 100]) assert.deepEqual(unplayableWarningsOf({ ...video, profile }), [], `profile ${profile}`);
  assert.equal(unplayableWarningsOf({ ...video, profile: 110 })[0]?.params.profileName, 'High 10');
  assert.deepEqual(unplayableWarningsOf({ ...video, codec: 'hevc', profile: 244 }), [], 'H.264 profile numbers only');

  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 22, viewerStallMs: 60_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const s = hub.publish('c', { protocol: 'rtmp', close: () => undefined });
  assert.ok(s);
  s.setTracks({ ...video, profile: 244, config: Buffer.from('01f4001fff', 'hex') }, undefined);
  assert.equal(hub.stats('c')?.warnings[0]?.code, WARNING_VIDEO_PROFILE_UNPLAYABLE);
  s.setTracks(video, undefined);
  assert.deepEqual(hub.stats('c')?.warnings, []);
  s.end('done');
});
