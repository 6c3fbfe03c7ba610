/**
 * Live captions: the captions feature (role 'media': it needs the stream hub) and the
 * extract-captions engine of the job worker, and the public surface.
 */
import type { OnairConfig } from '../config/index.js';
import { ConfigError } from '../config/load.js';
import { locateFfmpeg } from '../media/ffmpeg.js';
import type { Feature } from '../app/feature.js';
import type { StreamHub } from '../media/hub/hub.js';
import type { ChatExtensionPoint } from '../chat/hooks.js';
import { WhisperRecogniser } from './engines/whisper.js';
import { ModelError, resolveModel } from './models.js';
import { captionsRoutes } from './routes.js';
import { PermanentJobError } from '../platform/jobs/worker.js';
import type { CaptionsEngine } from '../media/transcode/handlers.js';
import type { Logger } from '../observability/logger.js';
import { PocketsphinxRecogniser, pocketsphinxMissing } from './engines/pocketsphinx.js';
import { transcribeFile } from './file.js';
import { CaptionsService, EngineLanguageError, assertEngineLanguage, type CaptionsServiceDeps, type ServerEngine } from './service.js';
import { isEnglish, type AnyRecogniser } from './types.js';

export { CaptionsService, writeCaptionFiles, captionFileName, CAPTIONS_CHANNEL_PREFIX, type CaptionsState, type CaptionsSettings, type BrowserCueInput } from './service.js';
export { CaptionTrack, breakLines, type SegmentVttOptions } from './track.js';
export { SlidingWindowTranscriber, type WindowOptions } from './windowing.js';
export { AudioTap, adtsFrame } from './audio-tap.js';
export { WhisperRecogniser } from './engines/whisper.js';
export { PocketsphinxRecogniser, PocketsphinxStream, PocketsphinxOutputParser, pocketsphinxMissing, APT_HINT } from './engines/pocketsphinx.js';
export { transcribeFile, type TranscribeFileOptions, type TranscribeFileResult } from './file.js';
export { EngineLanguageError, assertEngineLanguage } from './service.js';
export { downloadModel, listModels, resolveModel, WHISPER_MODELS, ModelError, downloadCommand } from './models.js';
export type { CaptionCue, Recogniser, RecognisedSegment, StreamingRecogniser, AnyRecogniser, PcmTranscriber } from './types.js';

/** SERVER_ENGINES are the recognisers this build knows how to run on the server. */
export const SERVER_ENGINES: ServerEngine[] = ['whisper', 'pocketsphinx'];

/**
 * engineUnavailable says why a server engine cannot run on this machine (undefined when it
 * can): pocketsphinx needs Debian's binary and English model. Whisper's model is checked when
 * a session starts (it can be downloaded while the server runs).
 */
export function engineUnavailable(config: OnairConfig, engine: ServerEngine): string | undefined {
  if (engine === 'pocketsphinx') return pocketsphinxMissing(config.captions.pocketsphinx);
  return undefined;
}

/** availableServerEngines lists the server engines that can run here (what the API offers). */
export function availableServerEngines(config: OnairConfig): ServerEngine[] {
  return SERVER_ENGINES.filter((e) => engineUnavailable(config, e) === undefined);
}

/**
 * assertEngineSupported refuses, at start and naming the config key, an engine this build
 * cannot run, pocketsphinx when its binary or model is missing (with the apt-get command),
 * and pocketsphinx with a non-English default language.
 */
export function assertEngineSupported(config: OnairConfig): void {
  const engine = config.captions.engine as string;
  if (!(SERVER_ENGINES as string[]).includes(engine)) {
    throw new ConfigError('captions.engine', `engine "${engine}" is not available in this build (ONAIR_CAPTIONS_ENGINE); use ${SERVER_ENGINES.join(' or ')}, or browser captions from the studio`);
  }
  const why = engineUnavailable(config, engine as ServerEngine);
  if (why) throw new ConfigError('captions.engine', `engine "${engine}" cannot run here: ${why}`);
  if (engine === 'pocketsphinx' && !isEnglish(config.captions.language)) {
    throw new ConfigError('captions.language', `pocketsphinx recognises English only; set captions.language to "en" (ONAIR_CAPTIONS_LANGUAGE=en), not "${config.captions.language}"`);
  }
}

/** whisperModelSetting is the model to load: WHISPER_MODEL (a path) wins over captions.model. */
export function whisperModelSetting(config: OnairConfig, env: NodeJS.ProcessEnv = process.env): string {
  return env.WHISPER_MODEL || config.captions.model;
}

/**
 * defaultRecogniserFactory makes the configured engine's recogniser: whisper's model in a
 * worker thread, or a pocketsphinx child per session. In file mode pocketsphinx waits for
 * the child instead of dropping audio.
 */
