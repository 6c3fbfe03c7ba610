import { createMediaService } from '../media/index.js';
import { createHlsService } from '../media/hls/index.js';
import { captionsOf } from '../captions/index.js';
import type { CaptionTrack } from '../captions/track.js';
import type { ServerParts } from '../server.js';
import { KeyframeMeter } from '../media/hub/keyframe-meter.js';

/** wireMedia starts RTMP ingest, the stream hub and HTTP-FLV/WS-FLV playback. */
export function wireMedia(parts: ServerParts): void {
  const { platform } = parts;
  const media = createMediaService({
    config: parts.config,
    logger: parts.logger,
    registry: parts.registry,
    streamKeys: {
      async resolve(key) {
        const channel = await platform.channels.resolveStreamKey(key);
        return channel ? { channel: channel.name } : null;
      },
    },
    ...(parts.chat ? { events: parts.chat.publisher } : {}),
  });
  media.registerHttp(parts.app);
  parts.addUpgradeHandler((req, socket, head) => media.handleUpgrade(req, socket, head));
  const keyframes = new KeyframeMeter(media.hub);
  parts.addService({
    name: 'media',
    start: async () => {
      const ports = await media.start();
      keyframes.start();
      parts.ports.rtmp = ports.rtmpPort;
      if (ports.rtmpsPort !== undefined) parts.ports.rtmps = ports.rtmpsPort;
    },
    stop: async () => {
      keyframes.stop();
      await media.stop();
    },
  });
  parts.hub = media.hub;
  parts.media = media;
  parts.api.liveInfo = (channel) => {
    const s = media.hub.stats(channel);
    if (!s) return { live: false };
    const k = keyframes.intervalSeconds(channel);
    return { ...s, ...(k !== undefined ? { keyframeIntervalSeconds: k } : {}) };
  };
}

/** wireHls packages every live stream as LL-HLS and serves it from memory. */
export function wireHls(parts: ServerParts): void {
  if (!parts.config.hls.enabled || !parts.media) return;
  const hls = createHlsService({ config: parts.config, logger: parts.logger, hub: parts.media.hub, registry: parts.registry });
  hls.registerHttp(parts.app);
  const removeCounter = parts.media.hub.addViewerCounter('hls', (channel) => hls.stats(channel)?.viewers ?? 0);
  parts.addService({ name: 'hls', start: () => hls.start(), stop: async () => { removeCounter(); await hls.stop(); } });
  parts.hls = hls;
}

const LANGUAGE_NAMES: Record<string, string> = { ko: '한국어', en: 'English', ja: '日本語', zh: '中文' };

/** wireHlsSubtitles serves each live caption track as a WebVTT rendition of the channel's LL-HLS. */
export function wireHlsSubtitles(parts: ServerParts): void {
  const hls = parts.hls;
  const captions = captionsOf(parts);
  if (!hls || !captions) return;
  const onTrack = (channel: string, track: CaptionTrack) => {
    hls.attachSubtitles(channel, track.lang, LANGUAGE_NAMES[track.lang.split('-')[0]!] ?? track.lang, track);
  };
  captions.on('track', onTrack);
  parts.addService({ name: 'hls-subtitles', start: async () => {}, stop: async () => { captions.off('track', onTrack); } });
}
