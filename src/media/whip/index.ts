/**
 * WebRTC ingest (WHIP) for the media role: wiring into the server, and the public surface.
 */
import type { ServerParts } from '../../server.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { createWhipService, type WhipService } from './service.js';

export { createWhipService, WhipService, whipMetrics, WHIP_PATH } from './service.js';
export type { WhipAnswer, WhipServiceDeps, WhipStats, WhipMetrics } from './service.js';
export { WhipIngest } from './ingest.js';
export { chooseIngestCodecs } from './session.js';

const services = new WeakMap<ServerParts, WhipService>();

/** whipOf gives a server's WHIP service (media role), if wired. */
export function whipOf(parts: ServerParts): WhipService | undefined {
  return services.get(parts);
}

/** wireWhip (media role): POST /whip on the main HTTP app, publishing into the hub with the channel's stream key. */
export function wireWhip(parts: ServerParts): void {
  const { config, platform } = parts;
  const media = parts.media;
  if (!config.media.whip.enabled || !media) return;
  const ffmpeg = config.media.whip.audio ? locateFfmpeg(config.ffmpegPath)?.path : undefined;
  if (config.media.whip.audio && !ffmpeg) parts.logger.warn('WHIP publishes go live without audio: no ffmpeg to transcode Opus to AAC');
  const whip = createWhipService({
    config, logger: parts.logger.child({ role: 'media', ingest: 'whip' }), hub: media.hub, registry: parts.registry,
    authorizePublish: (key, clientIp) => media.authorizePublish(key, clientIp, 'whip'),
    unpublished: (channel, clientIp, reason) => media.unpublished(channel, clientIp, reason, 'whip'),
    ...(ffmpeg ? { ffmpeg } : {}),
  });
  whip.registerHttp(parts.app);
  services.set(parts, whip);
  parts.addService({ name: 'whip', start: () => whip.start(), stop: () => whip.stop() });
}
