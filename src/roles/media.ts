import { createMediaService, type MediaService } from '../media/index.js';
import { createHlsService, type HlsService } from '../media/hls/index.js';
import type { StreamHub } from '../media/hub/hub.js';
import type { CaptionsService } from '../captions/service.js';
import type { CaptionTrack } from '../captions/track.js';
import type { ChatExtensionPoint } from '../chat/hooks.js';
import type { Feature } from '../app/feature.js';
import { KeyframeMeter } from '../media/hub/keyframe-meter.js';

/** mediaFeature is RTMP ingest, the stream hub and HTTP-FLV/WS-FLV playback. */
export const mediaFeature: Feature<'media', { chat?: ChatExtensionPoint }, MediaService> = {
  name: 'media',
  roles: ['media'],
  deps: { chat: 'optional' },
  create(base, { chat }) {
    const { platform } = base;
    const media = createMediaService({
      config: base.config,
      logger: base.logger,
      registry: base.registry,
      streamKeys: {
        async resolve(key) {
          const channel = await platform.channels.resolveStreamKey(key);
          return channel ? { channel: channel.name } : null;
        },
        async channelExists(name) {
          return (await platform.channels.find(name)) !== undefined;
        },
      },
      ...(chat ? { events: chat.publisher } : {}),
    });
    media.registerHttp(base.http);
    base.addUpgradeHandler((req, socket, head) => media.handleUpgrade(req, socket, head));
    const keyframes = new KeyframeMeter(media.hub);
    base.api.liveInfo = (channel) => {
      const s = media.hub.stats(channel);
      if (!s) return { live: false };
      const k = keyframes.intervalSeconds(channel);
      return { ...s, ...(k !== undefined ? { keyframeIntervalSeconds: k } : {}) };
    };
    return {
      api: media,
      start: async () => {
        const ports = await media.start();
        keyframes.start();
        base.ports.rtmp = ports.rtmpPort;
        if (ports.rtmpsPort !== undefined) base.ports.rtmps = ports.rtmpsPort;
      },
      stop: async () => {
        keyframes.stop();
        await media.stop();
      },
    };
  },
};

/** hubFeature names the media service's stream hub, for the features that need the hub alone. */
export const hubFeature: Feature<'hub', { media: MediaService }, StreamHub> = {
  name: 'hub',
  roles: ['media'],
  deps: { media: 'required' },
  create: (_base, { media }) => ({ api: media.hub }),
};

/** hlsFeature packages every live stream as LL-HLS and serves it from memory (off with hls.enabled=false). */
export const hlsFeature: Feature<'hls', { hub: StreamHub }, HlsService> = {
  name: 'hls',
  roles: ['media'],
  deps: { hub: 'required' },
  create(base, { hub }) {
    if (!base.config.hls.enabled) return undefined;
    const hls = createHlsService({ config: base.config, logger: base.logger, hub, registry: base.registry });
    hls.registerHttp(base.http);
    // Viewers this node answers through the channel's origin are this node's viewers too.
    const removeCounter = hub.addViewerCounter('hls', (channel) => (hls.stats(channel)?.viewers ?? 0) + hls.proxiedViewers(channel));
    return { api: hls, start: () => hls.start(), stop: async () => { removeCounter(); await hls.stop(); } };
  },
};

const LANGUAGE_NAMES: Record<string, string> = { ko: '한국어', en: 'English', ja: '日本語', zh: '中文' };

/** hlsSubtitlesFeature serves each live caption track as a WebVTT rendition of the channel's LL-HLS. */
export const hlsSubtitlesFeature: Feature<'hlsSubtitles', { hls?: HlsService; captions?: CaptionsService }, void> = {
  name: 'hlsSubtitles',
  roles: ['media'],
  deps: { hls: 'optional', captions: 'optional' },
  create(_base, { hls, captions }) {
    if (!hls || !captions) return undefined;
    const onTrack = (channel: string, track: CaptionTrack) => {
      hls.attachSubtitles(channel, track.lang, LANGUAGE_NAMES[track.lang.replace(/-.*$/s, '')] ?? track.lang, track);
    };
    captions.on('track', onTrack);
    return { api: undefined, stop: async () => { captions.off('track', onTrack); } };
  },
};
