/**
 * RTSP publish and play for the media role: its feature descriptor, and the public surface.
 */
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import { proxyProtocolOptions } from '../proxy-protocol-gate.js';
import { RtspServer } from './server.js';

export { RtspServer, RtspConnection, rtspMetrics, RTSP_APP } from './server.js';
export type { RtspServerOptions, RtspMetrics, RtspRefusal, RtspSessionKind } from './server.js';
export { RtspIngest, RTSP_DEFAULT_REORDER_FRAMES } from './ingest.js';
export { RtspPlayer } from './player.js';
export { DtsEstimator } from './dts.js';

/** rtspFeature is the RTSP listener on media.rtsp.port; publishes use the stream key, plays the channel name. */
export const rtspFeature: Feature<'rtsp', { media: MediaService }, RtspServer> = {
  name: 'rtsp',
  roles: ['media'],
  deps: { media: 'required' },
  create(base, { media }) {
    const { config } = base;
    const c = config.media.rtsp;
    if (!c.enabled) return undefined;
    const m = config.media;
    const rtsp = new RtspServer({
      logger: base.logger.child({ role: 'media', protocol: 'rtsp' }),
      hub: media.hub,
      registry: base.registry,
      authorizePublish: (key, clientIp) => media.authorizePublish(key, clientIp, 'rtsp'),
      unpublished: (channel, clientIp, reason) => media.unpublished(channel, clientIp, reason, 'rtsp'),
      sessionTimeoutMs: c.sessionTimeoutSeconds * 1000,
      maxConnections: c.maxConnections,
      maxConnectionsPerIp: config.limits.rtsp.perIp,
      exempt: config.limits.exempt,
      maxHeaderBytes: c.maxHeaderBytes,
      maxBodyBytes: c.maxBodyBytes,
      skipBytes: m.viewerQueueSkipBytes,
      maxBytes: m.viewerQueueMaxBytes,
      stallMs: m.viewerStallSeconds * 1000,
      reorderFrames: c.h264ReorderFrames,
      udpPortRange: c.udpPortRange,
      proxyProtocol: proxyProtocolOptions(m.proxyProtocol),
    });
    return {
      api: rtsp,
      start: async () => {
        // A port someone else holds (MediaMTX on 8554, a second onair) leaves the rest of the server
        // running: RTSP is one protocol among several, and the error says why it is off.
        try {
          const port = await rtsp.listen(c.port, config.host);
          base.ports.rtsp = port;
          base.logger.info({ port }, 'rtsp listening');
        } catch (err) {
          base.logger.error({ err: (err as Error).message, port: c.port }, 'RTSP is off: cannot listen on its TCP port (media.rtsp.port)');
        }
      },
      stop: async () => {
        await rtsp.close();
        delete base.ports.rtsp;
      },
    };
  },
};
