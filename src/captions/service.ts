/**
 * CaptionsService owns the live captions of every channel: one LiveCaptions session per
 * live stream (one hub subscription, at most one audio tap + recogniser), its caption
 * tracks, publication to captions:{channel}, and the .vtt written with the recording.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ServerPublisher } from '../chat/hooks.js';
import type { AudioTrackInfo, MediaFrame, StreamHubApi, StreamSubscriber, VideoTrackInfo } from '../media/hub/types.js';
import type { Logger } from '../observability/logger.js';
import { AudioTap } from './audio-tap.js';
import { CaptionTrack, DEFAULT_MAX_CUES } from './track.js';
import { isEnglish, isStreamingRecogniser, type AnyRecogniser, type CaptionCue, type PcmTranscriber, type TranscriberSink } from './types.js';
import { SlidingWindowTranscriber } from './windowing.js';

export type ServerEngine = 'whisper' | 'pocketsphinx';
export type CaptionSource = ServerEngine | 'browser';

/** CaptionsSettings is what a channel asked for (API toggle, studio, or autostart). */
export interface CaptionsSettings {
  engine: CaptionSource;
  language: string;
}

export interface CaptionsState {
  channel: string;
  enabled: boolean;
  engine?: CaptionSource;
  language?: string;
  live: boolean;
  /** A server recogniser is running on the stream's audio now. */
  running: boolean;
  languages: string[];
  cues: number;
  stats?: { droppedAudioMs: number; windows: number; lastRealtimeFactor?: number; lastError?: string };
}

/** BrowserCueInput is one cue posted by the studio's Web Speech recogniser. */
export interface BrowserCueInput {
  text: string;
  final: boolean;
  lang?: string;
  startMs?: number;
  endMs?: number;
}

export interface CaptionsServiceDeps {
  logger: Logger;
  hub?: StreamHubApi;
  publisher?: ServerPublisher;
  registry?: Registry;
  ffmpegPath?: string;
  stepMs: number;
  lengthMs: number;
  defaultLanguage: string;
  defaultEngine: ServerEngine;
  autostart: boolean;
  /** Creates a recogniser (one per running session); throws with a user-facing message when it cannot. */
  createRecogniser(engine: ServerEngine, language: string): Promise<AnyRecogniser>;
  /** True for streams made from another live stream (ABR renditions): never captioned on their own. */
  isDerivedStream?(channel: string): boolean;
  /** The channel's own caption language, if it set one. */
  channelLanguage?(channel: string): Promise<string | null | undefined>;
  /** The channel's word filter (chat moderation): every cue's text goes through it before it is published. */
  filterText?: CaptionTextFilter;
  maxCuesPerTrack?: number;
  /** Live recognisers at once on this node (config captions.maxRecognisers; 0 or unset = no limit). */
  maxRecognisers?: number;
}

/** A browser cue whose duration is unknown is given about this much time per character. */
const BROWSER_MS_PER_CHAR = 90;
const BROWSER_MIN_CUE_MS = 1000;
const BROWSER_MAX_CUE_MS = 6000;

export const CAPTIONS_CHANNEL_PREFIX = 'captions:';

/** A word filter's verdict on a text (the chat moderation filter's result shape). */
export type FilterVerdict = { action: 'pass' } | { action: 'mask'; text: string } | { action: 'block'; word: string };
export type CaptionTextFilter = (channel: string, text: string) => Promise<FilterVerdict>;
/** What replaces a filtered word in a caption. */
export const CAPTION_MASK = '***';

/**
 * applyFilterVerdict turns a word filter's verdict into caption text: spoken words cannot be
 * refused like a chat message, so a blocked word is masked too (where it appears literally;
 * the whole text when it does not).
 */
export function applyFilterVerdict(text: string, v: FilterVerdict): string {
  if (v.action === 'pass') return text;
  if (v.action === 'mask') return v.text;
  const re = new RegExp(v.word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'giu');
  return re.test(text) ? text.replace(re, CAPTION_MASK) : CAPTION_MASK;
}

