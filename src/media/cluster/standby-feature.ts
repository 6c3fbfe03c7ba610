/**
 * hotStandbyFeature wires HotStandby (standby.ts) on media nodes of a cluster: redis.url and
 * cluster.secret set. Its publish guard takes the channel lease at every publish check, and it is
 * the hub's arbiter between primary and backup publishes. Without Redis or a secret every
 * publish is a primary, as on a single node.
 */
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import { nodeIdOf } from '../../platform/jobs/node-id.js';
import { DEFAULT_BUS_PREFIX } from '../control/bus.js';
import { directoryMetrics, LiveDirectory } from '../control/bus-live.js';
import { HotStandby, standbyMetrics, STANDBY_EVENT_PRIMARY, type PrimaryChange } from './standby.js';
import type { ClusterNode } from './index.js';
import type { HlsService } from '../hls/service.js';

export const hotStandbyFeature: Feature<'hotStandby', { media: MediaService; edge?: ClusterNode; hls?: HlsService }, HotStandby> = {
  name: 'hotStandby',
  roles: ['media'],
  deps: { media: 'required', edge: 'optional', hls: 'optional' },
  create(base, { media, edge, hls }) {
    const { config } = base;
    const redisUrl = config.redis.url;
    const secret = config.cluster.secret;
    if (!redisUrl || !secret) return undefined;
    const logger = base.logger.child({ role: 'media', part: 'hot-standby' });
    const dirMetrics = directoryMetrics(base.registry);
    const cc = config.media.control;
    const standby = new HotStandby({
      redisUrl,
      nodeId: nodeIdOf(config),
      secret,
      ttlMs: config.cluster.heartbeatTimeoutMs,
      hub: media.hub,
      logger,
      metrics: standbyMetrics(base.registry),
      prefix: DEFAULT_BUS_PREFIX,
      // Read only (no snapshot): the stream control feature writes this node's entry.
      // LL-HLS across a failover: a primary's heartbeats say where its sequence stands, a successor carries it on.
      sequenceOf: (channel) => hls?.packager(channel)?.sequencePosition(),
      directory: (redis) => new LiveDirectory({ redis: () => redis, nodeId: nodeIdOf(config), logger, metrics: dirMetrics, ttlMs: cc.liveTtlSeconds * 1000, refreshMs: cc.liveRefreshSeconds * 1000 }),
    });
    let removeGuard: (() => void) | undefined;
    // Failover: this node's pulls of a channel follow its new primary at once (edge-pull.ts).
    const repoint = (c: PrimaryChange) => edge?.pulls.primaryChanged(c.channel, c.node);
    return {
      api: standby,
      start: async () => {
        await standby.start();
        standby.on(STANDBY_EVENT_PRIMARY, repoint);
        hls?.setSequenceSource((channel) => standby.previousSequence(channel, config.hls.targetDurationSeconds * 1000));
        removeGuard = media.addPublishGuard(standby.admit);
      },
      stop: async () => {
        removeGuard?.();
        removeGuard = undefined;
        standby.off(STANDBY_EVENT_PRIMARY, repoint);
        hls?.setSequenceSource(undefined);
        await standby.stop();
      },
    };
  },
};
