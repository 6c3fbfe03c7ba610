// Captions benchmark: whisper.cpp real-time factor per window, and caption delay through the
// real sliding-window loop with audio arriving in real time.
//
//   npm run bench -- captions [--engine whisper|pocketsphinx] [--model PATH] [--windows N] [--seconds S] [--threads T]
//                             [--audio-ctx auto|0|N,...] [--lengths MS,...] [--out DIR]
//
// --engine pocketsphinx: espeak-ng speech (the test sentences, 1.5 s pauses) fed in real time
// through the live streaming engine (one pocketsphinx_continuous child): real-time factor
// (child CPU time / audio time, from /proc), caption delay p50/p95 (arrival of an utterance's
// last audio → its cue), key words recognised; then the same audio as fast as the child takes
// it (extract-captions mode) for the throughput. `--seconds 8` is a short smoke run.
//
// Results: captions.json in --out DIR, $BENCH_RESULTS_DIR or bench/results; each engine's run
// replaces its own section and keeps the other engine's.
//
// Without --model (or WHISPER_MODEL) it generates a ggml file with the tiny model's real shapes
// and random weights: the encoder cost per window is the real tiny cost; decoding is limited to
// one token (random weights decode garbage forever), so the figure is a lower bound for tiny.
//
// Whisper runs (full mode, --seconds >= 20):
//  1. time per window for each --audio-ctx setting (default "auto,0": sized to the window vs
//     whisper's full 30 s context) and each window length (--lengths, default 2000,5000,LENGTH),
//     the settings interleaved window by window so load changes hit them alike;
//  2. caption delay with REAL inference: a scripted speaker through SlidingWindowTranscriber,
//     every window also recognised by whisper.cpp (its time is the window's time; the text
//     comes from the script, since random weights transcribe nothing), once with the current
//     loop (first --audio-ctx, early finalisation), once the same with background noise
//     under the speech (pauses not quiet), and once as before this change (full context,
//     no early finalisation, all cores);
//  3. the loop alone (a recogniser answering in 50 ms), with and without early finalisation.
// Short mode (--seconds < 20, the CI smoke run): only the first --audio-ctx at --length, one
// real-inference delay run and the 50 ms loop run.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WhisperRecogniser, audioCtxFor, type AudioCtxSetting } from '../src/captions/engines/whisper.js';
import { SlidingWindowTranscriber } from '../src/captions/windowing.js';
import { PCM_SAMPLES_PER_MS, type CaptionCue, type Recogniser, type RecogniseRequest } from '../src/captions/types.js';
import { writeRandomWhisperModel } from '../testkit/random-ggml.js';
import { ScriptedRecogniser, speechPcm, type Phrase } from '../testkit/fake-recogniser.js';
import { PocketsphinxStream } from '../src/captions/engines/pocketsphinx.js';
import { loadConfig } from '../src/config/index.js';
import { KEY_WORDS, SENTENCES, makeSpeech, speechToolsMissing, wavSamples } from '../testkit/espeak.js';
import { resultsPath, writeResultJson } from './lib/results.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    windows: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '40' },
    threads: { type: 'string' },
    step: { type: 'string', default: '3000' },
    length: { type: 'string', default: '10000' },
    engine: { type: 'string', default: 'whisper' },
    'audio-ctx': { type: 'string', default: 'auto,0' },
    lengths: { type: 'string' },
    out: { type: 'string' },
  },
});
if (values.engine !== 'whisper' && values.engine !== 'pocketsphinx') throw new Error('--engine must be whisper or pocketsphinx');
const RESULT_FILE = resultsPath('captions.json', values.out);
const WINDOW_MS = Number(values.length);
const STEP_MS = Number(values.step);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

