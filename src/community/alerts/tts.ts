/**
 * Text to speech for super chat alerts: a pluggable engine (espeak-ng built in, or any command
 * that reads text on stdin and writes WAV to stdout), with a disk cache keyed by the hash of
 * engine, voice and text, bounded text length and run time, and one synthesis per text at a time.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** TtsEngine turns text into WAV bytes. */
export interface TtsEngine {
  /** name identifies the engine and its settings in the cache key. */
  readonly name: string;
  synthesize(text: string, timeoutMs: number): Promise<Buffer>;
}

/** WAV_HEAD is how every answer of an engine must begin (RIFF....WAVE). */
const RIFF = Buffer.from('RIFF');
const WAVE = Buffer.from('WAVE');
/** MAX_WAV_BYTES bounds what an engine may answer. */
const MAX_WAV_BYTES = 16 * 1024 * 1024;

/** runToWav runs a program with text on stdin and answers its stdout, which must be a WAV file. */
function runToWav(file: string, args: string[], text: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`text to speech took longer than ${timeoutMs} ms`)); }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_WAV_BYTES) { p.kill('SIGKILL'); return; }
      out.push(d);
    });
    p.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-500); });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => {
      clearTimeout(timer);
      const wav = Buffer.concat(out);
      if (code !== 0) return reject(new Error(`${file} exited with ${code}: ${err.trim()}`));
      if (wav.length < 44 || !wav.subarray(0, 4).equals(RIFF) || !wav.subarray(8, 12).equals(WAVE)) return reject(new Error(`${file} did not write a WAV file`));
      resolve(wav);
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(text);
  });
}

/** EspeakEngine speaks with espeak-ng (it speaks Korean: voice "ko"). */
export class EspeakEngine implements TtsEngine {
  readonly name: string;
  constructor(private readonly voice: string, private readonly binary = 'espeak-ng') {
    this.name = `espeak-ng:${voice}`;
  }

  synthesize(text: string, timeoutMs: number): Promise<Buffer> {
    return runToWav(this.binary, ['-v', this.voice, '--stdin', '--stdout'], text, timeoutMs);
  }
}

/** CommandEngine runs a configured program: text on stdin, WAV on stdout. */
export class CommandEngine implements TtsEngine {
  readonly name: string;
  private readonly file: string;
  private readonly args: string[];
  constructor(command: string) {
    const [file, ...args] = command.trim().split(/\s+/);
    if (!file) throw new Error('tts.command is empty');
    this.file = file;
    this.args = args;
    this.name = `command:${command.trim()}`;
  }

  synthesize(text: string, timeoutMs: number): Promise<Buffer> {
    return runToWav(this.file, this.args, text, timeoutMs);
  }
}

/** MASK_RUN matches moderation's masks (***) so a filtered word is never read, not even as "star". */
const MASK_RUN = /\*{2,}/g;

/** speakableText is what is read: masks dropped, whitespace folded, cut to maxChars code points. */
export function speakableText(text: string, maxChars: number): string {
  const clean = text.replace(MASK_RUN, ' ').replace(/\s+/g, ' ').trim();
  return [...clean].slice(0, maxChars).join('');
}

export interface TtsOptions {
  engine: TtsEngine;
  cacheDir: string;
  maxChars: number;
  cacheEntries: number;
  timeoutMs: number;
}

/** TtsService answers WAV for a text, from the cache or the engine. */
export class TtsService {
  private readonly inFlight = new Map<string, Promise<Buffer>>();
  private writes = 0;

  constructor(private readonly o: TtsOptions) {}

  /** keyOf is the cache key of a text (after speakableText). */
  keyOf(text: string): string {
    return createHash('sha256').update(`${this.o.engine.name}\n${text}`).digest('hex');
  }

  /** speak answers the WAV of text (cut and cleaned first); null when nothing is left to read. */
  async speak(raw: string): Promise<{ key: string; wav: Buffer } | null> {
    const text = speakableText(raw, this.o.maxChars);
    if (text === '') return null;
    const key = this.keyOf(text);
    const file = join(this.o.cacheDir, `${key}.wav`);
    const cached = await readFile(file).catch(() => null);
    if (cached) return { key, wav: cached };
    let p = this.inFlight.get(key);
    if (!p) {
      p = (async () => {
        const wav = await this.o.engine.synthesize(text, this.o.timeoutMs);
        await mkdir(this.o.cacheDir, { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, wav);
        await rename(tmp, file);
        if (++this.writes % 50 === 0 || this.writes === 1) await this.prune();
        return wav;
      })().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return { key, wav: await p };
  }

  /** prune keeps the newest cacheEntries files. */
  async prune(): Promise<void> {
    const names = (await readdir(this.o.cacheDir).catch(() => [] as string[])).filter((n) => n.endsWith('.wav'));
    if (names.length <= this.o.cacheEntries) return;
    const withTimes = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(this.o.cacheDir, n)).catch(() => null))?.mtimeMs ?? 0 })));
    withTimes.sort((a, b) => b.t - a.t);
    for (const { n } of withTimes.slice(this.o.cacheEntries)) await unlink(join(this.o.cacheDir, n)).catch(() => undefined);
  }
}
