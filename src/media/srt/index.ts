/**
 * SRT ingest for the media role: its feature descriptor, and the public surface.
 */
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import { SrtServer } from './server.js';

export { SrtServer, srtMetrics, SRT_VERSION } from './server.js';
export type { SrtServerOptions, SrtSessionStats, SrtMetrics, SrtRefusal } from './server.js';
export { TsIngest } from './ingest.js';
export { SrtReceiver } from './receiver.js';
export { parseStreamId } from './streamid.js';

/** srtFeature is SRT ingest on media.srt.port (MPEG-TS over SRT live mode), publishing into the hub with the channel's stream key. */
export const srtFeature: Feature<'srt', { media: MediaService }, SrtServer> = {
  name: 'srt',
  roles: ['media'],
  deps: { media: 'required' },
  create(base, { media }) {
    const { config } = base;
    const c = config.media.srt;
    if (!c.enabled) return undefined;
    const srt = new SrtServer({
      logger: base.logger.child({ role: 'media', ingest: 'srt' }),
      hub: media.hub,
      registry: base.registry,
      authorizePublish: (key, clientIp) => media.authorizePublish(key, clientIp, 'srt'),
      unpublished: (channel, clientIp, reason) => media.unpublished(channel, clientIp, reason, 'srt'),
      latencyMs: c.latencyMs,
      maxPayload: c.maxPayload,
      idleTimeoutMs: c.idleTimeoutSeconds * 1000,
      maxSessions: c.maxSessions,
      maxSessionsPerIp: config.limits.srt.perIp,
      exempt: config.limits.exempt,
    });
    return {
      api: srt,
      start: async () => {
        // A UDP port someone else holds (another SRT server on 8890, a second onair) leaves the
        // rest of the server running: SRT is one ingest among several, and the error says why it is off.
        try {
          const port = await srt.listen(c.port, config.host);
          base.ports.srt = port;
          base.logger.info({ port }, 'srt listening');
        } catch (err) {
          base.logger.error({ err: (err as Error).message, port: c.port }, 'SRT ingest is off: cannot listen on its UDP port (media.srt.port)');
        }
      },
      stop: () => srt.close(),
    };
  },
};