/** captionFileName is the recording-side file name of one language's captions. */
export function captionFileName(lang: string): string {
  return `captions-${lang.replace(/[^A-Za-z0-9-]/g, '_')}.vtt`;
}

/** writeCaptionFiles writes captions-{lang}.vtt for each non-empty track into dir; offsetMs maps stream time to file time. */
export function writeCaptionFiles(dir: string, tracks: Iterable<CaptionTrack>, offsetMs = 0): string[] {
  const written: string[] = [];
  for (const t of tracks) {
    if (t.cues.length === 0) continue;
    mkdirSync(dir, { recursive: true });
    const path = join(dir, captionFileName(t.lang));
    writeFileSync(path, t.toVtt(offsetMs));
    written.push(path);
  }
  return written;
}

interface Metrics {
  active: Gauge<'engine'>;
  rtf: Gauge<'engine'>;
  delay: Histogram<'engine'>;
  dropped: Counter<'stage'>;
  errors: Counter<'engine'>;
  cues: Counter<'engine' | 'type'>;
}

function makeMetrics(registry: Registry | undefined): Metrics {
  const registers = registry ? [registry] : [];
  return {
    active: new Gauge({ name: 'onair_captions_active', help: 'Channels with a caption recogniser running', labelNames: ['engine'], registers }),
    rtf: new Gauge({ name: 'onair_captions_realtime_factor', help: 'Recognition time divided by the audio duration it covered, last window or utterance (whisper: wall time; pocketsphinx: child CPU time; below 1 keeps up)', labelNames: ['engine'], registers }),
    delay: new Histogram({ name: 'onair_captions_delay_seconds', help: 'From the end of a phrase\'s audio arriving to its final cue being published', labelNames: ['engine'], buckets: [0.5, 1, 2, 3, 4, 5, 6, 8, 12, 20], registers }),
    dropped: new Counter({ name: 'onair_captions_dropped_audio_seconds_total', help: 'Audio not recognised because the decoder or recogniser fell behind', labelNames: ['stage'], registers }),
    errors: new Counter({ name: 'onair_captions_errors_total', help: 'Recogniser and decoder failures', labelNames: ['engine'], registers }),
    cues: new Counter({ name: 'onair_captions_cues_total', help: 'Caption cues published', labelNames: ['engine', 'type'], registers }),
  };
}

/**
 * EngineLanguageError: the engine cannot recognise the language asked for (pocketsphinx is
 * English only). The REST API answers it with unsupported_language.
 */
/** CaptionCapacityError: every recogniser slot of this node (captions.maxRecognisers) is taken. */
export class CaptionCapacityError extends Error {
  constructor(readonly max: number) {
    super(`this server already runs ${max} live caption recognisers (captions.maxRecognisers); the stream goes on without server captions`);
    this.name = 'CaptionCapacityError';
  }
}

export class EngineLanguageError extends Error {
  constructor(readonly engine: string, readonly language: string) {
    super(`the ${engine} engine recognises English only, not "${language}"; choose language "en" or another engine`);
    this.name = 'EngineLanguageError';
  }
}

/** assertEngineLanguage refuses languages an engine cannot recognise. */
export function assertEngineLanguage(engine: CaptionSource, language: string): void {
  if (engine === 'pocketsphinx' && !isEnglish(language)) throw new EngineLanguageError(engine, language);
}

/**
 * Runner is a server recogniser on one session's audio: the audio tap feeds a transcriber,
 * either the sliding-window loop over a window recogniser (whisper) or a streaming engine
 * (pocketsphinx) that finds utterances itself.
 */
interface Runner {
  engine: ServerEngine;
  language: string;
  tap: AudioTap;
  transcriber: PcmTranscriber;
  recogniser: AnyRecogniser;
  windows: number;
  droppedAudioMs: number;
  lastRealtimeFactor?: number;
  lastError?: string;
}

