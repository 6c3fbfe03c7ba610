/**
 * TsIngest with a real ffmpeg transport stream (H.264 with B-frames + AAC) pushed in odd-sized
 * pieces: the hub stream starts at the first keyframe with both codec headers, timestamps start
 * at 0 and advance at the frame rate across the 33-bit PTS wrap, and a gap drops video until
 * the next keyframe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { silentLogger } from '../../../../src/observability/logger.js';
import { StreamHub } from '../../../../src/media/hub/hub.js';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../../../../src/media/hub/types.js';
import { TsIngest } from '../../../../src/media/srt/ingest.js';
import { TS_PACKET_SIZE } from '../../../../src/formats/mpegts-demux.js';
import { splitLengthPrefixed } from '../../../../src/formats/avc.js';
import { parseHevcDecoderConfig } from '../../../../src/formats/hevc.js';
import { seededRandom } from '../../../../testkit/prng.js';
import { at } from '../../../../testkit/at.js';

/** An offset that makes the PTS wrap about 1.5 s into the stream (ffmpeg's mpegts adds 1.4 s of mux delay). */
const WRAP_OFFSET_S = 2 ** 33 / 90_000 - 2.9;

function ffmpegTs(seconds: number, offsetS = 0): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=25:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '2', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-output_ts_offset', String(offsetS), '-f', 'mpegts', 'pipe:1'], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

function setup() {
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 23, viewerStallMs: 10_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const got = { video: [] as MediaFrame[], audio: [] as MediaFrame[], tracks: [] as [VideoTrackInfo | undefined, AudioTrackInfo | undefined][] };
  hub.subscribe('cam', { onTracks: (v, a) => got.tracks.push([v, a]), onFrame: (f) => (f.kind === 'video' ? got.video : got.audio).push(f) });
  let ended = '';
  const ingest = new TsIngest({ channel: 'cam', hub, logger: silentLogger(), onEnd: (r) => { ended = r; } });
  return { hub, got, ingest, ended: () => ended };
}

function pushSplit(ingest: TsIngest, ts: Buffer, seed: number): void {
  const rand = seededRandom(seed);
  for (let i = 0; i < ts.length; ) {
    const n = 1 + Math.floor(rand() * 3000);
    ingest.push(ts.subarray(i, i + n));
    i += n;
  }
}

test('an ffmpeg stream goes live at its first keyframe with both headers; timestamps from 0, B-frame offsets kept', () => {
  const t = setup();
  pushSplit(t.ingest, ffmpegTs(3), 1);
  assert.ok(t.hub.isLive('cam'));
  assert.equal(t.ended(), '');
  const [v, a] = t.got.tracks.at(-1)!;
  assert.equal(v?.codec, 'avc');
  assert.equal(v?.width, 320);
  assert.equal(a?.codec, 'aac');
  assert.equal(a?.sampleRate, 48000);
  // Outputs fixed their tracks once, with both codecs (headers before frames).
  assert.ok(at(t.got.tracks, 0)[0] && t.got.tracks.some(([vv, aa]) => vv && aa));
  assert.ok(t.got.tracks.findIndex(([vv, aa]) => vv && aa) <= 1);
  const video = t.got.video;
  assert.ok(video.length >= 73, `video frames: ${video.length}`); // the last frame waits for a next PES or flush
  assert.equal(at(video, 0).keyframe, true);
  assert.equal(at(video, 0).dts, 0);
  for (let i = 1; i < video.length; i++) assert.equal(at(video, i).dts - at(video, i - 1).dts, 40, `frame ${i}`);
  assert.ok(video.some((f) => f.pts > f.dts), 'B-frames keep their composition offset');
  assert.equal(video.filter((f) => f.keyframe).length, 3);
  for (const f of video) assert.ok(splitLengthPrefixed(f.data).length >= 1);
  const audio = t.got.audio;
  assert.ok(audio.length > 130, `audio frames: ${audio.length}`);
  assert.ok(at(audio, 0).dts >= 0 && at(audio, 0).dts < 100, `first audio at ${at(audio, 0).dts}`);
  for (let i = 1; i < audio.length; i++) assert.ok(Math.abs(at(audio, i).dts - at(audio, i - 1).dts - 21.33) <= 1, `audio step at ${i}`);
});

test('timestamps run on across the 33-bit PTS wrap', () => {
  const t = setup();
  pushSplit(t.ingest, ffmpegTs(3, WRAP_OFFSET_S), 2);
  const video = t.got.video;
  assert.ok(video.length >= 73);
  for (let i = 1; i < video.length; i++) assert.equal(at(video, i).dts - at(video, i - 1).dts, 40, `frame ${i}`);
  const audio = t.got.audio;
  assert.ok(audio.at(-1)!.dts > 2800, `audio reaches ${audio.at(-1)!.dts}`);
});

test('a gap (packets SRT gave up) drops video until the next keyframe; audio goes on', () => {
  const t = setup();
  const ts = ffmpegTs(3);
  const cut = Math.floor(ts.length / TS_PACKET_SIZE / 2.5) * TS_PACKET_SIZE;
  t.ingest.push(ts.subarray(0, cut));
  const before = t.got.video.length;
  t.ingest.gap();
  t.ingest.push(ts.subarray(cut + 7 * TS_PACKET_SIZE));
  const after = t.got.video.slice(before);
  assert.ok(after.length > 10);
  assert.equal(at(after, 0).keyframe, true, 'the first video frame after the gap is a keyframe');
  assert.equal(at(after, 0).dts % 1000, 0, 'it is the 1 s GOP boundary');
  assert.ok(t.ingest.stats.videoSkipped > 0);
  assert.ok(t.got.audio.at(-1)!.dts > 2800, 'audio continued');
});

test('another publisher holding the channel ends the ingest', () => {
  const t = setup();
  t.hub.publish('cam', { protocol: 'rtmp', close: () => undefined });
  pushSplit(t.ingest, ffmpegTs(1), 3);
  assert.equal(t.ended(), 'channel already live');
  assert.equal(t.ingest.ended, true);
});

test('HEVC (stream type 0x24) goes in as Enhanced RTMP hvc1 with an hvcC built from VPS/SPS/PPS', () => {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=duration=2',
    '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'keyint=25:log-level=error', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', 'pipe:1'], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  const t = setup();
  pushSplit(t.ingest, r.stdout, 4);
  assert.ok(t.hub.isLive('cam'));
  const [v, a] = t.got.tracks.at(-1)!;
  assert.equal(v?.codec, 'hevc');
  assert.equal(v?.width, 320);
  assert.equal(v?.height, 240);
  assert.match(v.codecString, /^hvc1\.1\./);
  assert.equal(a?.codec, 'aac');
  const parsed = parseHevcDecoderConfig(v.config);
  assert.deepEqual(parsed.arrays.map((x) => x.type), [32, 33, 34]);
  assert.equal(parsed.nalLengthSize, 4);
  assert.ok(t.got.video.length >= 45);
  assert.equal(at(t.got.video, 0).keyframe, true);
  assert.equal(t.got.video.filter((f) => f.keyframe).length, 2);
  for (const f of t.got.video) assert.ok(splitLengthPrefixed(f.data).length >= 1);
});
