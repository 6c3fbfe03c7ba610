import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptionTrack, breakLines, MAX_LINE_CHARS_CJK, MAX_LINE_CHARS_LATIN } from '../../../src/captions/track.js';
import { parseVtt } from '../../../src/formats/webvtt.js';
import type { CaptionCue } from '../../../src/captions/types.js';

const cue = (id: string, startMs: number, endMs: number, text: string, type: CaptionCue['type'] = 'final'): CaptionCue => ({ type, id, text, startMs, endMs, lang: 'ko' });

test('track: stores finals only, sorted, bounded; listeners see interims too', () => {
  const t = new CaptionTrack('ko', 3);
  const seen: string[] = [];
  const off = t.onCue((c) => seen.push(`${c.type}:${c.id}`));
  t.add(cue('1', 1000, 2000, 'a', 'interim'));
  t.add(cue('1', 1000, 2000, 'a'));
  t.add(cue('3', 5000, 6000, 'c'));
  t.add(cue('2', 3000, 4000, 'b')); // late: inserted in order
  assert.deepEqual(t.cues.map((c) => c.id), ['1', '2', '3']);
  t.add(cue('4', 7000, 8000, 'd'));
  assert.deepEqual(t.cues.map((c) => c.id), ['2', '3', '4'], 'oldest evicted');
  assert.equal(t.evicted, 1);
  off();
  t.add(cue('5', 9000, 9500, 'e'));
  assert.deepEqual(seen, ['interim:1', 'final:1', 'final:3', 'final:2', 'final:4']);
  assert.equal(t.lastEndMs, 9500);
});

test('track: segmentVtt has X-TIMESTAMP-MAP, the overlapping cues, shifted onto the media timeline', () => {
  const t = new CaptionTrack('ko');
  t.add(cue('1', 100_000, 101_500, '안녕하세요'));
  t.add(cue('2', 101_800, 104_200, 'a < b'));
  t.add(cue('3', 110_000, 111_000, 'later'));
  const text = t.segmentVtt(102_000, 104_000, { offsetMs: -90_000 });
  const doc = parseVtt(text);
  assert.deepEqual(doc.timestampMap, { mpegts: 0, localMs: 0 });
  assert.deepEqual(doc.cues.map((c) => [c.id, c.startMs, c.endMs, c.text]), [['2', 11_800, 14_200, 'a < b']]);
  assert.equal(parseVtt(t.segmentVtt(0, 50_000)).cues.length, 0, 'empty segments are still valid WebVTT');
});

test('track: toVtt for a recording starts at the recording (negative times clipped) and is monotonic', () => {
  const t = new CaptionTrack('en');
  t.add(cue('0', 900, 1100, 'straddles start'));
  t.add(cue('1', 2000, 3000, 'the quick brown fox jumps over the lazy dog and keeps running far away'));
  t.add(cue('2', 4000, 5000, 'end'));
  const doc = parseVtt(t.toVtt(-1000));
  assert.deepEqual(doc.cues.map((c) => [c.startMs, c.endMs]), [[0, 100], [1000, 2000], [3000, 4000]]);
  for (let i = 1; i < doc.cues.length; i++) assert.ok(doc.cues[i]!.startMs >= doc.cues[i - 1]!.startMs);
  assert.ok(doc.cues[1]!.text.includes('\n'), 'long lines are broken');
});

test('breakLines: Latin at word boundaries, Hangul shorter lines', () => {
  const en = breakLines('the quick brown fox jumps over the lazy dog and keeps running far away');
  assert.ok(en.split('\n').every((l) => l.length <= MAX_LINE_CHARS_LATIN), en);
  assert.equal(en.replace(/\n/g, ' '), 'the quick brown fox jumps over the lazy dog and keeps running far away');
  const ko = breakLines('오늘은 날씨가 정말 좋네요 여러분 모두 즐거운 하루 보내세요');
  assert.ok(ko.split('\n').length >= 2 && ko.split('\n').every((l) => l.length <= MAX_LINE_CHARS_CJK), ko);
  assert.equal(breakLines('  짧다  '), '짧다');
});
