/**
 * Stream control and restreaming (docs/restream.md): end a live stream through the API, block
 * republishing for a while, list live streams for operators, and push each channel to its own
 * restream targets while it is live.
 *
 * Wired for the media role (relays, publish guard, routes) and for the api role (routes only,
 * answering 409 not_live_here for ends where no media role runs); a node with both wires once.
 */
import type { ServerParts } from '../../server.js';
import { ControlStore } from './db.js';
import { RestreamRunner } from './restream.js';
import { controlMetrics, StreamControl } from './service.js';
import { controlRoutes } from './routes.js';

export { ControlStore } from './db.js';
export type { RestreamTargetsTable, PublishBlocksTable } from './db.js';
export { RestreamRunner, type TargetStatus, type TargetState } from './restream.js';
export { StreamControl, controlMetrics, MAX_BLOCK_SECONDS, type EndResult, type EndOptions, type PublicTarget, type ControlActor } from './service.js';
export { controlRoutes } from './routes.js';
export { normaliseTarget, checkTargetHost, isForbiddenAddress, maskKey, pushUrlOf, TargetError } from './targets.js';

const wired = new WeakMap<ServerParts, StreamControl>();

/** streamControlOf gives a server's stream control, once wired. */
export function streamControlOf(parts: ServerParts): StreamControl | undefined {
  return wired.get(parts);
}

/**
 * wireStreamControl adds the stream control routes and, when the media role runs here, the
 * restream runner and the publish-block guard. Safe to call from both the media and the api
 * role entries: the second call does nothing.
 */
export function wireStreamControl(parts: ServerParts): StreamControl {
  const existing = wired.get(parts);
  if (existing) return existing;
  const { config, platform } = parts;
  const rc = config.media.restream;
  const logger = parts.logger.child({ role: 'media', part: 'stream-control' });
  const store = new ControlStore(platform.db);
  const media = parts.media;
  const runner = media
    ? new RestreamRunner({
      hub: media.hub,
      relays: media,
      targetsOf: async (channel) => {
        const row = await platform.channels.find(channel);
        return row ? store.listTargets(row.id) : [];
      },
      logger,
      enabled: rc.enabled,
      allowPrivateTargets: rc.allowPrivateTargets,
    })
    : undefined;
  const control = new StreamControl({
    store,
    ...(media ? { hub: media.hub } : {}),
    ...(runner ? { runner } : {}),
    channels: platform.channels,
    logger,
    metrics: controlMetrics(parts.registry),
    maxTargetsPerChannel: rc.maxTargetsPerChannel,
    allowPrivateTargets: rc.allowPrivateTargets,
  });
  wired.set(parts, control);
  controlRoutes(parts.app, { api: parts.api, control, maxTargetsPerChannel: rc.maxTargetsPerChannel });
  if (media && runner) {
    const removeGuard = media.addPublishGuard(control.publishGuard);
    parts.addService({
      name: 'stream-control',
      start: async () => runner.start(),
      stop: async () => {
        removeGuard();
        await runner.stop();
      },
    });
  }
  return control;
}
