import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HlsPackager, RESTART_GAP_MS, RETAINED_EXTRA_SEGMENTS, TIMELINE_START_MS } from '../../../../src/media/hls/packager.js';
import { decodeFragments, parseBoxes, must } from '../../helpers/mp4-parse.js';
import { synthFrames, videoTrack, audioTrack, type SynthOptions } from '../../../../testkit/hls-frames.js';
import type { MediaFrame } from '../../../../src/media/hub/types.js';
import { renderMediaPlaylist } from '../../../../src/media/hls/playlist.js';
import { seededRandom } from '../../../../testkit/prng.js';
import { parseMediaPlaylist } from '../../helpers/m3u8.js';

function makePackager(over: Partial<ConstructorParameters<typeof HlsPackager>[0]> = {}) {
  return new HlsPackager({ name: 'source', targetDurationSeconds: 2, partTargetSeconds: 0.333, windowSegments: 7, now: () => 1_700_000_000_000, tag: 'abcd', ...over });
}

function run(p: HlsPackager, o: SynthOptions, tracks = { video: o.video !== false, audio: o.audio !== false }): MediaFrame[] {
  p.onTracks(tracks.video ? videoTrack : undefined, tracks.audio ? audioTrack : undefined);
  const frames = synthFrames(o);
  for (const f of frames) p.onFrame(f);
  return frames;
}

/** allParts returns every part still in memory, in order. */
function allParts(p: HlsPackager) {
  return [...p.segments, ...(p.current ? [p.current] : [])].flatMap((s) => s.parts);
}

test('packager: A/V segments cut at keyframes every 2 s, parts <= part target and >= 85 % except the last', () => {
  const p = makePackager();
  run(p, { seconds: 9 });
  const segs = p.segments;
  assert.equal(segs.length, 4); // 0-2, 2-4, 4-6, 6-8 (8-9 in progress)
  for (const s of segs) {
    assert.equal(s.durationMs, 2000);
    assert.ok(s.parts[0]!.independent, 'first part of a segment starts at a keyframe');
    s.parts.forEach((part, i) => {
      assert.ok(part.durationMs <= 333 + 1e-9, `part ${i} ${part.durationMs}`);
      if (i < s.parts.length - 1) assert.ok(part.durationMs >= 0.85 * 333, `part ${i} ${part.durationMs}`);
      if (i > 0) assert.equal(part.independent, false);
      assert.equal(part.index, i);
      assert.equal(part.msn, s.msn);
    });
    assert.deepEqual(s.bytes, Buffer.concat(s.parts.map((x) => x.bytes)));
  }
  assert.deepEqual(segs.map((s) => s.msn), [0, 1, 2, 3]);
  assert.ok(p.current && p.current.parts.length > 0);
});

test('packager: decode times are continuous across parts for both tracks, durations exact', () => {
  const p = makePackager();
  const frames = run(p, { seconds: 6.5 });
  p.onEnd();
  let nextV: bigint | undefined;
  let nextA: bigint | undefined;
  let videoSamples = 0;
  let seq = 0;
  for (const part of allParts(p)) {
    for (const f of decodeFragments(part.bytes)) {
      assert.ok(f.sequenceNumber > seq, 'mfhd sequence increases');
      seq = f.sequenceNumber;
      for (const t of f.trafs) {
        const dur = t.samples.reduce((a, s) => a + (s.duration ?? 0), 0);
        if (t.trackId === 1) {
          if (nextV !== undefined) assert.equal(t.baseMediaDecodeTime, nextV);
          nextV = t.baseMediaDecodeTime + BigInt(dur);
          for (const s of t.samples) assert.equal(s.duration, 3600);
          videoSamples += t.samples.length;
        } else {
          if (nextA !== undefined) assert.equal(t.baseMediaDecodeTime, nextA);
          nextA = t.baseMediaDecodeTime + BigInt(dur);
          for (const s of t.samples) assert.equal(s.duration, 1024);
        }
      }
    }
  }
  assert.equal(videoSamples, frames.filter((f) => f.kind === 'video').length, 'end flushes every frame');
  // the timeline starts at TIMELINE_START_MS
  const first = decodeFragments(allParts(p)[0]!.bytes)[0]!;
  assert.equal(first.trafs[0]!.baseMediaDecodeTime, BigInt(TIMELINE_START_MS * 90));
});

