/**
 * WebRTC playback (WHEP) for the media role: its feature descriptor, and the public surface.
 */
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { createWhepService, type WhepService } from './service.js';

export { createWhepService, WhepService, whepMetrics, networkOf } from './service.js';
export type { WhepAnswer, WhepServiceDeps, WhepStats } from './service.js';

/** whepFeature is WebRTC playback: WHEP at /live/{channel}/whep on the main HTTP app, viewers counted in the hub's stats. */
export const whepFeature: Feature<'whep', { media: MediaService }, WhepService> = {
  name: 'whep',
  roles: ['media'],
  deps: { media: 'required' },
  create(base, { media }) {
    const { config } = base;
    if (!config.media.webrtc.enabled) return undefined;
    const ffmpeg = config.media.webrtc.audio ? locateFfmpeg(config.ffmpegPath)?.path : undefined;
    if (config.media.webrtc.audio && !ffmpeg) base.logger.warn('WebRTC playback without audio: no ffmpeg to transcode AAC to Opus');
    const whep = createWhepService({ config, logger: base.logger, hub: media.hub, registry: base.registry, ...(ffmpeg ? { ffmpeg } : {}) });
    whep.registerHttp(base.http);
    const removeCounter = media.hub.addViewerCounter('webrtc', (channel) => whep.viewers(channel));
    return { api: whep, start: () => whep.start(), stop: async () => { removeCounter(); await whep.stop(); } };
  },
};
