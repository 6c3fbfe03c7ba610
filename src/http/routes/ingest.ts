/**
 * GET /api/v1/ingest: where a broadcaster publishes to, per protocol, so the studio (and any tool)
 * shows the addresses this deployment really listens on instead of assuming the default ports.
 * Public: ports are not secret, stream keys are never part of it.
 *
 * A port comes from the listener on this node when the media role runs here (the port it bound,
 * `0` in config included), else from the config every node shares (an api-only node behind a load
 * balancer); a protocol that is switched off, or configured as port 0 with no listener here, is left out.
 */
import type { FastifyInstance } from 'fastify';
import type { OnairConfig } from '../../config/schema.js';
import { IngestAddressesSchema, type IngestAddresses } from '../../api/schemas.js';

export type { IngestAddresses };

const APP = 'live';

/** ingestAddresses works the answer out of the config and the ports this node bound. */
export function ingestAddresses(config: OnairConfig, ports: Record<string, number>, mediaHere: boolean): IngestAddresses {
  const portOf = (bound: number | undefined, configured: number): number | undefined => {
    if (mediaHere) return bound;
    return configured > 0 ? configured : undefined;
  };
  const out: IngestAddresses = {};
  const rtmp = portOf(ports.rtmp, config.rtmp.port);
  if (rtmp !== undefined) out.rtmp = { port: rtmp, app: APP };
  const m = config.media;
  if (m.rtmps.enabled) {
    const p = portOf(ports.rtmps, m.rtmps.port);
    if (p !== undefined) out.rtmps = { port: p, app: APP };
  }
  if (m.srt.enabled) {
    const p = portOf(ports.srt, m.srt.port);
    if (p !== undefined) out.srt = { port: p, streamid: 'publish:{streamKey}' };
  }
  if (m.rtsp.enabled) {
    const p = portOf(ports.rtsp, m.rtsp.port);
    if (p !== undefined) out.rtsp = { port: p, app: APP };
  }
  if (m.whip.enabled) out.whip = { path: '/whip' };
  return out;
}

export function ingestRoutes(app: FastifyInstance, config: OnairConfig, ports: Record<string, number>): void {
  const mediaHere = config.roles.includes('media');
  app.get('/api/v1/ingest', async () => IngestAddressesSchema.parse(ingestAddresses(config, ports, mediaHere)));
}
