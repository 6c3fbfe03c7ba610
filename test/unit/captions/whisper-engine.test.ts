// The whisper engine as far as it can be exercised without real weights: a ggml file with
// the tiny model's real shapes and random weights goes through smart-whisper in a worker.
// With WHISPER_MODEL pointing at a real model, the Korean speech test runs too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { AUDIO_CTX_FULL, MIN_MAX_TOKENS, WhisperRecogniser, audioCtxFor, defaultWhisperThreads, maxTokensFor } from '../../../src/captions/engines/whisper.js';
import { loadConfig } from '../../../src/config/index.js';
import { resolveModel } from '../../../src/captions/models.js';
import { writeRandomWhisperModel } from '../../../testkit/random-ggml.js';

function bindingProblem(): string | undefined {
  try {
    createRequire(import.meta.url)('smart-whisper');
    return undefined;
  } catch (err) {
    return `smart-whisper is not built here (${(err as Error).message.split('\n')[0]})`;
  }
}
const skip = bindingProblem();
if (skip) console.log(`# whisper engine tests skipped: ${skip}`);

/** Encoder-only decoding keeps random-weight windows short (no degenerate token loops). */
const QUICK = { single_segment: true, max_tokens: 1, no_timestamps: true };

test('whisper engine: random-weight tiny model loads, recognises in a worker thread, passes the language, closes', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-whisper-'));
  const path = join(dir, 'ggml-random-tiny.bin');
  let r: WhisperRecogniser | undefined;
  try {
    writeRandomWhisperModel(path);
    assert.equal(resolveModel(dir, path).hparams.nAudioLayer, 4);
    r = await WhisperRecogniser.open({ modelPath: path, params: QUICK, threads: 2 });
    assert.notEqual(r.threadId, threadId, 'inference runs on another thread');
    assert.ok(r.loadMs > 0);
    // The event loop keeps ticking while whisper.cpp works.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const pcm = new Float32Array(16_000 * 4).map((_, i) => 0.2 * Math.sin(i / 7));
    const t0 = Date.now();
    const segs = await r.recognise({ pcm, language: 'ko' });
    assert.ok(segs.length >= 1, 'whisper.cpp produced a segment');
    assert.ok(segs.every((s) => s.lang === 'ko'), `decoded as ${segs.map((s) => s.lang)}`);
    const took = Date.now() - t0;
    clearInterval(timer);
    assert.ok(Array.isArray(segs));
    for (const s of segs) assert.equal(typeof s.text, 'string');
    assert.ok(r.lastInferMs > 0 && r.lastInferMs <= took + 5);
    assert.ok(ticks >= Math.floor(took / 20) * 0.5, `event loop ticked ${ticks} times in ${took} ms`);
    assert.equal(pcm.byteLength, 0, 'the window was transferred, not copied');
    // The language reaches whisper.cpp: the same worker decodes the next window as English.
    const again = await r.recognise({ pcm: new Float32Array(16_000 * 2).fill(0.01), language: 'en' });
    assert.ok(again.length >= 1 && again.every((s) => s.lang === 'en'), `decoded as ${again.map((s) => s.lang)}`);
  } finally {
    await r?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(r.recognise({ pcm: new Float32Array(16), language: 'ko' }), /closed/);
});

