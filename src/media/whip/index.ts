/**
 * WebRTC ingest (WHIP) for the media role: its feature descriptor, and the public surface.
 */
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { createWhipService, type WhipService } from './service.js';

export { createWhipService, WhipService, whipMetrics, WHIP_PATH } from './service.js';
export type { WhipAnswer, WhipServiceDeps, WhipStats, WhipMetrics } from './service.js';
export { WhipIngest } from './ingest.js';

/** whipFeature is WebRTC ingest: POST /whip on the main HTTP app (stream key as bearer token), publishing into the hub. */
export const whipFeature: Feature<'whip', { media: MediaService }, WhipService> = {
  name: 'whip',
  roles: ['media'],
  deps: { media: 'required' },
  create(base, { media }) {
    const { config } = base;
    if (!config.media.whip.enabled) return undefined;
    const ffmpeg = config.media.whip.audio ? locateFfmpeg(config.ffmpegPath)?.path : undefined;
    if (config.media.whip.audio && !ffmpeg) base.logger.warn('WHIP publishes go live without audio: no ffmpeg to transcode Opus to AAC');
    const whip = createWhipService({
      config, logger: base.logger.child({ role: 'media', ingest: 'whip' }), hub: media.hub, registry: base.registry,
      authorizePublish: (key, clientIp) => media.authorizePublish(key, clientIp, 'whip'),
      unpublished: (channel, clientIp, reason) => media.unpublished(channel, clientIp, reason, 'whip'),
      ...(ffmpeg ? { ffmpeg } : {}),
    });
    whip.registerHttp(base.http);
    return { api: whip, start: () => whip.start(), stop: () => whip.stop() };
  },
};
