// Captions benchmark: whisper.cpp real-time factor per window, and caption delay through the
// real sliding-window loop with audio arriving in real time.
//
//   npm run bench -- captions [--model PATH] [--windows N] [--seconds S] [--threads T]
//
// Without --model (or WHISPER_MODEL) it generates a ggml file with the tiny model's real shapes
// and random weights: the encoder cost per window is the real tiny cost; decoding is limited to
// one token (random weights decode garbage forever), so the figure is a lower bound for tiny.
// The delay run replays a scripted speaker through SlidingWindowTranscriber with a recogniser
// that takes the measured per-window time, so it measures the loop, not the model's accuracy.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WhisperRecogniser } from '../src/captions/engines/whisper.js';
import { SlidingWindowTranscriber } from '../src/captions/windowing.js';
import { PCM_SAMPLES_PER_MS, type CaptionCue } from '../src/captions/types.js';
import { writeRandomWhisperModel } from '../test/unit/captions/random-ggml.js';
import { ScriptedRecogniser, speechPcm, type Phrase } from '../test/unit/captions/fake-recogniser.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    windows: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '40' },
    threads: { type: 'string' },
    step: { type: 'string', default: '3000' },
    length: { type: 'string', default: '10000' },
  },
});
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
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/captions.json', JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