test('whisper engine: bad model files are refused at open, before the binding', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-whisper-'));
  try {
    const zeros = join(dir, 'ggml-zeros.bin');
    const b = Buffer.alloc(4096);
    b.writeUInt32LE(0x67676d6c, 0);
    writeFileSync(zeros, b);
    await assert.rejects(WhisperRecogniser.open({ modelPath: zeros }), /implausible whisper hyper-parameters/);
    // A valid header with the tensors cut off: refused before whisper.cpp sees it (its binding segfaults on it).
    const full = join(dir, 'ggml-full.bin');
    writeRandomWhisperModel(full);
    const cut = join(dir, 'ggml-cut.bin');
    writeFileSync(cut, readFileSync(full).subarray(0, 3 << 20));
    await assert.rejects(WhisperRecogniser.open({ modelPath: cut }), /not a complete whisper model: tensor \d+ runs past the end/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('whisper engine: audio_ctx per window covers the window plus a margin, in steps of 64, capped at the model', () => {
  // 10 s: 500 positions + 64 margin → 576 (vs 1500 for whisper's 30 s context).
  assert.equal(audioCtxFor(10_000, 'auto'), 576);
  assert.equal(audioCtxFor(3000, 'auto'), 256);
  // Short windows keep a floor; every window is covered with at least the margin.
  assert.equal(audioCtxFor(500, 'auto'), 128);
  for (let ms = 200; ms <= 28_000; ms += 700) {
    const ctx = audioCtxFor(ms, 'auto');
    assert.ok(ctx === 0 || (ctx % 64 === 0 && ctx * 20 >= ms + 64 * 20 && ctx >= 128), `${ms} ms → ${ctx}`);
  }
  // Long windows: the model's full context (0 tells whisper.cpp to use it).
  assert.equal(audioCtxFor(29_000, 'auto'), 0);
  assert.equal(audioCtxFor(60_000, 'auto'), 0);
  assert.equal(audioCtxFor(10_000, 'auto', 448), 0, 'capped at a smaller model context');
  // 0 = whisper's full 30 s; a number is used as given (capped).
  assert.equal(audioCtxFor(10_000, 0), 0);
  assert.equal(audioCtxFor(2000, 768), 768);
  assert.equal(audioCtxFor(2000, AUDIO_CTX_FULL + 10), 0);
});

test('whisper engine: default threads leave a core to the server, 1..4', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 64].map((c) => defaultWhisperThreads(c)), [1, 1, 2, 3, 4, 4]);
});

test('whisper engine: decoded tokens are bounded by the window length', () => {
  assert.equal(maxTokensFor(10_000, 20), 200);
  assert.equal(maxTokensFor(4000, 20), 80);
  assert.equal(maxTokensFor(500, 20), MIN_MAX_TOKENS);
  assert.equal(maxTokensFor(10_000, 0), 0, '0 = whisper.cpp\'s own cap');
});

test('whisper engine: captions.whisper config keys (defaults, env, refusals)', () => {
  const d = loadConfig({ env: {} }).captions.whisper;
  assert.deepEqual(d, { audioCtx: 'auto', maxTokensPerSecond: 20, threads: 0 });
  const e = loadConfig({ env: { ONAIR_CAPTIONS_WHISPER_AUDIO_CTX: '768', ONAIR_CAPTIONS_WHISPER_MAX_TOKENS_PER_SECOND: '0', ONAIR_CAPTIONS_WHISPER_THREADS: '1' } }).captions.whisper;
  assert.deepEqual(e, { audioCtx: 768, maxTokensPerSecond: 0, threads: 1 });
  assert.equal(loadConfig({ env: { ONAIR_CAPTIONS_WHISPER_AUDIO_CTX: '0' } }).captions.whisper.audioCtx, 0);
  assert.throws(() => loadConfig({ env: { ONAIR_CAPTIONS_WHISPER_AUDIO_CTX: '10' } }));
  assert.throws(() => loadConfig({ env: { ONAIR_CAPTIONS_WHISPER_AUDIO_CTX: '4000' } }));
  assert.throws(() => loadConfig({ env: { ONAIR_CAPTIONS_WHISPER_AUDIO_CTX: 'full' } }));
});

