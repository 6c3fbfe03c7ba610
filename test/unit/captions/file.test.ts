// Captions for a file (extract-captions jobs): ffmpeg decodes the audio, the whisper path goes
// through the sliding-window loop one step at a time (no window skipped however slow the
// recogniser), progress rises to 1; an engine that cannot run fails the job permanently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileCaptionsEngine, transcribeFile } from '../../../src/captions/index.js';
import { parseFfmpegDuration } from '../../../src/captions/file.js';
import { loadConfig } from '../../../src/config/index.js';
import { parseVtt } from '../../../src/formats/webvtt.js';
import { PermanentJobError } from '../../../src/platform/jobs/worker.js';
import { ScriptedRecogniser, type Phrase } from '../../../testkit/fake-recogniser.js';

const script: Phrase[] = [
  { text: 'hello everyone', startMs: 1000, endMs: 2500 },
  { text: 'welcome to the stream', startMs: 5000, endMs: 7000 },
  { text: 'thank you for watching', startMs: 9000, endMs: 10_500 },
];

test('file captions: whisper path over a decoded MP4, every window recognised, cues on the file timeline, progress to 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-capfile-'));
  try {
    const mp4 = join(dir, 'source.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=300',
      '-t', '12', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-movflags', '+faststart', mp4]);
    // A recogniser slower than the step: a live session would drop audio, a file must not.
    let rec: ScriptedRecogniser | undefined;
    const progress: number[] = [];
    const r = await transcribeFile({
      ffmpegPath: 'ffmpeg', file: mp4, language: 'en', engine: 'whisper', stepMs: 3000, lengthMs: 10_000,
      createRecogniser: async () => (rec = new ScriptedRecogniser(script, { delayMs: 150 })),
      onProgress: (f) => progress.push(f),
    });
    assert.deepEqual(r.cues.map((c) => c.text), script.map((p) => p.text));
    for (const [i, c] of r.cues.entries()) assert.ok(Math.abs(c.startMs - script[i]!.startMs) < 300 && Math.abs(c.endMs - script[i]!.endMs) < 300, JSON.stringify(c));
    assert.ok(Math.abs(r.audioMs - 12_000) < 100, `decoded ${r.audioMs} ms`);
    // Windows cover the whole file without gaps.
    const calls = rec!.calls;
    assert.equal(r.droppedMs, 0);
    assert.ok(calls.length >= 3, `${calls.length} windows`);
    assert.ok(calls.at(-1)!.startMs + calls.at(-1)!.durationMs >= 11_900, `the last window reaches the end: ${JSON.stringify(calls)}`);
    assert.deepEqual(parseVtt(r.vtt).cues.map((c) => c.text), script.map((p) => p.text));
    assert.equal(progress.at(-1), 1);
    assert.ok(progress.some((p) => p > 0 && p < 1));
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!);
    // A file without audio is an error naming the file, not an empty success.
    const silent = join(dir, 'video-only.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', silent]);
    await assert.rejects(transcribeFile({ ffmpegPath: 'ffmpeg', file: silent, language: 'en', engine: 'whisper', stepMs: 3000, lengthMs: 10_000, createRecogniser: async () => new ScriptedRecogniser([]) }), /ffmpeg could not decode .*video-only\.mp4/);
    // Cancellation stops the decoder and rejects.
    const ac = new AbortController();
    const p = transcribeFile({ ffmpegPath: 'ffmpeg', file: mp4, language: 'en', engine: 'whisper', stepMs: 3000, lengthMs: 10_000, signal: ac.signal, createRecogniser: async () => new ScriptedRecogniser(script, { delayMs: 300 }) });
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file captions: an engine that cannot run fails the job permanently, saying why', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-capfile-'));
  try {
    const whisper = fileCaptionsEngine(loadConfig({ env: {}, overrides: { dataDir } }), 'ffmpeg', async () => { throw new Error('no whisper model base: run onair captions model download base'); });
    await assert.rejects(whisper({ file: '/nonexistent.mp4', language: 'ko', signal: new AbortController().signal, onProgress() {} }),
      (e: Error) => e instanceof PermanentJobError && /onair captions model download base/.test(e.message));
    const ps = fileCaptionsEngine(loadConfig({ env: {}, overrides: { dataDir, 'captions.engine': 'pocketsphinx' } }), 'ffmpeg', async () => { throw new Error('unreachable'); });
    await assert.rejects(ps({ file: '/nonexistent.mp4', language: 'ko', signal: new AbortController().signal, onProgress() {} }),
      (e: Error) => e instanceof PermanentJobError && /English only/.test(e.message));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.equal(parseFfmpegDuration('  Duration: 01:02:03.45, start: 0.000000, bitrate: 1 kb/s'), 3_723_450);
  assert.equal(parseFfmpegDuration('nothing'), undefined);
});
