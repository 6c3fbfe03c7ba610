import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingWindowTranscriber, normalizeText } from '../../../src/captions/windowing.js';
import type { CaptionCue } from '../../../src/captions/types.js';
import { ScriptedRecogniser, speechPcm, type Phrase } from '../../../testkit/fake-recogniser.js';

const T0 = 50_000; // stream time of the first sample (not zero on purpose)
const SCRIPT: Phrase[] = [
  { text: '안녕하세요 여러분', startMs: T0 + 1000, endMs: T0 + 2800 },
  { text: '오늘은 날씨가 정말 좋네요', startMs: T0 + 4000, endMs: T0 + 6500 },
  { text: 'the quick brown fox jumps over the lazy dog', startMs: T0 + 7500, endMs: T0 + 11_000 },
  // Run-on speech longer than one window: must be cut, never repeated.
  { text: 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen', startMs: T0 + 13_000, endMs: T0 + 26_000 },
  { text: '끝', startMs: T0 + 28_000, endMs: T0 + 28_600 },
];

async function run(opts: { jitterMs?: number; chunkMs?: number; totalMs?: number } = {}) {
  const rec = new ScriptedRecogniser(SCRIPT, { jitterMs: opts.jitterMs });
  const cues: CaptionCue[] = [];
  const delays: number[] = [];
  const t = new SlidingWindowTranscriber(rec, { stepMs: 3000, lengthMs: 10_000, language: 'ko' }, { onCue: (c) => cues.push(c), onDelay: (d) => delays.push(d) });
  const chunk = opts.chunkMs ?? 100;
  const total = opts.totalMs ?? 31_000;
  for (let at = 0; at < total; at += chunk) {
    t.push(speechPcm(SCRIPT, T0 + at, T0 + at + chunk), T0 + at);
    await t.waitIdle();
  }
  await t.flush();
  return { cues, rec, t, delays };
}

function assertEachPhraseOnce(finals: CaptionCue[]): void {
  const words = finals.flatMap((c) => normalizeText(c.text).split(' '));
  const expected = SCRIPT.flatMap((p) => normalizeText(p.text).split(' '));
  assert.deepEqual(words, expected, `final text: ${finals.map((c) => c.text).join(' | ')}`);
}

test('windowing: phrases across overlapping windows become one final cue each, in order', async () => {
  const { cues, rec, t } = await run();
  const finals = cues.filter((c) => c.type === 'final');
  assertEachPhraseOnce(finals);
  // The first three phrases fit in a window and end with a pause: exactly one cue each.
  for (const p of SCRIPT.slice(0, 3)) assert.equal(finals.filter((c) => c.text === p.text).length, 1, p.text);
  // Times are on the stream timeline, monotonic, and inside the phrase's span.
  for (let i = 1; i < finals.length; i++) assert.ok(finals[i]!.startMs >= finals[i - 1]!.endMs - 1, 'monotonic');
  const fox = finals.find((c) => c.text.startsWith('the quick'))!;
  assert.ok(fox.startMs >= T0 + 7400 && fox.endMs <= T0 + 11_100, `fox cue at ${fox.startMs}-${fox.endMs}`);
  // Ids are unique and every cue carries the language.
  assert.equal(new Set(finals.map((c) => c.id)).size, finals.length);
  assert.ok(cues.every((c) => c.lang === 'ko'));
  // Every window is at most lengthMs long; the buffer never grew.
  assert.ok(rec.calls.every((c) => c.durationMs <= 10_000 + 1), JSON.stringify(rec.calls));
  assert.equal(t.capacitySamples, 16 * 16_000);
});

test('windowing: interim text is shown before the final cue and shares its id', async () => {
  const { cues } = await run();
  const fox = cues.find((c) => c.type === 'final' && c.text.startsWith('the quick'))!;
  const interims = cues.filter((c) => c.type === 'interim' && c.id === fox.id);
  assert.ok(interims.length >= 1, 'an interim preceded the fox final');
  assert.ok(cues.indexOf(interims[0]!) < cues.indexOf(fox));
  assert.ok(fox.text.startsWith(interims[0]!.text.split(' ')[0]!));
});

test('windowing: coarse (early) timestamps do not duplicate words', async () => {
  const { cues } = await run({ jitterMs: 400 });
  assertEachPhraseOnce(cues.filter((c) => c.type === 'final'));
});

test('windowing: irregular chunk sizes give the same finals', async () => {
  const { cues } = await run({ chunkMs: 37 });
  assertEachPhraseOnce(cues.filter((c) => c.type === 'final'));
});

test('windowing: silence is not sent to the recogniser; non-speech annotations are dropped', async () => {
  const rec = new ScriptedRecogniser([]);
  const cues: CaptionCue[] = [];
  const t = new SlidingWindowTranscriber(rec, { stepMs: 3000, lengthMs: 10_000, language: 'ko' }, { onCue: (c) => cues.push(c) });
  for (let at = 0; at < 20_000; at += 500) {
    t.push(new Float32Array(8000), at);
    await t.waitIdle();
  }
  assert.equal(rec.calls.length, 0);
  const noisy = { name: 'noisy', recognise: async () => [{ startMs: 0, endMs: 1000, text: '[BLANK_AUDIO]' }, { startMs: 1000, endMs: 2000, text: '(음악)' }], close: async () => {} };
  const t2 = new SlidingWindowTranscriber(noisy, { stepMs: 3000, lengthMs: 10_000, language: 'ko' }, { onCue: (c) => cues.push(c) });
  t2.push(speechPcm([{ text: 'x', startMs: 0, endMs: 5000 }], 0, 5000), 0);
  await t2.flush();
  assert.deepEqual(cues, []);
});

test('windowing: a recogniser slower than real time drops audio, counted, with bounded memory', async () => {
  const rec = new ScriptedRecogniser(SCRIPT, { delayMs: 250 });
  let dropped = 0;
  const cues: CaptionCue[] = [];
  const t = new SlidingWindowTranscriber(rec, { stepMs: 3000, lengthMs: 10_000, language: 'ko' }, { onCue: (c) => cues.push(c), onDropped: (ms) => (dropped += ms) });
  // 30 s of audio arrive in 300 ms wall time: the recogniser (250 ms per window) cannot keep up.
  for (let at = 0; at < 30_000; at += 1000) {
    t.push(speechPcm(SCRIPT, T0 + at, T0 + at + 1000), T0 + at);
    await new Promise((r) => setTimeout(r, 10));
  }
  await t.flush();
  assert.ok(dropped > 0, 'dropped audio is counted');
  assert.ok(rec.calls.length < 10, `fewer windows than steps: ${rec.calls.length}`);
  assert.ok(rec.calls.every((c) => c.durationMs <= 10_000 + 1));
  assert.ok(t.capacitySamples <= 16 * 16_000 * 2);
  // Whatever was finalised was not repeated.
  const words = cues.filter((c) => c.type === 'final').flatMap((c) => normalizeText(c.text).split(' '));
  assert.equal(new Set(words.filter((w) => w.length > 3)).size, words.filter((w) => w.length > 3).length, words.join(' '));
});

test('windowing: a recogniser error is reported and the loop goes on', async () => {
  let n = 0;
  const errors: unknown[] = [];
  const cues: CaptionCue[] = [];
  const flaky = {
    name: 'flaky',
    recognise: async () => {
      if (n++ === 0) throw new Error('boom');
      return [{ startMs: 0, endMs: 500, text: 'hello' }];
    },
    close: async () => {},
  };
  const t = new SlidingWindowTranscriber(flaky, { stepMs: 1000, lengthMs: 4000, language: 'en' }, { onCue: (c) => cues.push(c), onError: (e) => errors.push(e) });
  for (let at = 0; at < 5000; at += 500) {
    t.push(speechPcm([{ text: 'x', startMs: 0, endMs: 5000 }], at, at + 500), at);
    await t.waitIdle();
  }
  assert.equal(errors.length, 1);
  assert.ok(cues.some((c) => c.type === 'final' && c.text === 'hello'));
});

/**
 * runClocked feeds the script in 100 ms chunks on a simulated clock (now() = stream time of
 * the audio that has arrived), with a recogniser that advances the clock by inferMs per
 * window: delays and window times are exact, independent of the machine's load.
 */
async function runClocked(script: Phrase[], opts: { earlyFinal?: boolean; inferMs?: number; totalMs: number; noise?: number }) {
  let clock = 0;
  const inner = new ScriptedRecogniser(script);
  const ends: number[] = [];
  const rec = {
    name: 'clocked',
    recognise: async (req: Parameters<ScriptedRecogniser['recognise']>[0]) => {
      ends.push((req.startMs ?? 0) + req.pcm.length / 16);
      clock += opts.inferMs ?? 0;
      return inner.recognise(req);
    },
    close: async () => {},
  };
  const cues: CaptionCue[] = [];
  const delays: number[] = [];
  const t = new SlidingWindowTranscriber(rec, { stepMs: 3000, lengthMs: 10_000, language: 'ko', ...(opts.earlyFinal === undefined ? {} : { earlyFinal: opts.earlyFinal }) },
    { onCue: (c) => cues.push(c), onDelay: (d) => delays.push(d) }, () => clock);
  for (let at = 0; at < opts.totalMs; at += 100) {
    // Audio arrives in real time: a chunk cannot arrive before the clock reaches its end.
    clock = Math.max(clock, at + 100);
    const pcm = speechPcm(script, at, at + 100);
    // Background noise under the speech (a room, music): the pauses are not quiet.
    if (opts.noise) for (let i = 0; i < pcm.length; i++) pcm[i]! += opts.noise * Math.sin(i * 0.05);
    t.push(pcm, at);
    await t.waitIdle();
  }
  await t.flush();
  return { cues, delays, ends, finals: cues.filter((c) => c.type === 'final') };
}

test('windowing: a pause seen inside a window is finalised as soon as the tail guard has passed, not a step later', async () => {
  // Windows end at 3000, 6000, ...: the 6000 window sees the phrase end at 5700 (pause begun, 300 ms).
  const script: Phrase[] = [{ text: '오늘은 날씨가 좋네요', startMs: 3500, endMs: 5700 }];
  const early = await runClocked(script, { totalMs: 12_000 });
  const late = await runClocked(script, { totalMs: 12_000, earlyFinal: false });
  assert.deepEqual(early.finals.map((c) => c.text), [script[0]!.text]);
  assert.deepEqual(late.finals.map((c) => c.text), [script[0]!.text]);
  // Early: a window ending at 5700 + 800 (tail guard) makes it final; without: the 9000 step window.
  assert.ok(early.ends.includes(6500), `window ends ${early.ends}`);
  assert.deepEqual(early.delays, [800]);
  assert.deepEqual(late.delays, [3300]);
  assert.ok(!late.ends.includes(6500));
  // One extra window for the pause, then the step schedule goes on from it.
  assert.ok(early.ends.length <= late.ends.length + 1, `${early.ends} vs ${late.ends}`);
});

test('windowing: early finalisation runs the next window right after a slow one when the pause is already long enough', async () => {
  // Recognition takes 1500 ms: the 6000 window finishes at 7500 with the pause pending since 6500.
  const script: Phrase[] = [{ text: 'the quick brown fox', startMs: 3500, endMs: 5700 }];
  const r = await runClocked(script, { totalMs: 12_000, inferMs: 1500 });
  assert.deepEqual(r.finals.map((c) => c.text), [script[0]!.text]);
  const i = r.ends.indexOf(6000);
  assert.ok(i >= 0 && r.ends[i + 1]! >= 6500 && r.ends[i + 1]! <= 7600, `window ends ${r.ends}`);
  // Final at clock 7600 + 1500 (the early window's own recognition): 3.4 s after the phrase's end, not 4.8 s.
  assert.equal(r.delays.length, 1);
  assert.ok(r.delays[0]! <= 3500, `delay ${r.delays}`);
});

test('windowing: no early windows while the recogniser is slow relative to the step', async () => {
  const script: Phrase[] = [{ text: 'the quick brown fox', startMs: 3500, endMs: 5700 }];
  const r = await runClocked(script, { totalMs: 12_000, inferMs: 2500 });
  assert.deepEqual(r.finals.map((c) => c.text), [script[0]!.text]);
  // Windows only on the step schedule (each >= 3000 ms of new audio after the previous one).
  for (let i = 1; i < r.ends.length - 1; i++) assert.ok(r.ends[i]! - r.ends[i - 1]! >= 3000, `window ends ${r.ends}`);
});

test('windowing: with early finalisation every phrase of the full script is still final exactly once', async () => {
  const script = SCRIPT.map((p) => ({ ...p, startMs: p.startMs - T0, endMs: p.endMs - T0 }));
  for (const inferMs of [0, 700, 1600]) {
    const r = await runClocked(script, { totalMs: 31_000, inferMs });
    const words = r.finals.flatMap((c) => normalizeText(c.text).split(' '));
    assert.deepEqual(words, script.flatMap((p) => normalizeText(p.text).split(' ')), `inferMs ${inferMs}: ${r.finals.map((c) => c.text).join(' | ')}`);
  }
});

test('windowing: interim text followed by quiet audio is finalised once the quiet has lasted the tail guard', async () => {
  // The 6000 window sees the phrase still going (it ends at 6100): only the audio tells that it stopped.
  const script: Phrase[] = [{ text: '오늘은 날씨가 좋네요', startMs: 3500, endMs: 6100 }];
  const quiet = await runClocked(script, { totalMs: 12_000 });
  const noisy = await runClocked(script, { totalMs: 12_000, noise: 0.02 });
  const off = await runClocked(script, { totalMs: 12_000, earlyFinal: false });
  for (const r of [quiet, noisy, off]) assert.deepEqual(r.finals.map((c) => c.text), [script[0]!.text]);
  assert.ok(quiet.ends.includes(6900), `window ends ${quiet.ends}`);
  assert.deepEqual(quiet.delays, [800]);
  // With background noise the pause is not quiet: the next step window (9000) finalises it.
  assert.deepEqual(noisy.delays, [2900]);
  assert.deepEqual(off.delays, [2900]);
});

test('windowing: quiet audio after text that never ends (a hallucinating model) triggers one early window, not one per chunk', async () => {
  let calls = 0;
  const stuck = {
    name: 'stuck',
    // Always "hears" text running to the end of the window.
    recognise: async (req: { pcm: Float32Array }) => {
      calls++;
      return [{ startMs: 0, endMs: req.pcm.length / 16, text: '감사합니다' }];
    },
    close: async () => {},
  };
  const t = new SlidingWindowTranscriber(stuck, { stepMs: 3000, lengthMs: 10_000, language: 'ko' }, { onCue: () => {} });
  const speech: Phrase[] = [{ text: 'x', startMs: 0, endMs: 3000 }];
  for (let at = 0; at < 9000; at += 100) {
    t.push(speechPcm(speech, at, at + 100), at);
    await t.waitIdle();
  }
  // Step windows at 3000, 6000, 9000 and at most one quiet-tail window for the (unchanged) interim text.
  assert.ok(calls <= 4, `${calls} windows`);
  t.close();
});