const SHORT = Number(values.seconds) < 20;
const CONTEXTS: AudioCtxSetting[] = values['audio-ctx'].split(',').map((x) => (x.trim() === 'auto' ? 'auto' : Number(x))).slice(0, SHORT ? 1 : undefined);
if (CONTEXTS.some((c) => c !== 'auto' && !Number.isInteger(c))) throw new Error('--audio-ctx takes auto, 0 or a number of positions (comma separated)');
const LENGTHS = SHORT ? [WINDOW_MS] : [...new Set((values.lengths ?? `2000,5000,${WINDOW_MS}`).split(',').map(Number))].filter((x) => x >= 1000).sort((x, y) => x - y);
/** Background noise amplitude of the noisy delay run (~ -40 dBFS RMS, above the -50 dBFS silence threshold). */
const NOISE = 0.014;
/** Random weights decode garbage: one token, no timestamps (the encoder is the cost measured). */
const RANDOM_PARAMS = { single_segment: true, max_tokens: 1, no_timestamps: true };

function uptimeNow(): string {
  return loadavg().map((x) => x.toFixed(2)).join(', ');
}

interface WhisperSetup {
  path: string;
  random: boolean;
  cleanup(): void;
}

function whisperModel(): WhisperSetup {
  const modelArg = values.model ?? process.env.WHISPER_MODEL;
  if (modelArg) return { path: modelArg, random: false, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'onair-bench-'));
  const path = join(dir, 'ggml-random-tiny.bin');
  writeRandomWhisperModel(path);
  return { path, random: true, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The thread count before defaultWhisperThreads (all cores, at most 4), for the "before" run. */
const OLD_DEFAULT_THREADS = Math.min(4, Math.max(1, availableParallelism()));

function openWhisper(m: WhisperSetup, audioCtx: AudioCtxSetting, threads?: number): Promise<WhisperRecogniser> {
  const t = threads ?? (values.threads ? Number(values.threads) : undefined);
  return WhisperRecogniser.open({
    modelPath: m.path, audioCtx,
    ...(t ? { threads: t } : {}),
    ...(m.random ? { params: RANDOM_PARAMS } : {}),
  });
}

function testTone(ms: number, i: number): Float32Array {
  return new Float32Array(ms * PCM_SAMPLES_PER_MS).map((_, k) => 0.2 * Math.sin(k / (7 + i)) * (k % 16000 < 12000 ? 1 : 0.1));
}

interface WindowRow { audioCtx: AudioCtxSetting; positions: number; windowMs: number; inferMs: number[]; medianInferMs: number; realtimeFactor: number; loadavg1: number[] }

/** measureWindows times whisper.cpp per window length for each audio_ctx setting, interleaved. */
async function measureWindows(m: WhisperSetup): Promise<{ rows: WindowRow[]; loadMs: number; rssMb: number[]; threads: number }> {
  const recs: WhisperRecogniser[] = [];
  const rows: WindowRow[] = [];
  const rssMb: number[] = [];
  try {
    for (const c of CONTEXTS) recs.push(await openWhisper(m, c));
    for (const c of CONTEXTS) for (const w of LENGTHS) rows.push({ audioCtx: c, positions: audioCtxFor(w, c) || 1500, windowMs: w, inferMs: [], medianInferMs: 0, realtimeFactor: 0, loadavg1: [] });
    for (let i = 0; i < Number(values.windows); i++) {
      for (const row of rows) {
        const r = recs[CONTEXTS.indexOf(row.audioCtx)]!;
        await r.recognise({ pcm: testTone(row.windowMs, i), language: 'ko' });
        row.inferMs.push(Math.round(r.lastInferMs));
        row.loadavg1.push(Number(loadavg()[0]!.toFixed(2)));
        rssMb.push(Math.round(process.memoryUsage().rss / 2 ** 20));
        process.stderr.write(`window ${i + 1}: audio_ctx ${row.audioCtx} (${row.positions}), ${row.windowMs} ms: ${row.inferMs.at(-1)} ms, load ${uptimeNow()}\n`);
      }
    }
  } finally {
    await Promise.all(recs.map((r) => r.close()));
  }
  for (const row of rows) {
    // The first window of each recogniser pays for warming up; leave it out when there are more.
    const steady = row.inferMs.length > 1 ? row.inferMs.slice(1) : row.inferMs;
    row.medianInferMs = Math.round(percentile(steady, 50));
    row.realtimeFactor = Number((row.medianInferMs / row.windowMs).toFixed(3));
  }
  return { rows, loadMs: Math.round(recs[0]?.loadMs ?? 0), rssMb, threads: recs[0]?.threads ?? 0 };
}

/** speakerScript is the scripted speaker of the delay runs: phrases of 1.2–3.4 s, pauses of 0.6–2 s. */
function speakerScript(seconds: number): Phrase[] {
  const phrases: Phrase[] = [];
  for (let t = 1000, i = 0; t < seconds * 1000 - 3000; i++) {
    const len = 1200 + ((i * 737) % 2200);
    phrases.push({ text: `phrase ${i} words here`, startMs: t, endMs: t + len });
    t += len + 600 + ((i * 331) % 1400);
  }
  return phrases;
}

/**
 * WhisperTimedScript recognises every window with whisper.cpp (real inference, real time)
 * and answers with the script's text for that window.
 */
class WhisperTimedScript implements Recogniser {
  readonly name = 'whisper-timed-script';
  readonly windows: { audioMs: number; inferMs: number; audioCtx: number }[] = [];
  constructor(private readonly whisper: WhisperRecogniser, private readonly script: ScriptedRecogniser) {}
  async recognise(req: RecogniseRequest) {
    const samples = req.pcm.length;
    await this.whisper.recognise({ pcm: req.pcm, language: req.language }); // transfers req.pcm
    this.windows.push({ audioMs: samples / PCM_SAMPLES_PER_MS, inferMs: Math.round(this.whisper.lastInferMs), audioCtx: this.whisper.lastWindowParams.audio_ctx });
    return this.script.recognise({ ...req, pcm: new Float32Array(samples) });
  }
  async close() {}
}

interface DelayRun { delaysMs: number[]; finals: number; droppedMs: number; phrases: number; windows: number; loadavg1: [number, number] }

/** measureDelay runs the real loop on real-time audio (100 ms chunks) with the given recogniser. */
async function measureDelay(makeRec: (phrases: Phrase[]) => Recogniser, seconds: number, earlyFinal: boolean, noise = 0): Promise<DelayRun> {
  const phrases = speakerScript(seconds);
  const rec = makeRec(phrases);
  const delaysMs: number[] = [];
  let finals = 0;
  let droppedMs = 0;
  let windows = 0;
  const load0 = loadavg()[0]!;
  const tr = new SlidingWindowTranscriber(rec, { stepMs: STEP_MS, lengthMs: WINDOW_MS, language: 'ko', earlyFinal }, {
    onCue: (c: CaptionCue) => { if (c.type === 'final') finals++; },
    onDelay: (ms) => delaysMs.push(ms),
    onDropped: (ms) => (droppedMs += ms),
    onWindow: () => windows++,
  });
  const CHUNK = 100;
  const start = performance.now();
  for (let at = 0; at < seconds * 1000; at += CHUNK) {
    const wait = start + at + CHUNK - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const pcm = speechPcm(phrases, at, at + CHUNK);
    // Background noise (-40 dBFS at 0.014): pauses are no longer quiet, as with music or a room.
    if (noise) for (let i = 0; i < pcm.length; i++) pcm[i]! += noise * Math.sin((at * PCM_SAMPLES_PER_MS + i) * 0.05);
    tr.push(pcm, at);
  }
  await tr.flush();
  return { delaysMs, finals, droppedMs, phrases: phrases.length, windows, loadavg1: [Number(load0.toFixed(2)), Number(loadavg()[0]!.toFixed(2))] };
}

function delaySummary(d: DelayRun, extra: Record<string, unknown>) {
  return {
    ...extra, finals: d.finals, phrases: d.phrases, windows: d.windows, droppedAudioMs: Math.round(d.droppedMs),
    p50Ms: Math.round(percentile(d.delaysMs, 50)), p90Ms: Math.round(percentile(d.delaysMs, 90)),
    maxMs: d.delaysMs.length ? Math.round(Math.max(...d.delaysMs)) : null,
    loadavg1AtStartEnd: d.loadavg1,
  };
}

async function realInferenceDelay(m: WhisperSetup, audioCtx: AudioCtxSetting, earlyFinal: boolean, seconds: number, threads?: number, noise = 0) {
  const w = await openWhisper(m, audioCtx, threads);
  let timed: WhisperTimedScript | undefined;
  try {
    process.stderr.write(`delay run: ${seconds} s in real time, whisper.cpp (${w.threads} threads) on every window, audio_ctx ${audioCtx}, early finalisation ${earlyFinal ? 'on' : 'off'}${noise ? `, background noise ${noise}` : ''}, load ${uptimeNow()}\n`);
    const d = await measureDelay((phrases) => (timed = new WhisperTimedScript(w, new ScriptedRecogniser(phrases))), seconds, earlyFinal, noise);
    const ws = timed!.windows;
    return delaySummary(d, {
      audioCtx, earlyFinal, threads: w.threads, ...(noise ? { backgroundNoise: noise } : {}),
      medianWindowMs: Math.round(percentile(ws.map((x) => x.audioMs), 50)),
      // recogniserMs: the name bench/report.ts shows as "ms per window".
      recogniserMs: Math.round(percentile(ws.map((x) => x.inferMs), 50)),
      medianInferMs: Math.round(percentile(ws.map((x) => x.inferMs), 50)),
      realtimeFactor: Number((ws.reduce((a, x) => a + x.inferMs, 0) / Math.max(1, ws.reduce((a, x) => a + x.audioMs, 0))).toFixed(3)),
    });
  } finally {
    await w.close();
  }
}

async function runWhisper(): Promise<Record<string, unknown>> {
  const load = loadavg()[0]!;
  const m = whisperModel();
  const seconds = Number(values.seconds);
  let result: Record<string, unknown>;
  try {
    const w = await measureWindows(m);
    const main = w.rows.find((r) => r.audioCtx === CONTEXTS[0] && r.windowMs === WINDOW_MS) ?? w.rows.at(-1)!;
    const current = await realInferenceDelay(m, CONTEXTS[0]!, true, seconds);
    // As before this change: whisper's full context, no early finalisation, all cores (at most 4).
    // The same with background noise under the speech: the quiet-tail rule cannot fire.
    const noisy = SHORT ? undefined : await realInferenceDelay(m, CONTEXTS[0]!, true, seconds, undefined, NOISE);
    const before = SHORT ? undefined : await realInferenceDelay(m, 0, false, seconds, values.threads ? undefined : OLD_DEFAULT_THREADS);
    const fastRec = (phrases: Phrase[]) => new ScriptedRecogniser(phrases, { delayMs: 50 });
    const fast = await measureDelay(fastRec, Math.min(30, seconds), true);
    const fastNoEarly = SHORT ? undefined : await measureDelay(fastRec, Math.min(30, seconds), false);
    result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg1: Number(load.toFixed(2)), loadavgAtEnd: uptimeNow() },
      windowMs: WINDOW_MS, stepMs: STEP_MS,
      whisper: {
        binding: 'smart-whisper 0.8.1 (whisper.cpp built with node-gyp; see scripts/build-whisper.mjs for SIMD flags)',
        model: m.random ? 'random-weight tiny (real shapes)' : m.path, loadMs: w.loadMs, threads: w.threads,
        audioCtx: main.audioCtx, positions: main.positions,
        inferMs: main.inferMs, medianInferMs: main.medianInferMs, realtimeFactor: main.realtimeFactor,
        rssMb: w.rssMb,
        byWindow: w.rows,
      },
      delayWithRealInference: current,
      // The key bench/report.ts reads (it was a fixed-latency recogniser; now real inference).
      delayWithMeasuredLatency: current,
      ...(noisy ? { delayWithRealInferenceNoisyPauses: noisy } : {}),
      ...(before ? { delayWithRealInferenceBefore: before } : {}),
      delayWithFastRecogniser: delaySummary(fast, { recogniserMs: 50, earlyFinal: true }),
      ...(fastNoEarly ? { delayWithFastRecogniserNoEarlyFinal: delaySummary(fastNoEarly, { recogniserMs: 50, earlyFinal: false }) } : {}),
    };
  } finally {
    m.cleanup();
  }
  const r = result as any;
  const table: Record<string, unknown> = {};
  for (const row of r.whisper.byWindow as WindowRow[]) table[`whisper ms per ${row.windowMs / 1000} s window, audio_ctx ${row.audioCtx} (${row.positions})`] = `${row.medianInferMs} (RTF ${row.realtimeFactor})`;
  table[`delay p50 / p90 ms, real inference, audio_ctx ${CONTEXTS[0]}, early final`] = `${r.delayWithRealInference.p50Ms} / ${r.delayWithRealInference.p90Ms}`;
  if (r.delayWithRealInferenceNoisyPauses) table[`delay p50 / p90 ms, real inference, audio_ctx ${CONTEXTS[0]}, early final, noise in the pauses`] = `${r.delayWithRealInferenceNoisyPauses.p50Ms} / ${r.delayWithRealInferenceNoisyPauses.p90Ms}`;
  if (r.delayWithRealInferenceBefore) table['delay p50 / p90 ms, real inference, full context, no early final (before)'] = `${r.delayWithRealInferenceBefore.p50Ms} / ${r.delayWithRealInferenceBefore.p90Ms}`;
  table['delay p50 / p90 ms (50 ms recogniser)'] = `${r.delayWithFastRecogniser.p50Ms} / ${r.delayWithFastRecogniser.p90Ms}`;
  if (r.delayWithFastRecogniserNoEarlyFinal) table['delay p50 / p90 ms (50 ms recogniser, no early final)'] = `${r.delayWithFastRecogniserNoEarlyFinal.p50Ms} / ${r.delayWithFastRecogniserNoEarlyFinal.p90Ms}`;
  table['load average (1 min) at start / 1, 5, 15 at end'] = `${r.machine.loadavg1} / ${r.machine.loadavgAtEnd}`;
  console.table(table);
  return result;
}

