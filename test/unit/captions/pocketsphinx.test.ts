// The pocketsphinx engine: its stdout parser (chunks split anywhere), the sample → stream
// time mapping across gaps, real recognition of espeak-ng speech by Debian's
// pocketsphinx_continuous, crash restarts with a bounded backoff, and dropping audio when
// the child does not keep up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PocketsphinxOutputParser, PocketsphinxStream, SampleTimeline, cleanWord, floatToS16le, type PsUtterance } from '../../../src/captions/engines/pocketsphinx.js';
import { loadConfig } from '../../../src/config/index.js';
import type { CaptionCue, TranscriberSink } from '../../../src/captions/types.js';
import { KEY_WORDS, SENTENCES, makeSpeech, speechToolsMissing, wavSamples } from '../../../testkit/espeak.js';

const OUTPUT = [
  'oh that we would welcome the most real',
  '<s> 0.000 0.140 1.000300',
  'oh 0.150 0.310 0.586630',
  'that(2) 0.320 0.530 0.009534',
  '<sil> 1.370 1.430 0.997104',
  '[NOISE] 1.430 1.440 0.5',
  '++UH++ 1.440 1.450 0.5',
  'welcome 0.890 1.360 0.315236',
  '</s> 2.200 2.710 1.000000',
  'thank you for watching',
  '<s> 4.060 4.170 1.000200',
  'thank 4.180 4.570 0.024257',
  'you 4.580 4.710 0.684242',
  'for 4.720 4.930 1.000100',
  'watching 4.940 5.470 0.211934',
  '</s> 5.480 5.980 1.000000',
  '',
].join('\n');

function parseAll(chunks: (string | Buffer)[]): PsUtterance[] {
  const out: PsUtterance[] = [];
  const p = new PocketsphinxOutputParser((u) => out.push(u));
  for (const c of chunks) p.push(c);
  p.flush();
  return out;
}

test('pocketsphinx parser: utterances, fillers dropped, alternates stripped, same result for any split', () => {
  const whole = parseAll([OUTPUT]);
  assert.deepEqual(whole.map((u) => u.words.map((w) => w.word).join(' ')), ['oh that welcome', 'thank you for watching']);
  assert.equal(whole[0]!.hypothesis, 'oh that we would welcome the most real');
  assert.deepEqual(whole[1]!.words[0], { word: 'thank', startS: 4.18, endS: 4.57, confidence: 0.024257 });
  const bytes = Buffer.from(OUTPUT);
  for (let cut = 1; cut < bytes.length; cut += 7) {
    assert.deepEqual(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]), whole, `split at ${cut}`);
  }
  assert.deepEqual(parseAll([...bytes].map((b) => Buffer.from([b]))), whole, 'one byte at a time');
  // Without </s> the next hypothesis line (or the end) closes an utterance; a trailing line without newline counts.
  assert.deepEqual(parseAll(['hi there\nhi 0.1 0.2 0.9\nthere 0.2 0.4 0.8\nbye\nbye 1.0 1.2 0.7']).map((u) => u.words.map((w) => w.word)), [['hi', 'there'], ['bye']]);
  // UTF-8 split inside a character.
  const u8 = Buffer.from('café 0.1 0.3 0.5\n</s> 0.3 0.4 1\n');
  assert.equal(parseAll([u8.subarray(0, 4), u8.subarray(4)])[0]!.words[0]!.word, 'café');
  assert.deepEqual(['<s>', '</s>', '<sil>', '[NOISE]', '++BREATH++', 'word(2)', 'x(12)'].map(cleanWord), [undefined, undefined, undefined, undefined, undefined, 'word', 'x']);
});