test('whisper engine: per-window audio_ctx reaches whisper.cpp; short and long windows decode; the reduced encoder is faster', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-whisper-'));
  const path = join(dir, 'ggml-random-tiny.bin');
  let auto: WhisperRecogniser | undefined;
  let full: WhisperRecogniser | undefined;
  let bad: WhisperRecogniser | undefined;
  try {
    writeRandomWhisperModel(path);
    auto = await WhisperRecogniser.open({ modelPath: path, params: QUICK, threads: 2 });
    full = await WhisperRecogniser.open({ modelPath: path, params: QUICK, threads: 2, audioCtx: 0 });
    const tone = (ms: number) => new Float32Array(ms * 16).map((_, i) => 0.2 * Math.sin(i / 7));
    // Short and full-length windows both decode with the reduced context.
    for (const ms of [1200, 10_000]) {
      const segs = await auto.recognise({ pcm: tone(ms), language: 'ko' });
      assert.ok(segs.length >= 1 && segs.every((s) => s.lang === 'ko'), `${ms} ms window: ${JSON.stringify(segs)}`);
      assert.deepEqual(auto.lastWindowParams, { audio_ctx: audioCtxFor(ms, 'auto'), max_tokens: maxTokensFor(ms, 20) });
    }
    // Encoder cost follows the context: 2 s with 128 positions vs whisper's 1500 (~10x the work).
    const tAuto = Math.min(...(await timed(auto, tone, 2000)));
    const tFull = Math.min(...(await timed(full, tone, 2000, 1)));
    assert.equal(full.lastWindowParams.audio_ctx, 0);
    assert.ok(tAuto < tFull, `audio_ctx ${audioCtxFor(2000, 'auto')}: ${Math.round(tAuto)} ms, full context: ${Math.round(tFull)} ms`);
    // The parameter really reaches whisper_full: a context larger than the model's is refused there.
    bad = await WhisperRecogniser.open({ modelPath: path, params: { ...QUICK, audio_ctx: AUDIO_CTX_FULL + 64 }, threads: 1 });
    await assert.rejects(bad.recognise({ pcm: tone(1500), language: 'ko' }), /whisper/);
  } finally {
    await Promise.all([auto?.close(), full?.close(), bad?.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('whisper engine: the token bound reaches whisper.cpp: a garbage-emitting model stops at it', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-whisper-'));
  const path = join(dir, 'ggml-random-tiny.bin');
  // No max_tokens override here: random weights decode garbage up to whatever bound there is.
  const params = { single_segment: true, no_timestamps: true };
  let bounded: WhisperRecogniser | undefined;
  let unbounded: WhisperRecogniser | undefined;
  try {
    writeRandomWhisperModel(path);
    bounded = await WhisperRecogniser.open({ modelPath: path, params, threads: 1, maxTokensPerSecond: 1 });
    unbounded = await WhisperRecogniser.open({ modelPath: path, params, threads: 1, maxTokensPerSecond: 0 });
    const pcm = () => new Float32Array(2 * 16_000).map((_, i) => 0.2 * Math.sin(i / 7));
    const a = (await bounded.recognise({ pcm: pcm(), language: 'ko' })).map((x) => x.text).join('');
    const b = (await unbounded.recognise({ pcm: pcm(), language: 'ko' })).map((x) => x.text).join('');
    assert.equal(bounded.lastWindowParams.max_tokens, MIN_MAX_TOKENS);
    assert.equal(unbounded.lastWindowParams.max_tokens, 0);
    // Garbage tokens are about one character each here: 32 tokens vs whisper.cpp's own 220.
    assert.ok(a.length > 0 && a.length <= 2 * MIN_MAX_TOKENS, `bounded: ${a.length} chars`);
    assert.ok(b.length > 3 * a.length, `unbounded: ${b.length} chars vs bounded ${a.length}`);
  } finally {
    await Promise.all([bounded?.close(), unbounded?.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

async function timed(r: WhisperRecogniser, tone: (ms: number) => Float32Array, ms: number, runs = 2): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    await r.recognise({ pcm: tone(ms), language: 'ko' });
    out.push(r.lastInferMs);
  }
  return out;
}

const realModel = process.env.WHISPER_MODEL;
const haveEspeak = (() => { try { execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const realSkip = skip ?? (!realModel ? 'WHISPER_MODEL is not set (no real ggml model can be fetched on this machine)' : !existsSync(realModel) ? `WHISPER_MODEL ${realModel} does not exist` : !haveEspeak ? 'espeak-ng is not installed' : undefined);
if (realSkip) console.log(`# real-model recognition test skipped: ${realSkip}`);

test('whisper engine: Korean speech from espeak-ng is recognised by a real model', { skip: realSkip }, async () => {
  const wav = execFileSync('espeak-ng', ['-v', 'ko', '-s', '140', '--stdout', '안녕하세요 오늘 날씨가 좋습니다']);
  const pcmBytes = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'], { input: wav });
  const pcm = new Float32Array(pcmBytes.length / 2).map((_, i) => pcmBytes.readInt16LE(i * 2) / 32768);
  const r = await WhisperRecogniser.open({ modelPath: realModel! });
  try {
    const segs = await r.recognise({ pcm, language: 'ko' });
    assert.ok(segs.length >= 1, 'whisper.cpp produced a segment');
    assert.ok(segs.every((s) => s.lang === 'ko'), `decoded as ${segs.map((s) => s.lang)}`);
    const text = segs.map((s) => s.text).join(' ');
    assert.match(text, /안녕|날씨/, text);
  } finally {
    await r.close();
  }
});
