/**
 * PocketsphinxRecogniser: a streaming English recogniser over Debian's
 * `pocketsphinx_continuous` (pocketsphinx 0.8), one long-running child per captioned session.
 *
 * The child reads raw s16le 16 kHz mono PCM on stdin, finds utterances with its own voice
 * activity detection (it needs a short pause), and at each utterance end prints the
 * hypothesis line followed (with `-time yes`) by one line per token:
 * `word start end confidence`, times in seconds cumulative from the first sample fed.
 * There are no partial results: every cue is final.
 *
 * Cumulative times are mapped back onto the stream timeline with anchors (sample offset fed
 * to the child → stream ms), a new anchor at every timeline gap or dropped chunk. When the
 * child falls behind, audio is dropped (counted) rather than queued without bound; when it
 * dies, the error is reported and it is restarted with a bounded backoff.
 */
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { Logger } from '../../observability/logger.js';
import { killNow } from '../../media/child-process.js';
import { PCM_SAMPLES_PER_MS, PCM_SAMPLE_RATE, isEnglish, type CaptionCue, type PcmTranscriber, type StreamingRecogniser, type TranscriberSink } from '../types.js';

export interface PocketsphinxPaths {
  /** The CLI, a name looked up on PATH or a path. */
  command: string;
  /** Acoustic model directory, language model, pronunciation dictionary. */
  hmm: string;
  lm: string;
  dict: string;
}

export const APT_HINT = 'apt-get install pocketsphinx pocketsphinx-en-us';
/** Bytes of stderr kept (the tail) for error messages. */
const STDERR_KEEP = 2048;
/** Audio queued for the child beyond this is dropped (about 10 s, on top of the 64 KB ≈ 2 s pipe). */
export const DEFAULT_MAX_QUEUED_BYTES = 10 * PCM_SAMPLE_RATE * 2;
/**
 * Once the input has been full (write returned false: the child is about 2.5 s behind) this
 * long, new audio is dropped until it drains: captions later than this are of little use.
 */
export const DEFAULT_MAX_BLOCKED_MS = 5000;
/** Restart backoff after a crash: base, cap, and consecutive failures before giving up. */
export const DEFAULT_RESTART = { baseMs: 500, maxMs: 10_000, maxAttempts: 5 };
/** A chunk starting further than this from where the previous one ended starts a new anchor. */
const ANCHOR_GAP_MS = 50;
/** Anchors kept at most (one per gap or drop since the last utterance). */
const MAX_ANCHORS = 1024;
/** Word lines of an utterance not closed by `</s>` are emitted after this long. */
const UTTERANCE_IDLE_MS = 300;
/** How long flush() waits for the child to finish the last utterance. */
const FLUSH_TIMEOUT_MS = 15_000;
/** Clock ticks per second of /proc/<pid>/stat utime and stime (USER_HZ; 100 on Linux). */
const USER_HZ = 100;
const BYTES_PER_SAMPLE = 2;

/**
 * pocketsphinxArgs is the child's command line: the model paths, PCM from `infile`, word times
 * on. The input is a FIFO, not stdin: Node gives a child's stdin as a socket, which
 * `-infile /dev/stdin` cannot open (ENXIO).
 */
export function pocketsphinxArgs(p: PocketsphinxPaths, infile: string): string[] {
  return ['-infile', infile, '-time', 'yes', '-hmm', p.hmm, '-lm', p.lm, '-dict', p.dict];
}

/**
 * openFifo makes a FIFO in a fresh temp dir and opens it read-write, non-blocking (so the
 * open never waits for the child), wrapped in a socket for writes with backpressure. The
 * child opens it for reading; destroying the socket closes the last writer: the child sees EOF.
 */
function openFifo(): { path: string; dir: string; input: Socket } {
  const dir = mkdtempSync(join(tmpdir(), 'onair-ps-'));
  const path = join(dir, 'audio.pcm');
  execFileSync('mkfifo', ['-m', '600', path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  return { path, dir, input: new Socket({ fd, readable: false, writable: true }) };
}

/** findExecutable resolves a command name on PATH (or checks a path); undefined if not runnable. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = command.includes('/') ? [command] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, command));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch { /* next */ }
  }
  return undefined;
}