test('packager: audio-only stream', () => {
  const p = makePackager();
  run(p, { seconds: 7, video: false });
  assert.equal(p.segments.length, 3);
  for (const s of p.segments) {
    assert.ok(Math.abs(s.durationMs - 2000) < 24, `segment ${s.durationMs}`);
    for (const part of s.parts) {
      assert.equal(part.independent, true);
      assert.ok(part.durationMs <= 333);
      const [f] = decodeFragments(part.bytes);
      assert.deepEqual(f!.trafs.map((t) => t.trackId), [2]);
    }
  }
  const init = parseBoxes(p.init!.bytes);
  assert.deepEqual(must(init, 'moov').children.filter((b) => b.type === 'trak').length, 1);
  assert.equal(p.init!.codecs, 'mp4a.40.2');
});

test('packager: video-only stream', () => {
  const p = makePackager();
  run(p, { seconds: 5, audio: false });
  assert.equal(p.segments.length, 2);
  for (const part of allParts(p)) assert.deepEqual(decodeFragments(part.bytes)[0]!.trafs.map((t) => t.trackId), [1]);
  assert.equal(p.init!.codecs, 'avc1.64001f');
});

test('packager: B-frames give composition offsets (pts > dts); keyframes are sync samples', () => {
  const p = makePackager();
  run(p, { seconds: 3, bframes: true, audio: false });
  const f = decodeFragments(p.segments[0]!.parts[0]!.bytes)[0]!;
  const v = f.trafs[0]!;
  assert.equal(v.trunVersion, 1);
  assert.equal(v.samples[0]!.cto, 3600);
  assert.equal(v.samples[1]!.cto, 3 * 3600);
  assert.equal(v.samples[2]!.cto, 0);
  assert.equal(v.samples[0]!.flags, 0x02000000);
  assert.equal(v.samples[1]!.flags, 0x01010000);
});

test('packager: waits for a keyframe before the first segment', () => {
  const p = makePackager();
  p.onTracks(videoTrack, audioTrack);
  const frames = synthFrames({ seconds: 5 });
  const firstKeyAfter = frames.findIndex((f, i) => i > 5 && f.kind === 'video' && f.keyframe);
  for (const f of frames.slice(3)) p.onFrame(f); // starts mid-GOP
  const seg0 = p.segments[0]!;
  assert.equal(seg0.msn, 0);
  const v = decodeFragments(seg0.parts[0]!.bytes)[0]!.trafs.find((t) => t.trackId === 1)!;
  assert.equal(v.samples[0]!.flags, 0x02000000);
  assert.ok(firstKeyAfter > 0);
});

test('packager: RTMP 32-bit timestamp wrap keeps tfdt increasing with exact durations', () => {
  const p = makePackager();
  run(p, { seconds: 8, startMs: 2 ** 32 - 3000 });
  let prevV = -1n;
  let prevA = -1n;
  for (const part of allParts(p)) {
    for (const t of decodeFragments(part.bytes)[0]!.trafs) {
      if (t.trackId === 1) {
        assert.ok(t.baseMediaDecodeTime > prevV);
        for (const s of t.samples) assert.equal(s.duration, 3600);
        prevV = t.baseMediaDecodeTime;
      } else {
        assert.ok(t.baseMediaDecodeTime > prevA);
        for (const s of t.samples) assert.equal(s.duration, 1024);
        prevA = t.baseMediaDecodeTime;
      }
    }
  }
  assert.equal(p.segments.length, 3);
  for (const s of p.segments) assert.equal(s.durationMs, 2000);
});