/** LiveCaptions is one live stream's captions. */
class LiveCaptions implements StreamSubscriber {
  readonly tracks = new Map<string, CaptionTrack>();
  runner: Runner | undefined;
  starting: Promise<void> | undefined;
  audio: AudioTrackInfo | undefined;
  /** Latest frame time seen (stream timeline), and the wall time it was seen. */
  lastDts = NaN;
  lastDtsAt = 0;
  readonly startedAt = Date.now();
  browserSeq = 0;
  browserPending: { id: string; startMs: number } | undefined;
  recording: { dir: string; startMs: number } | undefined;
  /** Cues waiting for the word filter, published in order. */
  publishing: Promise<void> = Promise.resolve();
  unsubscribe: (() => void) | undefined;
  ended = false;

  constructor(readonly channel: string, private readonly onEnded: (s: LiveCaptions, reason: string) => void) {}

  onTracks(video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    this.audio = audio;
    this.runner?.tap.onTracks(video, audio);
  }

  onFrame(frame: MediaFrame): void {
    if (!(frame.dts < this.lastDts)) {
      this.lastDts = frame.dts;
      this.lastDtsAt = Date.now();
    }
    if (frame.kind === 'audio') this.runner?.tap.onFrame(frame);
  }

  onEnd(reason: string): void {
    this.onEnded(this, reason);
  }

  /** nowMs estimates the stream time now: the last frame's time plus the time since. */
  nowMs(): number {
    if (Number.isNaN(this.lastDts)) return Date.now() - this.startedAt;
    return this.lastDts + Math.min(Date.now() - this.lastDtsAt, 5000);
  }
}

export class CaptionsService extends EventEmitter {
  private readonly sessions = new Map<string, LiveCaptions>();
  /** The last ended session's tracks per channel, for downloads after the stream. */
  private readonly previous = new Map<string, Map<string, CaptionTrack>>();
  private readonly wanted = new Map<string, CaptionsSettings>();
  private readonly metrics: Metrics;
  private readonly onStart = (channel: string) => void this.streamStarted(channel);
  private readonly onEnd = (channel: string, reason: string) => {
    const s = this.sessions.get(channel);
    if (s) void this.endSession(s, reason);
  };
  private started = false;

  constructor(private deps: CaptionsServiceDeps) {
    super();
    this.metrics = makeMetrics(deps.registry);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const hub = this.deps.hub;
    if (!hub) return;
    hub.on('streamStart', this.onStart);
    hub.on('streamEnd', this.onEnd);
    for (const ch of hub.liveChannels()) await this.streamStarted(ch);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.deps.hub?.off('streamStart', this.onStart);
    this.deps.hub?.off('streamEnd', this.onEnd);
    await Promise.all([...this.sessions.values()].map((s) => this.endSession(s, 'server stopping')));
  }

  /** settingsFor is the channel's explicit choice, else autostart's default, else undefined. */
  private async settingsFor(channel: string): Promise<CaptionsSettings | undefined> {
    const w = this.wanted.get(channel);
    if (w) return w;
    if (!this.deps.autostart) return undefined;
    const lang = (await this.deps.channelLanguage?.(channel).catch(() => undefined)) ?? this.deps.defaultLanguage;
    return { engine: this.deps.defaultEngine, language: lang };
  }

  private async streamStarted(channel: string): Promise<void> {
    // Derived streams (live ABR renditions) carry the source's audio: caption the source only.
    if (this.deps.isDerivedStream?.(channel)) return;
    const settings = await this.settingsFor(channel);
    if (!settings) return;
    const s = this.session(channel);
    if (settings.engine !== 'browser') {
      await this.startRunner(s, settings.engine, settings.language).catch((err: Error) => {
        this.deps.logger.warn({ channel, err: err.message }, 'captions could not start');
      });
    }
  }

