/**
 * RTSP publish and play for the media role: wiring into the server, and the public surface.
 */
import type { ServerParts } from '../../server.js';
import { proxyProtocolOptions } from '../proxy-protocol-gate.js';
import { RtspServer } from './server.js';

export { RtspServer, RtspConnection, rtspMetrics, RTSP_APP } from './server.js';
export type { RtspServerOptions, RtspMetrics, RtspRefusal, RtspSessionKind } from './server.js';
export { RtspIngest, RTSP_DEFAULT_REORDER_FRAMES } from './ingest.js';
export { RtspPlayer } from './player.js';
export { DtsEstimator } from './dts.js';

const servers = new WeakMap<ServerParts, RtspServer>();

/** rtspOf gives a server's RTSP listener (media role), if wired. */
export function rtspOf(parts: ServerParts): RtspServer | undefined {
  return servers.get(parts);
}

/** wireRtsp (media role): the RTSP listener on media.rtsp.port; publishes use the stream key, plays the channel name. */
export function wireRtsp(parts: ServerParts): void {
  const { config } = parts;
  const media = parts.media;
  const c = config.media.rtsp;
  if (!c.enabled || !media) return;
  const m = config.media;
  const rtsp = new RtspServer({
    logger: parts.logger.child({ role: 'media', protocol: 'rtsp' }),
    hub: media.hub,
    registry: parts.registry,
    authorizePublish: (key, clientIp) => media.authorizePublish(key, clientIp, 'rtsp'),
    unpublished: (channel, clientIp, reason) => media.unpublished(channel, clientIp, reason, 'rtsp'),
    sessionTimeoutMs: c.sessionTimeoutSeconds * 1000,
    maxConnections: c.maxConnections,
    maxHeaderBytes: c.maxHeaderBytes,
    maxBodyBytes: c.maxBodyBytes,
    skipBytes: m.viewerQueueSkipBytes,
    maxBytes: m.viewerQueueMaxBytes,
    stallMs: m.viewerStallSeconds * 1000,
    reorderFrames: c.h264ReorderFrames,
    proxyProtocol: proxyProtocolOptions(m.proxyProtocol),
  });
  servers.set(parts, rtsp);
  parts.addService({
    name: 'rtsp',
    start: async () => {
      // A port someone else holds (MediaMTX on 8554, a second onair) leaves the rest of the server
      // running: RTSP is one protocol among several, and the error says why it is off.
      try {
        const port = await rtsp.listen(c.port, config.host);
        parts.ports.rtsp = port;
        parts.logger.info({ port }, 'rtsp listening');
      } catch (err) {
        parts.logger.error({ err: (err as Error).message, port: c.port }, 'RTSP is off: cannot listen on its TCP port (media.rtsp.port)');
      }
    },
    stop: async () => {
      await rtsp.close();
      delete parts.ports.rtsp;
    },
  });
}