test('packager: sliding window frees old segments; memory stays bounded', () => {
  const p = makePackager({ windowSegments: 3 });
  run(p, { seconds: 60 });
  assert.equal(p.segments.length, 3 + RETAINED_EXTRA_SEGMENTS);
  assert.equal(p.windowed().length, 3);
  const model = p.playlistModel();
  assert.equal(model.mediaSequence, p.windowed()[0]!.msn);
  assert.equal(p.resource('seg-abcd-0.m4s'), undefined, 'evicted segment is gone');
  assert.ok(p.resource(p.windowed()[0]!.uri));
  assert.ok(p.memoryBytes() < 6 * 200_000);
  // the name index holds only what is still in memory: segments, their parts, the open segment's parts, one init
  const indexed = (p as unknown as { byUri: Map<string, unknown> }).byUri.size;
  const expected = p.segments.length + p.segments.reduce((a, s) => a + s.parts.length, 0) + (p.current?.parts.length ?? 0) + 1;
  assert.equal(indexed, expected);
  assert.equal(p.frameRate(), 25);
  // parts listed only near the live edge
  const withParts = model.segments.filter((s) => s.parts);
  assert.ok(withParts.length >= 3 && withParts.length < model.segments.length + 1);
});

test('packager: end flushes the open segment and sets ENDLIST; hasReached answers everything', () => {
  const p = makePackager();
  run(p, { seconds: 3 });
  assert.equal(p.segments.length, 1);
  p.onEnd();
  assert.equal(p.segments.length, 2);
  assert.equal(p.current, undefined);
  assert.ok(Math.abs(p.segments[1]!.durationMs - 1000) <= 40);
  const m = p.playlistModel();
  assert.equal(m.ended, true);
  assert.equal(m.preloadHintUri, undefined);
  assert.equal(p.hasReached(99, 0), true);
});

test('packager: publisher restart continues MSN and timeline with a discontinuity and a new init', () => {
  const p = makePackager();
  run(p, { seconds: 4.5 });
  p.onEnd();
  const before = p.segments.length;
  const lastEnd = p.segments[before - 1]!.startMs + p.segments[before - 1]!.durationMs;
  const firstInit = p.segments[0]!.init.uri;
  run(p, { seconds: 4.5, startMs: 0 });
  assert.equal(p.ended, false);
  const seg = p.segments[before]!;
  assert.equal(seg.msn, before);
  assert.equal(seg.discontinuity, true);
  assert.notEqual(seg.init.uri, firstInit);
  assert.equal(seg.startMs, lastEnd + RESTART_GAP_MS);
  assert.ok(p.resource(firstInit), 'old init kept while its segments are in the window');
  const firstV = decodeFragments(seg.parts[0]!.bytes)[0]!.trafs[0]!;
  assert.equal(firstV.baseMediaDecodeTime, BigInt((lastEnd + RESTART_GAP_MS) * 90));
});

test('packager: hasReached / lastPosition follow parts and segments', () => {
  const p = makePackager();
  p.onTracks(videoTrack, audioTrack);
  assert.equal(p.hasReached(0, 0), false);
  const frames = synthFrames({ seconds: 2.5 });
  let i = 0;
  while (!p.current || p.current.parts.length === 0) p.onFrame(frames[i++]!);
  assert.deepEqual(p.lastPosition(), { msn: 0, part: 0 });
  assert.equal(p.hasReached(0, 0), true);
  assert.equal(p.hasReached(0, 1), false);
  assert.equal(p.hasReached(0), false);
  for (; i < frames.length; i++) p.onFrame(frames[i]!);
  assert.equal(p.hasReached(0), true);
  assert.equal(p.hasReached(0, 50), true, 'a later segment counts as later');
  assert.equal(p.hasReached(1), false);
});

test('packager: changed codec config mid-stream starts a new init with a discontinuity', () => {
  const p = makePackager();
  run(p, { seconds: 4.2 });
  const other = { ...videoTrack, config: Buffer.concat([videoTrack.config, Buffer.from([0])]) };
  p.onTracks(other, audioTrack);
  for (const f of synthFrames({ seconds: 2.5, startMs: 4200 })) p.onFrame(f);
  const disc = p.segments.filter((s) => s.discontinuity);
  assert.equal(disc.length, 1);
  assert.notEqual(disc[0]!.init.uri, p.segments[0]!.init.uri);
});

