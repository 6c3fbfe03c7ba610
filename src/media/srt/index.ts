/**
 * SRT ingest for the media role: wiring into the server, and the public surface.
 */
import type { ServerParts } from '../../server.js';
import { SrtServer } from './server.js';

export { SrtServer, srtMetrics, SRT_VERSION } from './server.js';
export type { SrtServerOptions, SrtSessionStats, SrtMetrics, SrtRefusal } from './server.js';
export { TsIngest } from './ingest.js';
export { SrtReceiver } from './receiver.js';
export { parseStreamId } from './streamid.js';

const servers = new WeakMap<ServerParts, SrtServer>();

/** srtOf gives a server's SRT listener (media role), if wired. */
export function srtOf(parts: ServerParts): SrtServer | undefined {
  return servers.get(parts);
}

/** wireSrt (media role): the SRT listener on media.srt.port, publishing into the hub with the channel's stream key. */
export function wireSrt(parts: ServerParts): void {
  const { config } = parts;
  const media = parts.media;
  const c = config.media.srt;
  if (!c.enabled || !media) return;
  const srt = new SrtServer({
    logger: parts.logger.child({ role: 'media', ingest: 'srt' }),
    hub: media.hub,
    registry: parts.registry,
    authorizePublish: (key, clientIp) => media.authorizePublish(key, clientIp, 'srt'),
    unpublished: (channel, clientIp, reason) => media.unpublished(channel, clientIp, reason, 'srt'),
    latencyMs: c.latencyMs,
    maxPayload: c.maxPayload,
    idleTimeoutMs: c.idleTimeoutSeconds * 1000,
    maxSessions: c.maxSessions,
  });
  servers.set(parts, srt);
  parts.addService({
    name: 'srt',
    start: async () => {
      // A UDP port someone else holds (another SRT server on 8890, a second onair) leaves the
      // rest of the server running: SRT is one ingest among several, and the error says why it is off.
      try {
        const port = await srt.listen(c.port, config.host);
        parts.ports.srt = port;
        parts.logger.info({ port }, 'srt listening');
      } catch (err) {
        parts.logger.error({ err: (err as Error).message, port: c.port }, 'SRT ingest is off: cannot listen on its UDP port (media.srt.port)');
      }
    },
    stop: () => srt.close(),
  });
}
