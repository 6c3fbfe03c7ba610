// Synthetic English speech for the pocketsphinx tests and bench: espeak-ng sentences with
// pauses between them, as one 16 kHz mono WAV, with where each sentence sits in it.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable, pocketsphinxMissing } from '../src/captions/engines/pocketsphinx.js';
import { loadConfig } from '../src/config/index.js';

/** Sentences the lead measured: most of them are recognised well enough from espeak-ng through AAC. */
export const SENTENCES = [
  'the quick brown fox jumps over the lazy dog',
  'hello everyone welcome to the stream',
  'thank you for watching',
  'today we are going to play a game',
  'please subscribe to my channel',
  'the weather is nice today',
  'i would like a cup of coffee please',
  'good morning how are you',
];

/** Words of SENTENCES that the en-us model did recognise in the lead's run (the fox sentence is not). */
export const KEY_WORDS = ['hello', 'everyone', 'watching', 'today', 'going', 'play', 'subscribe', 'weather', 'coffee', 'please', 'thank'];

export interface Placed {
  text: string;
  startMs: number;
  endMs: number;
}

/** speechToolsMissing says what is missing to run the real-recognition tests (undefined: all there). */
export function speechToolsMissing(): string | undefined {
  if (!findExecutable('espeak-ng')) return 'espeak-ng is not installed (apt-get install espeak-ng)';
  return pocketsphinxMissing(loadConfig({ env: {} }).captions.pocketsphinx);
}

const WAV_HEADER = 44;
const ESPEAK_RATE = 22_050;

/**
 * makeSpeech writes speech.wav (16 kHz mono s16) into dir: leadMs of silence, then each
 * sentence followed by pauseMs of silence. Returns the path and each sentence's span.
 */
export function makeSpeech(dir: string, sentences: string[], opts: { leadMs?: number; pauseMs?: number; tailMs?: number } = {}): { wav: string; placed: Placed[]; durationMs: number } {
  const lead = opts.leadMs ?? 1000;
  const pause = opts.pauseMs ?? 1500;
  const tail = opts.tailMs ?? 1500;
  const inputs: string[] = [];
  const filters: string[] = [];
  const placed: Placed[] = [];
  let t = lead;
  let n = 0;
  const silence = (ms: number) => {
    inputs.push('-f', 'lavfi', '-t', (ms / 1000).toFixed(3), '-i', `anullsrc=r=${ESPEAK_RATE}:cl=mono`);
    filters.push(`[${n++}:a]`);
  };
  silence(lead);
  sentences.forEach((text, i) => {
    const wav = join(dir, `s${i}.wav`);
    execFileSync('espeak-ng', ['-v', 'en-us+m1', '-s', '150', '-w', wav, text]);
    const ms = ((statSync(wav).size - WAV_HEADER) / 2 / ESPEAK_RATE) * 1000;
    placed.push({ text, startMs: t, endMs: t + ms });
    t += ms;
    inputs.push('-i', wav);
    filters.push(`[${n++}:a]`);
    const gap = i === sentences.length - 1 ? tail : pause;
    silence(gap);
    t += gap;
  });
  const out = join(dir, 'speech.wav');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...inputs, '-filter_complex', `${filters.join('')}concat=n=${n}:v=0:a=1[a]`, '-map', '[a]', '-ar', '16000', '-ac', '1', '-c:a', 'pcm_s16le', out]);
  return { wav: out, placed, durationMs: t };
}

/** wavSamples reads a 16-bit mono WAV written by makeSpeech as floats. */
export function wavSamples(path: string): Float32Array {
  const b = readFileSync(path);
  const data = b.indexOf('data', 12);
  const start = data + 8;
  const n = (b.length - start) >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = b.readInt16LE(start + i * 2) / 32768;
  return out;
}