test('packager: headers replaced before any media (video first, then audio) give no discontinuity and one init', () => {
  const p = makePackager();
  p.startSession(videoTrack, undefined);
  const firstInit = p.init!.uri;
  p.onTracks(videoTrack, audioTrack);
  assert.notEqual(p.init!.uri, firstInit);
  assert.equal(p.resource(firstInit), undefined, 'the unused init is dropped');
  for (const f of synthFrames({ seconds: 4.5 })) p.onFrame(f);
  assert.equal(p.segments.some((s) => s.discontinuity), false);
  assert.equal(p.init!.codecs, 'avc1.64001f,mp4a.40.2');
});

test('packager: PART-HOLD-BACK follows partHoldBackParts; HOLD-BACK and CAN-SKIP-UNTIL follow the target', () => {
  const p = makePackager({ partHoldBackParts: 5 });
  run(p, { seconds: 3 });
  const m = p.playlistModel();
  assert.equal(m.partHoldBackSeconds, 1.665);
  assert.equal(m.holdBackSeconds, 6);
  assert.equal(m.canSkipUntilSeconds, 12);
  assert.equal(makePackager().playlistModel().partHoldBackSeconds, 0.999);
});

/** jitteredFrames makes video (and optionally audio) frames with uneven timing: jitter, dropped frames, fractional or whole ms. */
function jitteredFrames(random: () => number, o: { fps: number; seconds: number; jitterMs: number; gopSeconds: number; wholeMs: boolean; audio: boolean }): MediaFrame[] {
  const out: { t: number; f: MediaFrame }[] = [];
  const time = (ms: number) => (o.wholeMs ? Math.round(ms) : Math.round(ms * 90) / 90);
  let last = -Infinity;
  let nextKey = 0;
  for (let i = 0; i < o.seconds * o.fps; i++) {
    if (i > 0 && random() < 0.03) continue; // a dropped frame: the one before lasts twice as long
    const dts = Math.max(last + 1, time((i * 1000) / o.fps + (random() - 0.5) * 2 * o.jitterMs));
    last = dts;
    const keyframe = dts >= nextKey;
    if (keyframe) nextKey = dts + o.gopSeconds * 1000;
    out.push({ t: dts, f: { kind: 'video', codec: 'avc', dts, pts: dts, keyframe, data: Buffer.alloc(64, i & 0xff) } });
  }
  if (o.audio) {
    for (let i = 0; (i * 1024 * 1000) / 44100 < o.seconds * 1000; i++) {
      const dts = Math.round((i * 1024 * 1000) / 44100 + (random() - 0.5) * 4);
      out.push({ t: dts + 0.5, f: { kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: Buffer.alloc(32, i & 0xff) } });
    }
  }
  return out.sort((a, b) => a.t - b.t).map((x) => x.f);
}

/** checkPartsWithinTarget renders the playlist and asserts every EXT-X-PART DURATION is at most PART-TARGET, as written. */
function checkPartsWithinTarget(p: HlsPackager, label: string): number {
  const pl = parseMediaPlaylist(renderMediaPlaylist(p.playlistModel()));
  const target = pl.partTarget!;
  for (const seg of pl.segments) for (const part of seg.parts) assert.ok(part.duration <= target, `${label}: part ${part.duration} > PART-TARGET ${target}`);
  for (const part of allParts(p)) assert.ok(part.durationMs / 1000 <= p.partTargetSeconds(), `${label}: part ${part.durationMs} ms`);
  return target;
}

