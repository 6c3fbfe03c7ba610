/**
 * Stream control and restreaming (docs/restream.md): end a live stream through the API, block
 * republishing for a while, list live streams for operators, and push each channel to its own
 * restream targets while it is live.
 *
 * One feature for the media role (relays, publish guard, routes) and the api role (routes only,
 * answering 409 not_live_here for ends where no media role runs).
 * With redis.url set, a control bus joins the nodes (bus.ts): an end on any node reaches the
 * media node holding the publisher, and each media node keeps its live list in Redis
 * (bus-live.ts) so GET /api/v1/streams on any node lists the whole cluster.
 */
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import { nodeIdOf } from '../../platform/jobs/node-id.js';
import { HUB_EVENT_BACKUP_CHANGE, HUB_EVENT_STREAM_END, HUB_EVENT_STREAM_START } from '../hub/hub.js';
import { busMetrics, ControlBus } from './bus.js';
import { directoryMetrics, LiveDirectory, type LiveEntry } from './bus-live.js';
import { ControlStore, controlMigrations } from './db.js';
import { RestreamRunner } from './restream.js';
import { controlMetrics, StreamControl } from './service.js';
import { controlRoutes } from './routes.js';

export { ControlStore } from './db.js';
export type { RestreamTargetsTable, PublishBlocksTable } from './db.js';
export { RestreamRunner, type TargetStatus, type TargetState } from './restream.js';
export { StreamControl, controlMetrics, MAX_BLOCK_SECONDS, type EndResult, type EndOptions, type EndFailure, type PublicTarget, type ControlActor, type LiveStream, type StreamsView, type ClusterBus, type ClusterDirectory } from './service.js';
export { ControlBus, busMetrics, DEFAULT_BUS_PREFIX, type BusEndOutcome, type ControlBusOptions, type EndHandler } from './bus.js';
export { LiveDirectory, directoryMetrics, type LiveDirectoryOptions, type NodeLive, type LiveEntry } from './bus-live.js';
export { parseEndRequest, parseEndAnswer, encodeEndRequest, encodeEndAnswer, type EndRequest, type EndAnswer, type EndedStream } from './bus-messages.js';
export { controlRoutes } from './routes.js';
export { normaliseTarget, checkTargetHost, isForbiddenAddress, maskKey, pushUrlOf, TargetError } from './targets.js';

/**
 * streamControlFeature adds the stream control routes and, when the media role runs here, the
 * restream runner and the publish-block guard. One descriptor for both roles: an api-only node
 * gets the routes (and the control bus when redis.url is set), a media node the rest too.
 */
export const streamControlFeature: Feature<'streamControl', { media?: MediaService }, StreamControl> = {
  name: 'streamControl',
  roles: ['media', 'api'],
  migrations: controlMigrations,
  deps: { media: 'optional' },
  create(base, { media }) {
    const { config, platform } = base;
    const rc = config.media.restream;
    const logger = base.logger.child({ role: 'media', part: 'stream-control' });
    const store = new ControlStore(platform.db);
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
    const cc = config.media.control;
    const nodeUrl = cc.advertiseUrl?.replace(/\/+$/, '');
    let bus: ControlBus | undefined;
    let directory: LiveDirectory | undefined;
    if (config.redis.url) {
      const nodeId = nodeIdOf(config);
      bus = new ControlBus({
        url: config.redis.url,
        nodeId,
        logger,
        metrics: busMetrics(base.registry),
        endTimeoutMs: cc.endTimeoutMs,
        // control is made below; the bus only calls this after its service started.
        ...(media ? { onEnd: (req) => control.serveEnd(req) } : {}),
      });
      const b = bus;
      directory = new LiveDirectory({
        redis: () => b.redis,
        nodeId,
        logger,
        metrics: directoryMetrics(base.registry),
        ttlMs: cc.liveTtlSeconds * 1000,
        refreshMs: cc.liveRefreshSeconds * 1000,
        ...(nodeUrl ? { url: nodeUrl } : {}),
        ...(media ? { snapshot: (): Promise<LiveEntry[]> => control.ownEntries() } : {}),
      });
      logger.info({ node: nodeId, answersEnds: !!media, url: nodeUrl }, 'stream control: this node joins the control bus');
    }
    const control: StreamControl = new StreamControl({
      store,
      ...(media ? { hub: media.hub } : {}),
      ...(runner ? { runner } : {}),
      channels: platform.channels,
      logger,
      metrics: controlMetrics(base.registry),
      maxTargetsPerChannel: rc.maxTargetsPerChannel,
      allowPrivateTargets: rc.allowPrivateTargets,
      ...(bus ? { bus } : {}),
      ...(directory ? { directory } : {}),
      ...(nodeUrl ? { nodeUrl } : {}),
    });
    controlRoutes(base.http, { api: base.api, control, maxTargetsPerChannel: rc.maxTargetsPerChannel });
    const removeGuard = media && runner ? media.addPublishGuard(control.publishGuard) : undefined;
    const poke = () => directory?.poke();
    const joinBus = async (b: ControlBus, dir: LiveDirectory) => {
      await b.start();
      if (media) {
        media.hub.on(HUB_EVENT_STREAM_START, poke);
        media.hub.on(HUB_EVENT_STREAM_END, poke);
        media.hub.on(HUB_EVENT_BACKUP_CHANGE, poke);
      }
      await dir.start();
    };
    const leaveBus = async (b: ControlBus, dir: LiveDirectory) => {
      if (media) {
        media.hub.off(HUB_EVENT_STREAM_START, poke);
        media.hub.off(HUB_EVENT_STREAM_END, poke);
        media.hub.off(HUB_EVENT_BACKUP_CHANGE, poke);
      }
      await dir.stop();
      await b.stop();
    };
    return {
      api: control,
      // The bus first (ends from other nodes reach this one), then the relays; stop in reverse.
      start: async () => {
        if (bus && directory) await joinBus(bus, directory);
        try {
          runner?.start();
        } catch (err) {
          if (bus && directory) await leaveBus(bus, directory);
          throw err;
        }
      },
      stop: async () => {
        removeGuard?.();
        await runner?.stop();
        if (bus && directory) await leaveBus(bus, directory);
      },
    };
  },
};