test('pocketsphinx timeline: cumulative sample positions map to stream time across gaps and drops', () => {
  const t = new SampleTimeline();
  t.append(16_000, 5000); // 1 s from stream 5000 ms
  t.append(16_000, 6000); // contiguous
  t.append(8000, 20_000); // the stream timeline jumped (publisher reconnect)
  t.skip(); // audio dropped here
  t.append(8000, 30_000);
  assert.equal(t.anchorCount, 3);
  assert.equal(t.msAt(0), 5000);
  assert.equal(t.msAt(24_000), 6500);
  assert.equal(t.msAt(32_000), 20_000);
  assert.equal(t.msAt(36_000), 20_250);
  assert.equal(t.msAt(40_000), 30_000);
  t.forget(33_000);
  assert.equal(t.anchorCount, 2);
  assert.equal(t.msAt(36_000), 20_250);
  assert.deepEqual([...floatToS16le(new Float32Array([0, 1, -1, 0.5]))], [0, 0, 0xff, 0x7f, 0x00, 0x80, 0x00, 0x40]);
});

function collector() {
  const cues: CaptionCue[] = [];
  const errors: string[] = [];
  const windows: { audioMs: number; inferMs: number }[] = [];
  const delays: number[] = [];
  let dropped = 0;
  const sink: TranscriberSink = {
    onCue: (c) => cues.push(c),
    onError: (e) => errors.push((e as Error).message),
    onWindow: (w) => windows.push(w),
    onDelay: (ms) => delays.push(ms),
    onDropped: (ms) => (dropped += ms),
  };
  return { sink, cues, errors, windows, delays, dropped: () => dropped };
}

const paths = loadConfig({ env: {} }).captions.pocketsphinx;
const missing = speechToolsMissing();