  /** session returns the live session of a channel, creating it (and its hub subscription). */
  private session(channel: string): LiveCaptions {
    let s = this.sessions.get(channel);
    if (s) return s;
    s = new LiveCaptions(channel, (sess, reason) => void this.endSession(sess, reason));
    this.sessions.set(channel, s);
    this.previous.delete(channel);
    if (this.deps.hub) s.unsubscribe = this.deps.hub.subscribe(channel, s);
    return s;
  }

  private isLive(channel: string): boolean {
    return this.deps.hub ? this.deps.hub.isLive(channel) : false;
  }

  private trackOf(s: LiveCaptions, lang: string): CaptionTrack {
    let t = s.tracks.get(lang);
    if (!t) {
      t = new CaptionTrack(lang, this.deps.maxCuesPerTrack ?? DEFAULT_MAX_CUES);
      s.tracks.set(lang, t);
      this.emit('track', s.channel, t);
    }
    return t;
  }

  /**
   * publish sends a cue (any engine) through the channel's word filter, in order, then to
   * the track (HLS, recording), the 'cue' event and captions:{channel}. Resolves with the
   * cue as published.
   */
  private publish(s: LiveCaptions, cue: CaptionCue, engine: CaptionSource): Promise<CaptionCue> {
    const filter = this.deps.filterText;
    if (!filter) {
      this.deliver(s, cue, engine);
      return Promise.resolve(cue);
    }
    const done = s.publishing.then(async () => {
      let out = cue;
      try {
        out = { ...cue, text: applyFilterVerdict(cue.text, await filter(s.channel, cue.text)) };
      } catch (err) {
        this.deps.logger.warn({ channel: s.channel, err: (err as Error).message }, 'caption word filter failed; cue published unfiltered');
      }
      this.deliver(s, out, engine);
      return out;
    });
    s.publishing = done.then(() => {}, () => {});
    return done;
  }

  private deliver(s: LiveCaptions, cue: CaptionCue, engine: CaptionSource): void {
    this.trackOf(s, cue.lang).add(cue);
    this.metrics.cues.inc({ engine, type: cue.type });
    this.emit('cue', s.channel, cue);
    this.deps.publisher?.publish(CAPTIONS_CHANNEL_PREFIX + s.channel, cue).catch((err: Error) => {
      this.deps.logger.warn({ channel: s.channel, err: err.message }, 'caption publish failed');
    });
  }

