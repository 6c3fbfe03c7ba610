// Server-side text to speech with the real espeak-ng: WAV out, cached by text (the engine runs
// once per text), masks never read, length capped, a command engine that writes no WAV refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandEngine, EspeakEngine, TtsService, speakableText, type TtsEngine } from '../../../../src/community/alerts/tts.js';
import { alertSpeech } from '../../../../src/community/alerts/routes.js';

test('speakableText drops moderation masks, folds spaces and caps the length', () => {
  assert.equal(speakableText('안녕 *** 하세요   반가워요', 100), '안녕 하세요 반가워요');
  assert.equal(speakableText('***', 100), '');
  assert.equal(speakableText('가나다라마바사', 3), '가나다');
  assert.equal(alertSpeech({ user: { id: 'u', name: '팬' }, amount: 10000, message: '화이팅' }), '팬님, 10,000원. 화이팅');
});

test('espeak-ng speaks Korean into WAV; the cache answers the same text without the engine', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-tts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const real = new EspeakEngine('ko');
  const said: string[] = [];
  const counting: TtsEngine = { name: real.name, synthesize: (text, ms) => { said.push(text); return real.synthesize(text, ms); } };
  const tts = new TtsService({ engine: counting, cacheDir: dir, maxChars: 20, cacheEntries: 2, timeoutMs: 10_000 });
  const [a, b] = await Promise.all([tts.speak('팬님, 1,000원. 반가워요 ***'), tts.speak('팬님, 1,000원. 반가워요')]);
  assert.ok(a && b);
  assert.equal(a.wav.subarray(0, 4).toString(), 'RIFF');
  assert.equal(a.wav.subarray(8, 12).toString(), 'WAVE');
  assert.ok(a.wav.length > 4000, `some speech: ${a.wav.length} bytes`);
  assert.equal(a.key, b.key, 'the mask is not part of what is read');
  assert.deepEqual(said, ['팬님, 1,000원. 반가워요'], 'one synthesis for both');
  const again = await tts.speak('팬님, 1,000원. 반가워요');
  assert.deepEqual(again?.wav, a.wav);
  assert.equal(said.length, 1, 'from the cache');
  assert.equal(await tts.speak(' *** '), null, 'nothing to read');
  await tts.speak('둘');
  await tts.speak('셋');
  await tts.prune();
  assert.equal(readdirSync(dir).filter((n) => n.endsWith('.wav')).length, 2, 'the cache keeps cacheEntries files');
});

test('a command engine must write WAV and finish in time', async () => {
  await assert.rejects(new CommandEngine('cat').synthesize('not audio', 5000), /did not write a WAV file/);
  await assert.rejects(new CommandEngine('sleep 5').synthesize('x', 200), /longer than 200 ms/);
  await assert.rejects(new CommandEngine('false').synthesize('x', 5000), /exited with 1/);
  const wav = await new CommandEngine('espeak-ng -v en --stdin --stdout').synthesize('hello', 10_000);
  assert.equal(wav.subarray(0, 4).toString(), 'RIFF');
});