test('pocketsphinx engine: real recognition of espeak-ng speech, times on the stream timeline', { skip: missing && !process.env.CI ? missing : false, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-ps-'));
  try {
    // All eight sentences in one stream: the recogniser's cepstral mean adapts over the first
    // seconds, so short isolated clips are recognised much worse.
    const speech = makeSpeech(dir, SENTENCES, { leadMs: 1000, pauseMs: 1500 });
    const pcm = wavSamples(speech.wav);
    const c = collector();
    const base = 100_000; // stream time of the first sample
    const s = new PocketsphinxStream({ ...paths, language: 'en', idPrefix: 'p', dropWhenBehind: false }, c.sink);
    const chunk = 1600 + 37; // odd chunk size: positions must not depend on it
    for (let i = 0; i < pcm.length; i += chunk) {
      if (!s.push(pcm.subarray(i, i + chunk), base + i / 16)) await s.drained();
    }
    await s.flush();
    assert.deepEqual(c.errors, []);
    assert.ok(c.cues.length >= 2, JSON.stringify(c.cues));
    assert.ok(c.cues.every((x) => x.type === 'final' && x.lang === 'en' && !/[<[(+]/.test(x.text)), JSON.stringify(c.cues));
    const text = c.cues.map((x) => x.text).join(' ');
    const found = KEY_WORDS.filter((w) => text.split(' ').includes(w));
    console.log(`pocketsphinx heard: ${c.cues.map((x) => `[${x.startMs - base}-${x.endMs - base}] ${x.text}`).join(' | ')}`);
    assert.ok(found.length >= 4, `key words recognised: ${found.join(', ')} in "${text}"`);
    // The cue holding "watching" sits where the sentence was placed (±1.5 s).
    const watching = c.cues.find((x) => x.text.includes('watching'));
    if (watching) {
      const placed = speech.placed[2]!;
      assert.ok(Math.abs(watching.startMs - (base + placed.startMs)) < 1500 && Math.abs(watching.endMs - (base + placed.endMs)) < 1500, `${JSON.stringify(watching)} vs ${JSON.stringify(placed)}`);
    }
    for (let i = 1; i < c.cues.length; i++) assert.ok(c.cues[i]!.startMs >= c.cues[i - 1]!.endMs - 50, 'cues in order');
    assert.ok(c.windows.length >= 1 && c.windows.every((w) => w.audioMs > 0 && w.inferMs >= 0), 'CPU time per audio time reported');
    assert.equal(c.dropped(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pocketsphinx engine: a crashing child is reported and restarted with a bounded backoff', async () => {
  const c = collector();
  const s = new PocketsphinxStream({ ...paths, command: '/bin/false', language: 'en', idPrefix: 'p', restart: { baseMs: 20, maxMs: 40, maxAttempts: 2 } }, c.sink);
  const deadline = Date.now() + 5000;
  while (!/gave up/.test(s.lastError ?? '') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.restarts, 2);
  assert.equal(c.errors.length, 3);
  assert.match(c.errors[0]!, /pocketsphinx exited with 1/);
  assert.match(s.lastError!, /gave up after 2 restarts/);
  // Audio pushed with no child is dropped and counted, never thrown.
  s.push(new Float32Array(1600), 0);
  assert.equal(c.dropped(), 100);
  s.close();
  // A missing binary is an error too (spawn fails), not an exception.
  const c2 = collector();
  const s2 = new PocketsphinxStream({ ...paths, command: '/nonexistent/pocketsphinx', language: 'en', idPrefix: 'p', restart: { baseMs: 10, maxMs: 10, maxAttempts: 0 } }, c2.sink);
  await s2.exited();
  assert.match(c2.errors[0] ?? '', /ENOENT/);
  s2.close();
  assert.throws(() => new PocketsphinxStream({ ...paths, language: 'ko', idPrefix: 'p' }, c2.sink), /English only/);
});

test('pocketsphinx engine: a child that stops reading makes live audio drop (counted), memory bounded', async () => {
  const c = collector();
  let pid: number | undefined;
  // A stand-in child that never reads its stdin.
  const spawnFn = ((_cmd: string, _args: string[], o: object) => {
    const p = spawn('sleep', ['30'], o as never);
    pid = p.pid;
    return p;
  }) as unknown as typeof spawn;
  let now = 0;
  const s = new PocketsphinxStream({ ...paths, language: 'en', idPrefix: 'p', spawnFn, maxQueuedBytes: 64 * 1024, maxBlockedMs: 1000, now: () => now }, c.sink);
  try {
    const chunk = new Float32Array(1600); // 100 ms
    for (let i = 0; i < 600; i++) {
      now += 100;
      s.push(chunk, i * 100);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(c.dropped() > 50_000, `dropped ${c.dropped()} ms of 60000`);
    assert.equal(s.droppedMs, c.dropped());
  } finally {
    s.close();
    await s.exited();
    assert.ok(pid !== undefined);
    assert.throws(() => process.kill(pid!, 0), 'child killed by close()');
  }
});

test('pocketsphinx engine: killed mid-stream, it restarts and later cues keep stream times', { skip: missing && !process.env.CI ? missing : false, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-ps-'));
  try {
    const speech = makeSpeech(dir, SENTENCES, { leadMs: 1000, pauseMs: 1500 });
    const pcm = wavSamples(speech.wav);
    const c = collector();
    const base = 50_000;
    const s = new PocketsphinxStream({ ...paths, language: 'en', idPrefix: 'p', dropWhenBehind: false, restart: { baseMs: 50, maxMs: 100, maxAttempts: 3 } }, c.sink);
    // Kill the child right after the 4th sentence has been fed, then feed the rest to the new one.
    const cut = Math.round((speech.placed[3]!.endMs + 700) * 16);
    for (let i = 0; i < cut; i += 1600) if (!s.push(pcm.subarray(i, Math.min(cut, i + 1600)), base + i / 16)) await s.drained();
    const firstPid = s.pid!;
    process.kill(firstPid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while ((s.restarts < 1 || !s.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.restarts, 1);
    assert.notEqual(s.pid, firstPid);
    assert.match(c.errors[0] ?? '', /pocketsphinx exited with SIGKILL/);
    for (let i = cut; i < pcm.length; i += 1600) if (!s.push(pcm.subarray(i, Math.min(pcm.length, i + 1600)), base + i / 16)) await s.drained();
    await s.flush();
    const late = c.cues.filter((x) => x.startMs > base + cut / 16);
    assert.ok(late.length >= 2, `cues after the restart: ${JSON.stringify(c.cues)}`);
    // The new child counts from 0 again: its cues still land on their sentences (±1.5 s).
    for (const cue of late) {
      const at = cue.startMs - base;
      assert.ok(speech.placed.some((p) => at > p.startMs - 1500 && at < p.endMs), `${JSON.stringify(cue)} not on a sentence: ${JSON.stringify(speech.placed)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
