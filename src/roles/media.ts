import { createMediaService } from '../media/index.js';
import { createHlsService } from '../media/hls/index.js';
import type { ServerParts } from '../server.js';

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
  parts.addService({
    name: 'media',
    start: async () => {
      parts.ports.rtmp = (await media.start()).rtmpPort;
    },
    stop: () => media.stop(),
  });
  parts.hub = media.hub;
  parts.media = media;
  parts.api.liveInfo = (channel) => {
    const s = media.stats().find((x) => x.channel === channel);
    return s ? { ...s, live: true } : { live: false };
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
