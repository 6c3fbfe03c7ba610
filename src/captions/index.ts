/**
 * Live captions: wiring into the server (role 'media': it needs the stream hub).
 * Exposes the CaptionsService to other features through captionsOf(parts).
 */
import type { OnairConfig } from '../config/index.js';
import { ConfigError } from '../config/load.js';
import { locateFfmpeg } from '../media/ffmpeg.js';
import { abrOf } from '../media/abr/wiring.js';
import type { ServerParts } from '../server.js';
import { WhisperRecogniser } from './engines/whisper.js';
import { ModelError, resolveModel } from './models.js';
import { captionsRoutes } from './routes.js';
import { PermanentJobError } from '../platform/jobs/worker.js';
import type { CaptionsEngine } from '../media/transcode/handlers.js';
import { provideCaptionsEngine } from '../media/record/wiring.js';
import type { Logger } from '../observability/logger.js';
import { PocketsphinxRecogniser, pocketsphinxMissing } from './engines/pocketsphinx.js';
import { transcribeFile } from './file.js';
import { CaptionsService, EngineLanguageError, assertEngineLanguage, type ServerEngine } from './service.js';
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
    if (engine !== 'whisper') throw new Error(`engine ${engine} is not available`);
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
  const engine = config.captions.engine as ServerEngine;
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
 * wireCaptionsJobs gives this node's job worker the extract-captions engine (the configured
 * server engine over a recording's audio). wireCaptions calls it; a node running the worker
 * role without the media role needs it as its own wiring: `{ role: 'worker', wire: wireCaptionsJobs }`.
 * Without ffmpeg no engine is provided (jobs fail with "captions engine not available").
 */
export function wireCaptionsJobs(parts: ServerParts, opts: { createRecogniser?: (engine: ServerEngine, language: string) => Promise<AnyRecogniser> } = {}): void {
  const ffmpeg = locateFfmpeg(parts.config.ffmpegPath);
  if (!ffmpeg) return;
  const logger = parts.logger.child({ component: 'captions-jobs' });
  provideCaptionsEngine(parts, fileCaptionsEngine(parts.config, ffmpeg.path, opts.createRecogniser ?? defaultRecogniserFactory(parts.config, { mode: 'file', logger })));
}

const byParts = new WeakMap<ServerParts, CaptionsService>();

/** captionsOf gives other features (recorder, HLS) the running CaptionsService, if captions are wired. */
export function captionsOf(parts: ServerParts): CaptionsService | undefined {
  return byParts.get(parts);
}

/** wireCaptions adds the captions service, its REST routes and metrics to the server. */
export function wireCaptions(parts: ServerParts, opts: { createRecogniser?: (engine: ServerEngine, language: string) => Promise<AnyRecogniser> } = {}): CaptionsService {
  const { config, logger } = parts;
  assertEngineSupported(config);
  const ffmpeg = locateFfmpeg(config.ffmpegPath);
  const service = new CaptionsService({
    logger: logger.child({ component: 'captions' }),
    ...(parts.hub ? { hub: parts.hub } : {}),
    ...(parts.chat ? { publisher: parts.chat.publisher } : {}),
    registry: parts.registry,
    ...(ffmpeg ? { ffmpegPath: ffmpeg.path } : {}),
    stepMs: config.captions.stepMs,
    lengthMs: config.captions.lengthMs,
    defaultLanguage: config.captions.language,
    defaultEngine: config.captions.engine as ServerEngine,
    autostart: config.captions.autostart,
    createRecogniser: opts.createRecogniser ?? defaultRecogniserFactory(config, { logger: logger.child({ component: 'captions' }) }),
    isDerivedStream: (channel) => abrOf(parts)?.isRendition(channel) ?? false,
    channelLanguage: async (channel) => (await parts.platform.channels.find(channel))?.captions_language ?? null,
    // Profanity masking through the channel's word filter (when chat moderation runs on this node).
    filterText: async (channel, text) => (parts.moderation ? parts.moderation.filterText(channel, text) : { action: 'pass' }),
  });
  captionsRoutes(parts.app, parts.api, service, {
    serverEngines: availableServerEngines(config),
    unavailable: Object.fromEntries(SERVER_ENGINES.map((e) => [e, engineUnavailable(config, e)]).filter(([, why]) => why)),
  });
  // extract-captions jobs on this node (the worker role runs them) use the same engine.
  wireCaptionsJobs(parts, opts.createRecogniser ? { createRecogniser: opts.createRecogniser } : {});
  parts.addService({ name: 'captions', start: () => service.start(), stop: () => service.stop() });
  byParts.set(parts, service);
  return service;
}