  private async startRunner(s: LiveCaptions, engine: ServerEngine, language: string): Promise<void> {
    if (s.runner) {
      if (s.runner.engine === engine && s.runner.language === language) return;
      await this.stopRunner(s, false);
    }
    if (s.starting) await s.starting;
    assertEngineLanguage(engine, language);
    const max = this.deps.maxRecognisers ?? 0;
    if (max > 0 && [...this.sessions.values()].filter((o) => o !== s && (o.runner !== undefined || o.starting !== undefined)).length >= max) throw new CaptionCapacityError(max);
    if (!this.deps.ffmpegPath) throw new Error('captions need ffmpeg (install it or set FFMPEG_PATH)');
    const ffmpegPath = this.deps.ffmpegPath;
    s.starting = (async () => {
      const recogniser = await this.deps.createRecogniser(engine, language);
      if (s.ended) {
        await recogniser.close();
        return;
      }
      const m = this.metrics;
      const runner: Runner = { engine, language, recogniser, windows: 0, droppedAudioMs: 0 } as Runner;
      const sink: TranscriberSink = {
        onCue: (cue) => void this.publish(s, cue, engine),
        onWindow: ({ audioMs, inferMs }) => {
          runner.windows++;
          runner.lastRealtimeFactor = audioMs > 0 ? inferMs / audioMs : 0;
          m.rtf.set({ engine }, runner.lastRealtimeFactor);
        },
        onDelay: (ms) => m.delay.observe({ engine }, ms / 1000),
        onDropped: (ms) => {
          runner.droppedAudioMs += ms;
          m.dropped.inc({ stage: 'recogniser' }, ms / 1000);
        },
        onError: (err) => {
          runner.lastError = (err as Error).message ?? String(err);
          m.errors.inc({ engine });
          this.deps.logger.warn({ channel: s.channel, err: runner.lastError }, 'caption recogniser failed');
        },
      };
      const idPrefix = `${engine[0]}${Date.now().toString(36)}-`;
      try {
        runner.transcriber = isStreamingRecogniser(recogniser)
          ? recogniser.open({ language, idPrefix }, sink)
          : new SlidingWindowTranscriber(recogniser, { stepMs: this.deps.stepMs, lengthMs: this.deps.lengthMs, language, idPrefix }, sink);
      } catch (err) {
        await recogniser.close().catch(() => {});
        throw err;
      }
      runner.tap = new AudioTap({
        ffmpegPath,
        logger: this.deps.logger,
        onPcm: (pcm, startMs) => runner.transcriber.push(pcm, startMs),
        onDropped: (ms) => {
          runner.droppedAudioMs += ms;
          m.dropped.inc({ stage: 'decoder' }, ms / 1000);
        },
        onExit: (code, stderr) => {
          if (code !== 0 && code !== null && s.runner === runner) {
            runner.lastError = `ffmpeg exited with ${code}: ${stderr.trim().slice(0, 200)}`;
            m.errors.inc({ engine });
          }
        },
      });
      s.runner = runner;
      m.active.inc({ engine });
      if (s.audio) runner.tap.onTracks(undefined, s.audio);
      this.deps.logger.info({ channel: s.channel, engine, language }, 'captions started');
    })();
    try {
      await s.starting;
    } finally {
      s.starting = undefined;
    }
  }

  /** stopRunner ends the audio tap; with flush, the recogniser finishes the last phrase first. */
  private async stopRunner(s: LiveCaptions, flush: boolean): Promise<void> {
    if (s.starting) await s.starting.catch(() => {});
    const r = s.runner;
    if (!r) return;
    s.runner = undefined;
    this.metrics.active.dec({ engine: r.engine });
    await r.tap.stop();
    if (flush) await r.transcriber.flush().catch(() => {});
    else r.transcriber.close();
    await r.recogniser.close().catch(() => {});
    this.deps.logger.info({ channel: s.channel, windows: r.windows, droppedAudioMs: Math.round(r.droppedAudioMs) }, 'captions stopped');
  }

  private async endSession(s: LiveCaptions, reason: string): Promise<void> {
    if (s.ended) return;
    s.ended = true;
    s.unsubscribe?.();
    await this.stopRunner(s, true);
    await s.publishing;
    if (this.sessions.get(s.channel) === s) this.sessions.delete(s.channel);
    this.previous.set(s.channel, s.tracks);
    if (s.recording) {
      try {
        const files = writeCaptionFiles(s.recording.dir, s.tracks.values(), -s.recording.startMs);
        if (files.length) this.deps.logger.info({ channel: s.channel, files }, 'captions saved with the recording');
      } catch (err) {
        this.deps.logger.warn({ channel: s.channel, err: (err as Error).message }, 'could not save captions with the recording');
      }
    }
    this.emit('sessionEnd', s.channel, [...s.tracks.values()], reason);
  }

  /**
   * setRecogniserFactory replaces how server recognisers are made (another engine, or a
   * scripted one in tests); sessions already running keep theirs.
   */
  setRecogniserFactory(create: CaptionsServiceDeps['createRecogniser']): void {
    this.deps.createRecogniser = create;
  }

