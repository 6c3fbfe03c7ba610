import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FragmentRun, InitTrack } from '../../../../src/formats/mp4-progressive.js';
import { mediaEndSeconds, SAMPLE_FLAG_NON_SYNC, selectClipRuns } from '../../../../src/media/clips/cut.js';
import { at } from '../../../../testkit/at.js';

const VIDEO_TS = 90_000;
const FRAME_TICKS = 3600; // 40 ms
const GOP = 25; // a keyframe every second
const AUDIO_TS = 44_100;
const AAC = 1024;
const VIDEO_SIZE = 1000;
const AUDIO_SIZE = 100;

const tracks: InitTrack[] = [
  { trackId: 1, handler: 'vide', timescale: VIDEO_TS, stsd: Buffer.alloc(0), width: 640, height: 360 },
  { trackId: 2, handler: 'soun', timescale: AUDIO_TS, stsd: Buffer.alloc(0), width: 0, height: 0 },
];

/** fragments builds `seconds` one-second fragments (video run then audio run), laid out back to back from offset 1000. */
function fragments(seconds: number, firstVideoFrame = 0): FragmentRun[] {
  const runs: FragmentRun[] = [];
  let offset = 1000;
  let audioDts = 0;
  for (let s = 0; s < seconds; s++) {
    const frames = Array.from({ length: GOP }, (_, i) => s * GOP + i).filter((f) => f >= firstVideoFrame);
    if (frames.length) {
      runs.push({
        trackId: 1, baseMediaDecodeTime: at(frames, 0) * FRAME_TICKS, dataOffset: offset,
        samples: frames.map((f) => ({ duration: FRAME_TICKS, size: VIDEO_SIZE, flags: f % GOP === 0 ? 0 : SAMPLE_FLAG_NON_SYNC, compositionTimeOffset: 0 })),
      });
      offset += frames.length * VIDEO_SIZE;
    }
    const audio: FragmentRun = { trackId: 2, baseMediaDecodeTime: audioDts, dataOffset: offset, samples: [] };
    while (audioDts < (s + 1) * AUDIO_TS) {
      audio.samples.push({ duration: AAC, size: AUDIO_SIZE, flags: 0, compositionTimeOffset: 0 });
      audioDts += AAC;
      offset += AUDIO_SIZE;
    }
    runs.push(audio);
  }
  return runs;
}

const dtsList = (runs: FragmentRun[], trackId: number) => runs.filter((r) => r.trackId === trackId).flatMap((r) => r.samples.map((s, i) => r.baseMediaDecodeTime + r.samples.slice(0, i).reduce((a, x) => a + x.duration, 0)));

test('mediaEndSeconds is the latest track end', () => {
  const runs = fragments(10);
  assert.equal(mediaEndSeconds(tracks, runs), Math.max(10, (Math.ceil((10 * AUDIO_TS) / AAC) * AAC) / AUDIO_TS));
  assert.equal(mediaEndSeconds(tracks, []), 0);
});

test('selectClipRuns starts at the keyframe at or before the asked start and rebases every track to 0', () => {
  const runs = fragments(10);
  const sel = selectClipRuns(tracks, runs, { start: 7.3 })!;
  assert.equal(sel.startSeconds, 7);
  const video = sel.runs.filter((r) => r.trackId === 1);
  assert.equal(at(video, 0).baseMediaDecodeTime, 0);
  assert.equal(at(video, 0).samples[0]!.flags & SAMPLE_FLAG_NON_SYNC, 0, 'first video sample is a keyframe');
  assert.equal(video.reduce((a, r) => a + r.samples.length, 0), 3 * GOP);
  // The first kept video sample is the one at 7 s in the source, found by its byte offset.
  const src = runs.find((r) => r.trackId === 1 && r.baseMediaDecodeTime === 7 * GOP * FRAME_TICKS)!;
  assert.equal(at(video, 0).dataOffset, src.dataOffset);
  const audio = dtsList(sel.runs, 2);
  assert.ok(at(audio, 0) >= 0 && at(audio, 0) < AAC, `first audio at ${audio[0]}`);
  const firstAudioSource = Math.ceil((7 * AUDIO_TS) / AAC) * AAC;
  assert.equal(audio[0], firstAudioSource - 7 * AUDIO_TS);
  // Decode times stay increasing across the kept runs.
  for (const id of [1, 2]) {
    const d = dtsList(sel.runs, id);
    for (let i = 1; i < d.length; i++) assert.ok(at(d, i) > at(d, i - 1), `track ${id} sample ${i}`);
  }
  assert.ok(Math.abs(sel.endSeconds - mediaEndSeconds(tracks, runs)) < 1e-9);
});

