// Captions benchmark: whisper.cpp real-time factor per window, and caption delay through the
// real sliding-window loop with audio arriving in real time.
//
//   npm run bench -- captions [--engine whisper|pocketsphinx] [--model PATH] [--windows N] [--seconds S] [--threads T] [--out DIR]
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
// The delay run replays a scripted speaker through SlidingWindowTranscriber with a recogniser
// that takes the measured per-window time, so it measures the loop, not the model's accuracy.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WhisperRecogniser } from '../src/captions/engines/whisper.js';
import { SlidingWindowTranscriber } from '../src/captions/windowing.js';
import { PCM_SAMPLES_PER_MS, type CaptionCue } from '../src/captions/types.js';
import { writeRandomWhisperModel } from '../test/unit/captions/random-ggml.js';
import { ScriptedRecogniser, speechPcm, type Phrase } from '../test/unit/captions/fake-recogniser.js';
import { PocketsphinxStream } from '../src/captions/engines/pocketsphinx.js';
import { loadConfig } from '../src/config/index.js';
import { KEY_WORDS, SENTENCES, makeSpeech, speechToolsMissing, wavSamples } from '../test/unit/captions/espeak.js';
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

async function measureWhisper(): Promise<{ model: string; random: boolean; loadMs: number; inferMs: number[]; rssMb: number[] }> {
  const modelArg = values.model ?? process.env.WHISPER_MODEL;
  let dir: string | undefined;
  let path = modelArg;
  if (!path) {
    dir = mkdtempSync(join(tmpdir(), 'onair-bench-'));
    path = join(dir, 'ggml-random-tiny.bin');
    writeRandomWhisperModel(path);
  }
  const random = !modelArg;
  const r = await WhisperRecogniser.open({
    modelPath: path,
    ...(values.threads ? { threads: Number(values.threads) } : {}),
    ...(random ? { params: { single_segment: true, max_tokens: 1, no_timestamps: true } } : {}),
  });
  const inferMs: number[] = [];
  const rssMb: number[] = [];
  try {
    for (let i = 0; i < Number(values.windows); i++) {
      const pcm = new Float32Array(WINDOW_MS * PCM_SAMPLES_PER_MS).map((_, k) => 0.2 * Math.sin(k / (7 + i)) * (k % 16000 < 12000 ? 1 : 0.1));
      const t0 = performance.now();
      await r.recognise({ pcm, language: 'ko' });
      inferMs.push(performance.now() - t0);
      rssMb.push(Math.round(process.memoryUsage().rss / 2 ** 20));
      process.stderr.write(`window ${i + 1}: ${Math.round(inferMs.at(-1)!)} ms, rss ${rssMb.at(-1)} MB\n`);
    }
  } finally {
    await r.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return { model: random ? 'random-weight tiny (real shapes)' : path!, random, loadMs: Math.round(r.loadMs), inferMs, rssMb };
}

/** measureDelay runs the real loop on real-time audio with a recogniser taking `latencyMs` per window. */
async function measureDelay(latencyMs: number, seconds: number): Promise<{ delaysMs: number[]; finals: number; droppedMs: number; phrases: number }> {
  const phrases: Phrase[] = [];
  for (let t = 1000, i = 0; t < seconds * 1000 - 3000; i++) {
    const len = 1200 + ((i * 737) % 2200);
    phrases.push({ text: `phrase ${i} words here`, startMs: t, endMs: t + len });
    t += len + 600 + ((i * 331) % 1400);
  }
  const rec = new ScriptedRecogniser(phrases, { delayMs: latencyMs });
  const delaysMs: number[] = [];
  let finals = 0;
  let droppedMs = 0;
  const tr = new SlidingWindowTranscriber(rec, { stepMs: STEP_MS, lengthMs: WINDOW_MS, language: 'ko' }, {
    onCue: (c: CaptionCue) => { if (c.type === 'final') finals++; },
    onDelay: (ms) => delaysMs.push(ms),
    onDropped: (ms) => (droppedMs += ms),
  });
  const CHUNK = 100;
  const start = performance.now();
  for (let at = 0; at < seconds * 1000; at += CHUNK) {
    const wait = start + at + CHUNK - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    tr.push(speechPcm(phrases, at, at + CHUNK), at);
  }
  await tr.flush();
  return { delaysMs, finals, droppedMs, phrases: phrases.length };
}

async function runWhisper(): Promise<Record<string, unknown>> {
  const load = loadavg()[0]!;
  const w = await measureWhisper();
  const steady = w.inferMs.slice(1).length ? w.inferMs.slice(1) : w.inferMs;
  const medianInfer = percentile(steady, 50);
  const rtf = medianInfer / WINDOW_MS;
  process.stderr.write(`delay run: ${values.seconds} s of audio in real time, recogniser ${Math.round(medianInfer)} ms per window\n`);
  const d = await measureDelay(Math.round(medianInfer), Number(values.seconds));
  const fast = await measureDelay(50, Math.min(30, Number(values.seconds)));

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg1: Number(load.toFixed(2)) },
    windowMs: WINDOW_MS, stepMs: STEP_MS,
    whisper: {
      binding: 'smart-whisper 0.8.1 (whisper.cpp built with node-gyp; see scripts/build-whisper.mjs for SIMD flags)',
      model: w.model, loadMs: w.loadMs,
      inferMs: w.inferMs.map(Math.round), medianInferMs: Math.round(medianInfer), realtimeFactor: Number(rtf.toFixed(3)),
      rssMb: w.rssMb,
    },
    delayWithMeasuredLatency: {
      recogniserMs: Math.round(medianInfer), finals: d.finals, phrases: d.phrases, droppedAudioMs: Math.round(d.droppedMs),
      p50Ms: Math.round(percentile(d.delaysMs, 50)), p90Ms: Math.round(percentile(d.delaysMs, 90)), maxMs: Math.round(Math.max(...d.delaysMs)),
    },
    delayWithFastRecogniser: {
      recogniserMs: 50, finals: fast.finals, phrases: fast.phrases,
      p50Ms: Math.round(percentile(fast.delaysMs, 50)), p90Ms: Math.round(percentile(fast.delaysMs, 90)), maxMs: Math.round(Math.max(...fast.delaysMs)),
    },
  };
  console.table({
    'whisper ms/window (median)': result.whisper.medianInferMs,
    'real-time factor': result.whisper.realtimeFactor,
    'delay p50 / p90 ms (measured latency)': `${result.delayWithMeasuredLatency.p50Ms} / ${result.delayWithMeasuredLatency.p90Ms}`,
    'delay p50 / p90 ms (50 ms recogniser)': `${result.delayWithFastRecogniser.p50Ms} / ${result.delayWithFastRecogniser.p90Ms}`,
    'load average (1 min) at start': result.machine.loadavg1,
  });
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