/** feedSpeech pushes the speech through one PocketsphinxStream; live: in real time (drops when behind), else as fast as it reads. */
async function feedSpeech(pcm: Float32Array, live: boolean) {
  const paths = loadConfig({ env: {} }).captions.pocketsphinx;
  const cues: CaptionCue[] = [];
  const delaysMs: number[] = [];
  const windows: { audioMs: number; inferMs: number }[] = [];
  const errors: string[] = [];
  let droppedMs = 0;
  const stream = new PocketsphinxStream({ ...paths, language: 'en', idPrefix: 'b', dropWhenBehind: live }, {
    onCue: (c) => cues.push(c),
    onDelay: (ms) => delaysMs.push(ms),
    onWindow: (w) => windows.push(w),
    onDropped: (ms) => (droppedMs += ms),
    onError: (e) => errors.push((e as Error).message),
  });
  const CHUNK = 1600; // 100 ms, about what the live audio tap delivers
  const start = performance.now();
  for (let i = 0; i < pcm.length; i += CHUNK) {
    const atMs = i / PCM_SAMPLES_PER_MS;
    if (live) {
      const wait = start + atMs + 100 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      stream.push(pcm.subarray(i, i + CHUNK), atMs);
    } else if (!stream.push(pcm.subarray(i, i + CHUNK), atMs)) await stream.drained();
  }
  await stream.flush();
  const wallMs = performance.now() - start;
  return { cues, delaysMs, windows, errors, droppedMs, wallMs };
}