  /** enable turns captions on for a channel (now if live, else from its next stream). */
  async enable(channel: string, settings: Partial<CaptionsSettings> = {}): Promise<CaptionsState> {
    const language = settings.language ?? (await this.deps.channelLanguage?.(channel).catch(() => undefined)) ?? this.deps.defaultLanguage;
    const engine = settings.engine ?? this.deps.defaultEngine;
    assertEngineLanguage(engine, language);
    this.wanted.set(channel, { engine, language });
    if (this.isLive(channel)) {
      const s = this.session(channel);
      if (engine === 'browser') await this.stopRunner(s, true);
      else await this.startRunner(s, engine, language);
    }
    return this.state(channel);
  }

  /** disable turns captions off; the session's cues stay (for HLS and the recording). */
  async disable(channel: string): Promise<CaptionsState> {
    this.wanted.delete(channel);
    const s = this.sessions.get(channel);
    if (s) await this.stopRunner(s, true);
    return this.state(channel);
  }

  state(channel: string): CaptionsState {
    const s = this.sessions.get(channel);
    const w = this.wanted.get(channel);
    const tracks = s?.tracks ?? this.previous.get(channel) ?? new Map<string, CaptionTrack>();
    const r = s?.runner;
    return {
      channel,
      enabled: !!w || (this.deps.autostart && !!r),
      ...(w ? { engine: w.engine, language: w.language } : r ? { engine: r.engine, language: r.language } : {}),
      live: this.isLive(channel),
      running: !!r,
      languages: [...tracks.keys()],
      cues: [...tracks.values()].reduce((n, t) => n + t.cues.length, 0),
      ...(r ? { stats: { droppedAudioMs: Math.round(r.droppedAudioMs), windows: r.windows, ...(r.lastRealtimeFactor !== undefined ? { lastRealtimeFactor: r.lastRealtimeFactor } : {}), ...(r.lastError ? { lastError: r.lastError } : {}) } } : {}),
    };
  }

  /**
   * addBrowserCue takes one cue from the studio's Web Speech recogniser and sends it down the
   * same path as server cues. Times default to the stream's current position.
   */
  addBrowserCue(channel: string, input: BrowserCueInput): Promise<CaptionCue> {
    const s = this.session(channel);
    const lang = input.lang ?? this.wanted.get(channel)?.language ?? this.deps.defaultLanguage;
    const text = input.text.replace(/\s+/g, ' ').trim();
    const now = Math.round(s.nowMs());
    const pending = s.browserPending ?? { id: `b${s.startedAt.toString(36)}-${s.browserSeq + 1}`, startMs: Math.max(0, now - estimateMs(text)) };
    const startMs = input.startMs ?? pending.startMs;
    const endMs = input.endMs ?? Math.max(now, startMs);
    const cue: CaptionCue = { type: input.final ? 'final' : 'interim', id: pending.id, text, startMs: Math.round(startMs), endMs: Math.round(endMs), lang };
    if (input.final) {
      s.browserSeq++;
      s.browserPending = undefined;
    } else s.browserPending = pending;
    return this.publish(s, cue, 'browser');
  }

  /** tracks lists the caption tracks of a channel's live session (or its last one). */
  tracks(channel: string): CaptionTrack[] {
    return [...(this.sessions.get(channel)?.tracks ?? this.previous.get(channel) ?? new Map<never, never>()).values()];
  }

  /** track is one language's track of the live session (HLS subtitles use it). */
  track(channel: string, lang: string): CaptionTrack | undefined {
    return this.sessions.get(channel)?.tracks.get(lang) ?? this.previous.get(channel)?.get(lang);
  }

  /**
   * attachRecording tells captions where this stream is recorded: when the stream ends, each
   * language's cues are written there as captions-{lang}.vtt, with times relative to
   * startMs (the stream time — hub dts — of the recording's first frame).
   */
  attachRecording(channel: string, recording: { dir: string; startMs: number }): void {
    this.session(channel).recording = recording;
  }
}

function estimateMs(text: string): number {
  return Math.min(BROWSER_MAX_CUE_MS, Math.max(BROWSER_MIN_CUE_MS, text.length * BROWSER_MS_PER_CHAR));
}