test('packager: over generated frame timings, no part is longer than PART-TARGET, and the target stays the configured one unless one frame outlasts it (issue 20)', () => {
  const PART_TARGETS = [0.2, 0.25, 0.333, 0.5, 1];
  const FRAME_RATES = [10, 15, 24000 / 1001, 24, 25, 30000 / 1001, 30, 50, 60000 / 1001, 60];
  for (let seed = 1; seed <= 150; seed++) {
    const random = seededRandom(seed);
    const partTarget = PART_TARGETS[seed % PART_TARGETS.length]!;
    const fps = FRAME_RATES[Math.floor(random() * FRAME_RATES.length)]!;
    const o = { fps, seconds: 9, jitterMs: random() * 12, gopSeconds: 1 + Math.floor(random() * 3), wholeMs: random() < 0.7, audio: random() < 0.7 };
    const label = `seed ${seed} ${JSON.stringify({ partTarget, ...o })}`;
    const p = makePackager({ partTargetSeconds: partTarget });
    p.onTracks(videoTrack, o.audio ? audioTrack : undefined);
    const frames = jitteredFrames(random, o);
    frames.forEach((f, i) => {
      p.onFrame(f);
      if (i % 37 === 0) checkPartsWithinTarget(p, label);
    });
    const video = frames.filter((f) => f.kind === 'video');
    const longestFrameMs = Math.max(...video.slice(1).map((f, i) => f.dts - video[i]!.dts));
    const target = checkPartsWithinTarget(p, label);
    if (longestFrameMs <= partTarget * 1000) assert.equal(target, partTarget, `${label}: PART-TARGET kept`);
    assert.ok(p.segments.length >= 2, label);
  }
});

test('packager: a stream slower than the part target (2 fps) raises PART-TARGET to its longest part rather than list longer parts', () => {
  const p = makePackager();
  p.onTracks(videoTrack, undefined);
  for (const f of jitteredFrames(seededRandom(7), { fps: 2, seconds: 8, jitterMs: 0, gopSeconds: 2, wholeMs: true, audio: false })) p.onFrame(f);
  assert.ok(checkPartsWithinTarget(p, '2 fps') >= 0.5);
});

test('packager: audio-only parts stay within PART-TARGET over uneven AAC timestamps', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = seededRandom(seed);
    const partTarget = [0.2, 0.333, 0.5][seed % 3]!;
    const p = makePackager({ partTargetSeconds: partTarget });
    p.onTracks(undefined, audioTrack);
    let ms = 0;
    for (let i = 0; i < 400; i++) {
      ms += (1024 * 1000) / 44100 + (random() < 0.02 ? 40 : (random() - 0.5) * 8); // jitter, now and then a gap
      p.onFrame({ kind: 'audio', codec: 'aac', dts: Math.round(ms), pts: Math.round(ms), keyframe: true, data: Buffer.alloc(16) });
      if (i % 29 === 0) checkPartsWithinTarget(p, `audio seed ${seed}`);
    }
    assert.equal(checkPartsWithinTarget(p, `audio seed ${seed}`), partTarget);
  }
});

test('packager: a successor carries on another packager\'s sequence after a discontinuity (failover to another node)', () => {
  const old = makePackager({ tag: 'old1' });
  run(old, { seconds: 5 });
  old.startSession(videoTrack, audioTrack); // a restart on the old node: one discontinuity already
  for (const f of synthFrames({ seconds: 3 })) old.onFrame(f);
  const pos = old.sequencePosition();
  assert.ok(pos);
  assert.equal(pos.nextMsn, (old.current?.msn ?? -1) + 1);
  assert.equal(pos.discontinuity, 1, 'the newest segment follows one discontinuity');
  const oldModel = old.playlistModel();

  const next = makePackager({ tag: 'new1' });
  assert.equal(next.sequencePosition(), undefined, 'nothing to carry on before a segment');
  next.continueSequence({ nextMsn: pos.nextMsn + 1, discontinuity: pos.discontinuity });
  run(next, { seconds: 5 });
  const first = next.segments[0];
  assert.equal(first?.msn, pos.nextMsn + 1, 'the sequence goes on (one number of slack)');
  assert.equal(first.discontinuity, true, 'the switch is a discontinuity');
  const model = next.playlistModel();
  assert.ok(model.mediaSequence > (oldModel.segments.at(-1)?.msn ?? Infinity));
  assert.equal(model.discontinuitySequence, pos.discontinuity, 'the first segment\'s discontinuity comes right after the old newest segment\'s');
  assert.ok(!first.uri.includes('old1'), 'names are the successor\'s own');
  // A later restart there is a discontinuity as usual; a first session without continueSequence has none.
  const plain = makePackager();
  run(plain, { seconds: 3 });
  assert.equal(plain.segments[0]?.discontinuity, false);
});