test('selectClipRuns: a start exactly on a keyframe keeps it; a start before any keyframe takes the first one', () => {
  const runs = fragments(6);
  assert.equal(selectClipRuns(tracks, runs, { start: 3 })!.startSeconds, 3);
  assert.equal(selectClipRuns(tracks, runs, { start: 2.9999999 })!.startSeconds, 3, 'rounding just below a keyframe still counts as at it');
  assert.equal(selectClipRuns(tracks, runs, { start: 0 })!.startSeconds, 0);
  assert.equal(selectClipRuns(tracks, runs, { start: -5 })!.startSeconds, 0);
  // The file begins mid-GOP (frames 0..9 missing): the clip starts at the first keyframe (1 s).
  const late = fragments(6, 10);
  assert.equal(selectClipRuns(tracks, late, { start: 0.2 })!.startSeconds, 1);
});

test('selectClipRuns splits a run where the window starts and ends, with the byte offsets of the kept samples', () => {
  const runs = fragments(4);
  const sel = selectClipRuns(tracks, runs, { start: 1.5, end: 2.5 })!;
  // Mid-run start too: an audio-only window starting at 1.5 s keeps the offset of the sample it starts at.
  const mid = selectClipRuns([at(tracks, 1)], runs.filter((r) => r.trackId === 2), { start: 1.5 })!;
  const srcRun = runs.find((r) => r.trackId === 2 && r.baseMediaDecodeTime < 1.5 * AUDIO_TS && r.baseMediaDecodeTime + r.samples.length * AAC > 1.5 * AUDIO_TS)!;
  const skip = Math.ceil((1.5 * AUDIO_TS - srcRun.baseMediaDecodeTime) / AAC);
  assert.equal(at(mid.runs, 0).dataOffset, srcRun.dataOffset + skip * AUDIO_SIZE);
  assert.equal(at(mid.runs, 0).samples.length, srcRun.samples.length - skip);
  assert.equal(sel.startSeconds, 1);
  const video = sel.runs.filter((r) => r.trackId === 1);
  assert.equal(video.reduce((a, r) => a + r.samples.length, 0), Math.round((1.5 * VIDEO_TS) / FRAME_TICKS));
  const second = video.find((r) => r.baseMediaDecodeTime === VIDEO_TS)!;
  const src = runs.find((r) => r.trackId === 1 && r.baseMediaDecodeTime === 2 * VIDEO_TS)!;
  assert.equal(second.dataOffset, src.dataOffset);
  assert.equal(second.samples.length, Math.round((0.5 * VIDEO_TS) / FRAME_TICKS));
  // Audio: the first kept sample is the first source sample at or after 1 s, found by its byte offset.
  const flat = runs.filter((r) => r.trackId === 2).flatMap((r) => r.samples.map((_, i) => ({ dts: r.baseMediaDecodeTime + i * AAC, offset: r.dataOffset + i * AUDIO_SIZE })));
  const first = flat.find((x) => x.dts >= AUDIO_TS)!;
  const audio = sel.runs.filter((r) => r.trackId === 2);
  assert.equal(at(audio, 0).dataOffset, first.offset);
  assert.equal(at(audio, 0).baseMediaDecodeTime, first.dts - AUDIO_TS);
  assert.ok(sel.endSeconds <= 2.5 + AAC / AUDIO_TS);
  assert.ok(dtsList(sel.runs, 2).every((d) => d / AUDIO_TS < 1.5 + 1e-9));
});

test('selectClipRuns: nothing to cut', () => {
  const noKey = fragments(3).map((r) => (r.trackId === 1 ? { ...r, samples: r.samples.map((s) => ({ ...s, flags: SAMPLE_FLAG_NON_SYNC })) } : r));
  assert.equal(selectClipRuns(tracks, noKey, { start: 0 }), undefined);
  assert.equal(selectClipRuns(tracks, [], { start: 0 }), undefined);
  assert.equal(selectClipRuns(tracks, fragments(3), { start: 2, end: 1 }), undefined);
});

test('selectClipRuns on audio only starts at the asked time', () => {
  const audioOnly = [at(tracks, 1)];
  const runs = fragments(5).filter((r) => r.trackId === 2);
  const sel = selectClipRuns(audioOnly, runs, { start: 2.5 })!;
  assert.equal(sel.startSeconds, 2.5);
  const d = dtsList(sel.runs, 2);
  assert.ok(at(d, 0) >= 0 && at(d, 0) < AAC);
});