/** pocketsphinxMissing names what is missing to run pocketsphinx (binary or model files), or undefined when all is there. */
export function pocketsphinxMissing(p: PocketsphinxPaths, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!findExecutable(p.command, env)) return `pocketsphinx is not installed (${p.command} not found; ${APT_HINT})`;
  for (const [key, path] of [['hmm', p.hmm], ['lm', p.lm], ['dict', p.dict]] as const) {
    if (!existsSync(path)) return `pocketsphinx model file missing: captions.pocketsphinx.${key} = ${path} (${APT_HINT})`;
  }
  return undefined;
}

/** One token of a decoded utterance. */
export interface PsWord {
  word: string;
  startS: number;
  endS: number;
  confidence: number;
}

export interface PsUtterance {
  hypothesis: string;
  /** Spoken words only: fillers dropped, `(2)` alternates stripped. */
  words: PsWord[];
}

const WORD_LINE_RE = /^(\S+) (-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$/i;
/** Tokens that are not words: sentence marks, silence, noise classes, fillers. */
const FILLER_RE = /^(<[^>]*>|\[[^\]]*\]|\+\+.*\+\+)$/;

/** cleanWord strips the `(2)` pronunciation-alternate suffix; undefined for fillers. */
export function cleanWord(token: string): string | undefined {
  if (FILLER_RE.test(token)) return undefined;
  const w = token.replace(/\(\d+\)$/, '');
  return w === '' || FILLER_RE.test(w) ? undefined : w;
}

/**
 * PocketsphinxOutputParser is a push parser of pocketsphinx_continuous's stdout: feed it
 * chunks split anywhere (even inside a UTF-8 sequence); it calls onUtterance once per
 * utterance, closed by its `</s>` token, by the next hypothesis line, or by flush().
 */
export class PocketsphinxOutputParser {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private hypothesis = '';
  private words: PsWord[] = [];
  private tokens = 0;

  constructor(private readonly onUtterance: (u: PsUtterance) => void) {}

  /** pending tells whether an utterance has started but not been emitted. */
  get pending(): boolean {
    return this.tokens > 0 || this.hypothesis !== '';
  }

  push(chunk: Buffer | string): void {
    const text = this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.line(line.replace(/\r$/, ''));
  }

  /** flush ends the input: a trailing line without newline is taken, a pending utterance emitted. */
  flush(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.line(rest);
    this.emit();
  }

  /** emit hands over the utterance gathered so far (if any). */
  emit(): void {
    if (!this.pending) return;
    const u = { hypothesis: this.hypothesis, words: this.words };
    this.hypothesis = '';
    this.words = [];
    this.tokens = 0;
    this.onUtterance(u);
  }

  private line(line: string): void {
    const m = WORD_LINE_RE.exec(line.trim());
    if (!m) {
      // A hypothesis line starts the next utterance (pocketsphinx prints it before the words).
      if (this.tokens > 0) this.emit();
      if (line.trim() !== '') this.hypothesis = line.trim();
      return;
    }
    this.tokens++;
    const token = m[1] ?? '';
    const word = cleanWord(token);
    if (word !== undefined) this.words.push({ word, startS: Number(m[2]), endS: Number(m[3]), confidence: Number(m[4]) });
    if (token === '</s>') this.emit();
  }
}

/**
 * SampleTimeline maps sample positions of the audio fed to the child back to stream time:
 * one anchor per contiguous run of chunks.
 */
export class SampleTimeline {
  private anchors: { at: number; ms: number }[] = [];
  private expectMs = NaN;
  /** Samples fed so far. */
  fed = 0;

  /** append records n samples starting at stream time startMs, fed after the previous ones. */
  append(n: number, startMs: number): void {
    if (Number.isNaN(this.expectMs) || Math.abs(startMs - this.expectMs) > ANCHOR_GAP_MS) {
      this.anchors.push({ at: this.fed, ms: startMs });
      // Bounded even if no utterance comes to forget old ones (long silence with many gaps).
      if (this.anchors.length > MAX_ANCHORS) this.anchors.shift();
    }
    this.fed += n;
    this.expectMs = startMs + n / PCM_SAMPLES_PER_MS;
  }

