/**
 * WebRTC playback (WHEP) for the media role: wiring into the server, and the public surface.
 */
import type { ServerParts } from '../../server.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { createWhepService, type WhepService } from './service.js';

export { createWhepService, WhepService, whepMetrics, networkOf } from './service.js';
export type { WhepAnswer, WhepServiceDeps, WhepStats } from './service.js';

const services = new WeakMap<ServerParts, WhepService>();

/** whepOf gives a server's WHEP service (media role), if wired. */
export function whepOf(parts: ServerParts): WhepService | undefined {
  return services.get(parts);
}

/** wireWebrtc (media role): WHEP routes on the main HTTP app, viewers counted in the hub's stats. */
export function wireWebrtc(parts: ServerParts): void {
  const { config } = parts;
  const media = parts.media;
  if (!config.media.webrtc.enabled || !media) return;
  const ffmpeg = config.media.webrtc.audio ? locateFfmpeg(config.ffmpegPath)?.path : undefined;
  if (config.media.webrtc.audio && !ffmpeg) parts.logger.warn('WebRTC playback without audio: no ffmpeg to transcode AAC to Opus');
  const whep = createWhepService({ config, logger: parts.logger, hub: media.hub, registry: parts.registry, ...(ffmpeg ? { ffmpeg } : {}) });
  whep.registerHttp(parts.app);
  const removeCounter = media.hub.addViewerCounter('webrtc', (channel) => whep.viewers(channel));
  services.set(parts, whep);
  parts.addService({ name: 'webrtc', start: () => whep.start(), stop: async () => { removeCounter(); await whep.stop(); } });
}