async function runPocketsphinx(): Promise<Record<string, unknown>> {
  const missing = speechToolsMissing();
  if (missing) throw new Error(missing);
  const load = loadavg()[0]!;
  const seconds = Number(values.seconds);
  // Sentences (repeated) until the audio is about --seconds long: ~2.5 s of speech + 1.5 s pause each.
  const n = Math.max(1, Math.round((seconds * 1000 - 1000) / 4000));
  const sentences = Array.from({ length: n }, (_, i) => SENTENCES[i % SENTENCES.length]!);
  const dir = mkdtempSync(join(tmpdir(), 'onair-bench-ps-'));
  let speech: ReturnType<typeof makeSpeech>;
  let pcm: Float32Array;
  try {
    speech = makeSpeech(dir, sentences, { leadMs: 1000, pauseMs: 1500, tailMs: 1500 });
    pcm = wavSamples(speech.wav);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const audioMs = pcm.length / PCM_SAMPLES_PER_MS;
  process.stderr.write(`pocketsphinx: ${(audioMs / 1000).toFixed(1)} s of espeak-ng speech (${n} sentences) in real time\n`);
  const live = await feedSpeech(pcm, true);
  process.stderr.write(`pocketsphinx: the same audio as fast as the child reads it (extract-captions mode)\n`);
  const file = await feedSpeech(pcm, false);

  const spoken = sentences.flatMap((x) => x.split(' ')).filter((w) => KEY_WORDS.includes(w));
  const heard = live.cues.flatMap((c) => c.text.split(' '));
  const recalled = spoken.filter((w) => heard.includes(w));
  const cpu = (ws: { audioMs: number; inferMs: number }[]) => ws.reduce((a, w) => a + w.inferMs, 0);
  const audio = (ws: { audioMs: number; inferMs: number }[]) => ws.reduce((a, w) => a + w.audioMs, 0);
  // The first utterance's CPU time includes loading the model (~0.6 s): steady state leaves it out.
  const steady = live.windows.slice(1);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg1: Number(load.toFixed(2)) },
    engine: 'pocketsphinx_continuous (Debian pocketsphinx 0.8, en-us model, one child per session)',
    audioSeconds: Number((audioMs / 1000).toFixed(1)),
    sentences: n,
    live: {
      cues: live.cues.length,
      realtimeFactor: Number((cpu(live.windows) / Math.max(1, audio(live.windows))).toFixed(3)),
      realtimeFactorSteady: steady.length ? Number((cpu(steady) / Math.max(1, audio(steady))).toFixed(3)) : null,
      childCpuMs: Math.round(cpu(live.windows)),
      delayP50Ms: Math.round(percentile(live.delaysMs, 50)),
      delayP95Ms: Math.round(percentile(live.delaysMs, 95)),
      delayMaxMs: live.delaysMs.length ? Math.round(Math.max(...live.delaysMs)) : null,
      droppedAudioMs: Math.round(live.droppedMs),
      errors: live.errors,
      keyWordsSpoken: spoken.length,
      keyWordsRecognised: recalled.length,
      text: live.cues.map((c) => c.text),
    },
    file: {
      wallMs: Math.round(file.wallMs),
      speedup: Number((audioMs / file.wallMs).toFixed(1)),
      realtimeFactor: Number((cpu(file.windows) / Math.max(1, audio(file.windows))).toFixed(3)),
      cues: file.cues.length,
      errors: file.errors,
    },
  };
  console.table({
    'audio (s)': result.audioSeconds,
    'real-time factor (child CPU / audio)': result.live.realtimeFactor,
    'real-time factor, after the first utterance': result.live.realtimeFactorSteady,
    'caption delay p50 / p95 ms': `${result.live.delayP50Ms} / ${result.live.delayP95Ms}`,
    'key words recognised': `${recalled.length} / ${spoken.length}`,
    'dropped audio ms': result.live.droppedAudioMs,
    'file mode: x real time': result.file.speedup,
    'load average (1 min) at start': result.machine.loadavg1,
  });
  return result;
}

/** The previous results file, whose other engine's section is kept. */
const previous: Record<string, unknown> = existsSync(RESULT_FILE) ? (() => { try { return JSON.parse(readFileSync(RESULT_FILE, 'utf8')); } catch { return {}; } })() : {};
let result: Record<string, unknown>;
if (values.engine === 'pocketsphinx') {
  result = { ...previous, pocketsphinx: await runPocketsphinx() };
} else {
  result = { ...(await runWhisper()), ...(previous.pocketsphinx ? { pocketsphinx: previous.pocketsphinx } : {}) };
}
writeResultJson(RESULT_FILE, result);
console.log(JSON.stringify(values.engine === 'pocketsphinx' ? result.pocketsphinx : result, null, 2));