  /** skip marks a discontinuity: the next append starts a new anchor (audio was dropped). */
  skip(): void {
    this.expectMs = NaN;
  }

  /** msAt gives the stream time of sample position `at` (fractional is fine). */
  msAt(at: number): number {
    let a = this.anchors[0];
    for (const x of this.anchors) {
      if (x.at <= at) a = x;
      else break;
    }
    return a ? a.ms + (at - a.at) / PCM_SAMPLES_PER_MS : at / PCM_SAMPLES_PER_MS;
  }

  /** forget drops anchors no longer needed for positions at or after `at`. */
  forget(at: number): void {
    while ((this.anchors[1]?.at ?? Infinity) <= at) this.anchors.shift();
  }

  get anchorCount(): number {
    return this.anchors.length;
  }
}

/** floatToS16le converts samples in [-1, 1] to little-endian 16-bit PCM. */
export function floatToS16le(samples: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(samples.length * BYTES_PER_SAMPLE);
  for (const [i, sample] of samples.entries()) {
    const v = Math.max(-1, Math.min(1, sample));
    out.writeInt16LE(Math.round(v < 0 ? v * 32768 : v * 32767), i * BYTES_PER_SAMPLE);
  }
  return out;
}

/** cpuMsOf reads a process's user+system CPU time from /proc (undefined if unavailable). */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): state is field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    return Number.isFinite(utime + stime) ? ((utime + stime) * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

export interface PocketsphinxStreamOptions extends PocketsphinxPaths {
  language: string;
  idPrefix: string;
  logger?: Logger;
  /**
   * Live (default): audio the child cannot take in time is dropped. Files: nothing is dropped;
   * push() returns false when the caller should wait for drained() before pushing more.
   */
  dropWhenBehind?: boolean;
  maxQueuedBytes?: number;
  maxBlockedMs?: number;
  restart?: { baseMs: number; maxMs: number; maxAttempts: number };
  spawnFn?: typeof spawn;
  now?: () => number;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** PocketsphinxStream is one session's child process and the mapping of its output to cues. */
export class PocketsphinxStream implements PcmTranscriber {
  private child: Child | undefined;
  /** The child's audio input (a FIFO). */
  private input: Socket | undefined;
  private childExited: Promise<void> = Promise.resolve();
  private parser: PocketsphinxOutputParser;
  private timeline = new SampleTimeline();
  private stderrTail = '';
  /** [samples fed at the end of a chunk, wall ms it arrived], for caption delay. */
  private arrivals: [number, number][] = [];
  private blockedSince = NaN;
  private drainWaiters: (() => void)[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private ending = false;
  private seq = 0;
  private cpuMark: { cpuMs: number; fed: number } | undefined;
  private readonly now: () => number;
  /** Counters for stats and tests. */
  utterances = 0;
  restarts = 0;
  droppedMs = 0;
  lastError: string | undefined;

  constructor(private readonly opts: PocketsphinxStreamOptions, private readonly sink: TranscriberSink) {
    if (!isEnglish(opts.language)) throw new Error(`pocketsphinx recognises English only, not "${opts.language}"`);
    this.now = opts.now ?? Date.now;
    this.parser = new PocketsphinxOutputParser((u) => this.onUtterance(u));
    this.startChild();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private startChild(): void {
    const spawnFn = this.opts.spawnFn ?? spawn;
    let fifo: ReturnType<typeof openFifo>;
    try {
      fifo = openFifo();
    } catch (err) {
      this.child = undefined;
      this.input = undefined;
      this.childExited = Promise.resolve();
      this.crashed(`input FIFO failed: ${(err as Error).message}`);
      return;
    }
    const child = spawnFn(this.opts.command, pocketsphinxArgs(this.opts, fifo.path), { stdio: ['ignore', 'pipe', 'pipe'] });
    const input = fifo.input;
    this.child = child;
    this.input = input;
    // Each child counts its own samples from 0.
    this.timeline = new SampleTimeline();
    this.arrivals = [];
    this.cpuMark = undefined;
    this.blockedSince = NaN;
    this.parser = new PocketsphinxOutputParser((u) => this.onUtterance(u));
    this.stderrTail = '';
    const parser = this.parser;
    input.on('error', () => { /* the child went away; its exit is reported */ });
    input.on('drain', () => {
      this.blockedSince = NaN;
      this.wakeDrainWaiters();
    });
    child.stdout.on('data', (d: Buffer) => {
      parser.push(d);
      this.armIdleTimer(parser);
    });
    child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_KEEP);
    });
    let done = false;
    this.childExited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null, err?: Error) => {
        if (done) return;
        done = true;
        input.destroy();
        rmSync(fifo.dir, { recursive: true, force: true });
        parser.flush();
        if (this.child === child) {
          this.child = undefined;
          this.input = undefined;
        }
        this.wakeDrainWaiters();
        resolve();
        if (!this.closed && !this.ending) this.crashed(err ? err.message : `exited with ${code ?? signal}`);
      };
      child.once('close', (code, signal) => finish(code, signal));
      child.once('error', (err) => finish(null, null, err));
    });
  }

  private crashed(why: string): void {
    const tail = lastErrorLine(this.stderrTail);
    this.lastError = `pocketsphinx ${why}${tail ? `: ${tail}` : ''}`;
    this.failures++;
    this.sink.onError?.(new Error(this.lastError));
    const r = this.opts.restart ?? DEFAULT_RESTART;
    if (this.failures > r.maxAttempts) {
      this.lastError += ` (gave up after ${r.maxAttempts} restarts)`;
      this.opts.logger?.error({ err: this.lastError }, 'pocketsphinx keeps failing; captions stopped');
      return;
    }
    const delay = Math.min(r.maxMs, r.baseMs * 2 ** (this.failures - 1));
    this.opts.logger?.warn({ err: this.lastError, restartInMs: delay }, 'pocketsphinx failed; restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.closed || this.ending) return;
      this.restarts++;
      this.startChild();
    }, delay);
    this.restartTimer.unref();
  }

  private armIdleTimer(parser: PocketsphinxOutputParser): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!parser.pending) return;
    this.idleTimer = setTimeout(() => parser.emit(), UTTERANCE_IDLE_MS);
    this.idleTimer.unref();
  }

  private wakeDrainWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  /**
   * push feeds samples starting at stream time startMs. Returns false when the child's input
   * is backed up (file mode: wait for drained()); live mode drops audio instead.
   */
  push(samples: Float32Array, startMs: number): boolean {
    if (this.closed || this.ending || samples.length === 0) return true;
    const ms = samples.length / PCM_SAMPLES_PER_MS;
    const input = this.input;
    const drop = this.opts.dropWhenBehind !== false;
    if (!input || !input.writable) {
      this.dropped(ms);
      return true;
    }
    if (drop) {
      const behind = input.writableLength > (this.opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)
        || (!Number.isNaN(this.blockedSince) && this.now() - this.blockedSince > (this.opts.maxBlockedMs ?? DEFAULT_MAX_BLOCKED_MS));
      if (behind) {
        this.dropped(ms);
        return false;
      }
    }
    this.timeline.append(samples.length, startMs);
    this.arrivals.push([this.timeline.fed, this.now()]);
    if (this.arrivals.length > 4096) this.arrivals.splice(0, this.arrivals.length - 4096);
    const ok = input.write(floatToS16le(samples));
    if (!ok && Number.isNaN(this.blockedSince)) this.blockedSince = this.now();
    return ok;
  }

  /** drained resolves when the child's stdin has room again (or it exited). */
  drained(): Promise<void> {
    const input = this.input;
    if (!input || !input.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  ready(): Promise<void> {
    return this.drained();
  }

  private dropped(ms: number): void {
    this.droppedMs += ms;
    this.timeline.skip();
    this.sink.onDropped?.(ms);
  }

  private onUtterance(u: PsUtterance): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    // After close() (not flush) nothing more is published.
    if (this.closed && !this.ending) return;
    this.utterances++;
    this.failures = 0;
    this.sampleCpu();
    const first = u.words[0];
    const last = u.words[u.words.length - 1];
    if (first === undefined || last === undefined) return;
    const startAt = first.startS * PCM_SAMPLE_RATE;
    // A word's end time is the start of its last frame: count that 10 ms frame in.
    const endAt = (last.endS + 0.01) * PCM_SAMPLE_RATE;
    const startMs = this.timeline.msAt(startAt);
    const endMs = Math.max(startMs, this.timeline.msAt(endAt));
    this.timeline.forget(startAt);
    this.seq++;
    const cue: CaptionCue = {
      type: 'final', id: `${this.opts.idPrefix}${this.seq}`, text: u.words.map((w) => w.word).join(' '),
      startMs: Math.round(startMs), endMs: Math.round(endMs), lang: this.opts.language,
    };
    this.sink.onCue(cue);
    // Delay: from when the utterance's last audio arrived here to now.
    while ((this.arrivals[0]?.[0] ?? Infinity) < endAt && (this.arrivals[1]?.[0] ?? Infinity) <= endAt) this.arrivals.shift();
    const hit = this.arrivals.find(([at]) => at >= endAt);
    if (hit) this.sink.onDelay?.(Math.max(0, this.now() - hit[1]));
  }

  /** sampleCpu reports the child's CPU time against the audio it was fed since the last sample (RTF). */
  private sampleCpu(): void {
    const pid = this.child?.pid;
    if (!pid) return;
    const cpuMs = cpuMsOf(pid);
    if (cpuMs === undefined) return;
    const fed = this.timeline.fed;
    const mark = this.cpuMark;
    this.cpuMark = { cpuMs, fed };
    if (!mark) {
      // First utterance: everything since the child started (includes the model load).
      if (fed > 0) this.sink.onWindow?.({ audioMs: fed / PCM_SAMPLES_PER_MS, inferMs: cpuMs });
      return;
    }
    if (fed > mark.fed) this.sink.onWindow?.({ audioMs: (fed - mark.fed) / PCM_SAMPLES_PER_MS, inferMs: cpuMs - mark.cpuMs });
  }

  /** flush closes the child's input so it decodes the last utterance, then waits for it. */
  async flush(): Promise<void> {
    if (this.closed) return;
    this.ending = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    const input = this.input;
    if (child && input) {
      input.end(() => input.destroy());
      const kill = setTimeout(() => this.kill(child), FLUSH_TIMEOUT_MS);
      kill.unref();
      await this.childExited;
      clearTimeout(kill);
    }
    this.closed = true;
  }

  /** close kills the child at once (by PID). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.input?.destroy();
    if (this.child) this.kill(this.child);
    this.wakeDrainWaiters();
  }

  /** exited resolves once the current child is gone. */
  exited(): Promise<void> {
    return this.childExited;
  }

  private kill(child: Child): void {
    killNow(child);
  }
}

function lastErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = [...lines].reverse().find((l) => /error|fatal|fail/i.test(l));
  return (err ?? lines[lines.length - 1] ?? '').slice(0, 300);
}

/** PocketsphinxRecogniser makes one PocketsphinxStream per captioned session. */
export class PocketsphinxRecogniser implements StreamingRecogniser {
  readonly name = 'pocketsphinx';
  readonly streaming = true as const;
  private readonly streams = new Set<PocketsphinxStream>();

  constructor(private readonly opts: Omit<PocketsphinxStreamOptions, 'language' | 'idPrefix'>) {}

  /** check throws with the apt-get command when the binary or a model file is missing. */
  static check(paths: PocketsphinxPaths): void {
    const missing = pocketsphinxMissing(paths);
    if (missing) throw new Error(missing);
  }

  open(o: { language: string; idPrefix: string }, sink: TranscriberSink): PocketsphinxStream {
    const s = new PocketsphinxStream({ ...this.opts, ...o }, sink);
    this.streams.add(s);
    return s;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.close();
    this.streams.clear();
  }
}
