/**
 * Live captions: wiring into the server (role 'media': it needs the stream hub).
 * Exposes the CaptionsService to other features through captionsOf(parts).
 */
import type { OnairConfig } from '../config/index.js';
import { ConfigError } from '../config/load.js';
import { locateFfmpeg } from '../media/ffmpeg.js';
import type { ServerParts } from '../server.js';
import { WhisperRecogniser } from './engines/whisper.js';
import { ModelError, resolveModel } from './models.js';
import { captionsRoutes } from './routes.js';
import { CaptionsService, type ServerEngine } from './service.js';
import type { Recogniser } from './types.js';

export { CaptionsService, writeCaptionFiles, captionFileName, CAPTIONS_CHANNEL_PREFIX, type CaptionsState, type CaptionsSettings, type BrowserCueInput } from './service.js';
export { CaptionTrack, breakLines, type SegmentVttOptions } from './track.js';
export { SlidingWindowTranscriber, type WindowOptions } from './windowing.js';
export { AudioTap, adtsFrame } from './audio-tap.js';
export { WhisperRecogniser } from './engines/whisper.js';
export { downloadModel, listModels, resolveModel, WHISPER_MODELS, ModelError, downloadCommand } from './models.js';
export type { CaptionCue, Recogniser, RecognisedSegment } from './types.js';

/** SERVER_ENGINES are the recognisers this build can run on the server. */
export const SERVER_ENGINES: ServerEngine[] = ['whisper'];

/**
 * assertEngineSupported refuses engines this build cannot run, naming the config key.
 * pocketsphinx is in the config contract, but no npm package provides a usable binding
 * here, so it is refused at start rather than failing on the first stream.
 */
export function assertEngineSupported(config: OnairConfig): void {
  const engine = config.captions.engine as string;
  if (!(SERVER_ENGINES as string[]).includes(engine)) {
    throw new ConfigError('captions.engine', `engine "${engine}" is not available in this build (ONAIR_CAPTIONS_ENGINE); use ${SERVER_ENGINES.join(' or ')}, or browser captions from the studio`);
  }
}

/** whisperModelSetting is the model to load: WHISPER_MODEL (a path) wins over captions.model. */
export function whisperModelSetting(config: OnairConfig, env: NodeJS.ProcessEnv = process.env): string {
  return env.WHISPER_MODEL || config.captions.model;
}

/** defaultRecogniserFactory opens the configured whisper model in a worker thread. */
export function defaultRecogniserFactory(config: OnairConfig): (engine: ServerEngine, language: string) => Promise<Recogniser> {
  return async (engine) => {
    if (engine !== 'whisper') throw new Error(`engine ${engine} is not available`);
    let path: string;
    try {
      path = resolveModel(config.dataDir, whisperModelSetting(config)).path;
    } catch (err) {
      if (err instanceof ModelError) throw new Error(err.message);
      throw err;
    }
    return WhisperRecogniser.open({ modelPath: path });
  };
}

const byParts = new WeakMap<ServerParts, CaptionsService>();

/** captionsOf gives other features (recorder, HLS) the running CaptionsService, if captions are wired. */
export function captionsOf(parts: ServerParts): CaptionsService | undefined {
  return byParts.get(parts);
}

/** wireCaptions adds the captions service, its REST routes and metrics to the server. */
export function wireCaptions(parts: ServerParts, opts: { createRecogniser?: (engine: ServerEngine, language: string) => Promise<Recogniser> } = {}): CaptionsService {
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
    createRecogniser: opts.createRecogniser ?? defaultRecogniserFactory(config),
    channelLanguage: async (channel) => (await parts.platform.channels.find(channel))?.captions_language ?? null,
  });
  captionsRoutes(parts.app, parts.api, service, { serverEngines: SERVER_ENGINES });
  parts.addService({ name: 'captions', start: () => service.start(), stop: () => service.stop() });
  byParts.set(parts, service);
  return service;
}
