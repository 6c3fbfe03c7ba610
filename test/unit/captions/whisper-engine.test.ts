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
import { WhisperRecogniser } from '../../../src/captions/engines/whisper.js';
import { resolveModel } from '../../../src/captions/models.js';
import { writeRandomWhisperModel } from './random-ggml.js';

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
  await assert.rejects(r!.recognise({ pcm: new Float32Array(16), language: 'ko' }), /closed/);
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