export function defaultRecogniserFactory(config: OnairConfig, opts: { mode?: 'live' | 'file'; logger?: Logger } = {}): (engine: ServerEngine, language: string) => Promise<AnyRecogniser> {
  return async (engine, language) => {
    if (engine === 'pocketsphinx') {
      assertEngineLanguage(engine, language);
      PocketsphinxRecogniser.check(config.captions.pocketsphinx);
      return new PocketsphinxRecogniser({ ...config.captions.pocketsphinx, dropWhenBehind: opts.mode !== 'file', ...(opts.logger ? { logger: opts.logger } : {}) });
    }
    if (engine !== 'whisper') throw new Error(`engine ${String(engine)} is not available`);
    let path: string;
    try {
      path = resolveModel(config.dataDir, whisperModelSetting(config)).path;
    } catch (err) {
      if (err instanceof ModelError) throw new Error(err.message);
      throw err;
    }
    const w = config.captions.whisper;
    return WhisperRecogniser.open({ modelPath: path, audioCtx: w.audioCtx, maxTokensPerSecond: w.maxTokensPerSecond, ...(w.threads > 0 ? { threads: w.threads } : {}) });
  };
}

/**
 * fileCaptionsEngine is the extract-captions engine: the configured server engine over a
 * recording's audio. An engine that cannot run here (missing model or binary, language it
 * does not know) fails the job permanently with the reason.
 */
export function fileCaptionsEngine(config: OnairConfig, ffmpegPath: string, createRecogniser: (engine: ServerEngine, language: string) => Promise<AnyRecogniser>): CaptionsEngine {
  const engine = config.captions.engine;
  return async ({ file, language, signal, onProgress }) => {
    let recogniserError: Error | undefined;
    try {
      const r = await transcribeFile({
        ffmpegPath, file, language, engine, signal, onProgress, stepMs: config.captions.stepMs, lengthMs: config.captions.lengthMs,
        createRecogniser: (e, l) => createRecogniser(e, l).catch((err: Error) => { recogniserError = err; throw err; }),
      });
      return r.vtt;
    } catch (err) {
      if (err instanceof EngineLanguageError || err === recogniserError) throw new PermanentJobError(`captions engine ${engine}: ${(err as Error).message}`);
      throw err;
    }
  };
}

/**
 * captionsJobsFeature is the extract-captions engine of this node's job worker: the configured
 * server engine over a recording's audio. Media nodes provide one too (as before: the engine
 * exists wherever captions or the worker run). Without ffmpeg there is none (jobs fail with
 * "captions engine not available").
 */
export const captionsJobsFeature: Feature<'captionsJobs', {}, CaptionsEngine> = {
  name: 'captionsJobs',
  roles: ['media', 'worker'],
  deps: {},
  create(base) {
    const ffmpeg = locateFfmpeg(base.config.ffmpegPath);
    if (!ffmpeg) return undefined;
    const logger = base.logger.child({ component: 'captions-jobs' });
    return { api: fileCaptionsEngine(base.config, ffmpeg.path, defaultRecogniserFactory(base.config, { mode: 'file', logger })) };
  },
};

/** CaptionsFilter masks profanity through the channel's word filter (chat moderation). */
export interface CaptionsFilter {
  filterText(channel: string, text: string): ReturnType<NonNullable<CaptionsServiceDeps['filterText']>>;
}

/** captionsFeature is the audio tap and recogniser on live streams, browser caption cues and WebVTT, with its REST routes. */
export const captionsFeature: Feature<'captions', { hub: StreamHub; chat?: ChatExtensionPoint; moderation?: CaptionsFilter; abr?: { isRendition(channel: string): boolean } }, CaptionsService> = {
  name: 'captions',
  roles: ['media'],
  deps: { hub: 'required', chat: 'optional', moderation: 'optional', abr: 'optional' },
  create(base, { hub, chat, moderation, abr }) {
    const { config, logger } = base;
    assertEngineSupported(config);
    const ffmpeg = locateFfmpeg(config.ffmpegPath);
    const service = new CaptionsService({
      logger: logger.child({ component: 'captions' }),
      hub,
      ...(chat ? { publisher: chat.publisher } : {}),
      registry: base.registry,
      ...(ffmpeg ? { ffmpegPath: ffmpeg.path } : {}),
      stepMs: config.captions.stepMs,
      lengthMs: config.captions.lengthMs,
      defaultLanguage: config.captions.language,
      defaultEngine: config.captions.engine,
      autostart: config.captions.autostart,
      maxRecognisers: config.captions.maxRecognisers,
      createRecogniser: defaultRecogniserFactory(config, { logger: logger.child({ component: 'captions' }) }),
      isDerivedStream: (channel) => abr?.isRendition(channel) ?? false,
      channelLanguage: async (channel) => (await base.platform.channels.find(channel))?.captions_language ?? null,
      // Profanity masking through the channel's word filter (when chat moderation runs on this node).
      filterText: async (channel, text) => (moderation ? moderation.filterText(channel, text) : { action: 'pass' }),
    });
    captionsRoutes(base.http, base.api, service, {
      serverEngines: availableServerEngines(config),
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- Object.fromEntries over a filtered tuple list widens to any
      unavailable: Object.fromEntries(SERVER_ENGINES.map((e) => [e, engineUnavailable(config, e)]).filter(([, why]) => why)),
    });
    return { api: service, start: () => service.start(), stop: () => service.stop() };
  },
};
