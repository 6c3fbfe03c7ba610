/**
 * clusterLiveFeature: the read side of the media cluster, on every node sharing redis.url that
 * runs the media or the api role. It keeps the cluster live view (live-view.ts) and answers with
 * it: live status and viewers summed over nodes for the API routes (base.api.liveInfo), and live
 * thumbnails of channels published on another node, fetched from that node (remote-thumbnail.ts).
 *
 * An api-only node (`--roles api,web`) runs no hub: it only reads the view and serves the
 * thumbnail route itself; on a media node the recorder's thumbnail route asks this feature for
 * channels it does not publish, and the view also writes the node's edge audience.
 */
import type { Redis } from 'ioredis';
import { newRedis } from '../../net/redis-client.js';
import type { Feature } from '../../app/feature.js';
import type { StreamHub } from '../hub/hub.js';
import { nodeIdOf } from '../../platform/jobs/node-id.js';
import { directoryMetrics, LiveDirectory } from '../control/bus-live.js';
import { DEFAULT_BUS_PREFIX } from '../control/bus.js';
import { LiveDetailSchema } from '../../api/schemas.js';
import type { LiveInfo } from '../../http/routes/context.js';
import { thumbnailRoute } from '../record/routes.js';
import { addCounts, ClusterLiveView } from './live-view.js';
import { RemoteThumbnails, type RemoteThumbnail } from './remote-thumbnail.js';

/** ClusterLive is what the feature exposes: the cluster's live picture and remote thumbnails. */
export interface ClusterLive {
  readonly nodeId: string;
  readonly view: ClusterLiveView;
  /** directory is the cluster live list in Redis, read on this feature's connection (edge pulls locate origins in it). */
  readonly directory: LiveDirectory;
  /** thumbnail is the live thumbnail of a channel published on another node (its origin makes it). */
  thumbnail(channel: string): Promise<RemoteThumbnail | undefined>;
}

export const clusterLiveFeature: Feature<'clusterLive', { hub?: StreamHub }, ClusterLive> = {
  name: 'clusterLive',
  roles: ['media', 'api'],
  deps: { hub: 'optional' },
  create(base, { hub }) {
    const { config } = base;
    const url = config.redis.url;
    if (!url) return undefined;
    const logger = base.logger.child({ part: 'cluster-live' });
    const nodeId = nodeIdOf(config);
    let redis: Redis | null = null;
    const connection = (): Redis => {
      if (!redis) throw new Error('cluster live view: not started');
      return redis;
    };
    const cc = config.media.control;
    const directory = new LiveDirectory({
      redis: connection,
      nodeId,
      logger,
      metrics: directoryMetrics(base.registry),
      ttlMs: cc.liveTtlSeconds * 1000,
      refreshMs: cc.liveRefreshSeconds * 1000,
    });
    const view = new ClusterLiveView({
      redis: connection,
      nodeId,
      ...(hub ? { edges: hub.edges } : {}),
      list: () => directory.list(),
      logger,
      ttlMs: cc.liveTtlSeconds * 1000,
      refreshMs: cc.liveRefreshSeconds * 1000,
      prefix: DEFAULT_BUS_PREFIX,
    });
    const intervalSeconds = config.record.thumbnailIntervalSeconds;
    const thumbs = new RemoteThumbnails(view, intervalSeconds * 1000);
    // Without a hub no recorder registers /live/{channel}/thumbnail.jpg: every thumbnail is another node's.
    if (!hub) thumbnailRoute(base.http, { get: () => undefined }, intervalSeconds, (ch) => thumbs.get(ch));
    // Live status on every node: a channel published here, or on the node the live list names,
    // with the players of every node's edge streams added to its viewers.
    const localInfo = base.api.liveInfo;
    const clusterInfo = (channel: string): LiveInfo => {
      const own = localInfo?.(channel) ?? { live: false };
      const edges = view.edgeViewersOf(channel);
      if (own.live) return edges ? { ...own, viewers: addCounts(own.viewers, edges) } : own;
      const remote = view.remote(channel);
      if (!remote) return own;
      const parsed = LiveDetailSchema.safeParse({ ...remote.entry, live: true, viewers: addCounts((remote.entry.viewers ?? {}) as Record<string, number>, edges) });
      return parsed.success ? parsed.data : own;
    };
    return {
      api: { nodeId, view, directory, thumbnail: (channel) => thumbs.get(channel) },
      start: async () => {
        // No offline queue: a request while Redis is away answers from the last picture instead of waiting.
        const r = newRedis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: false });
        r.on('error', (err) => logger.warn({ err: err.message }, 'cluster live view: redis connection error'));
        await r.connect();
        redis = r;
        await view.start();
        base.api.liveInfo = clusterInfo;
      },
      stop: async () => {
        if (base.api.liveInfo === clusterInfo) base.api.liveInfo = localInfo;
        await view.stop();
        const r = redis;
        redis = null;
        await r?.quit().catch(() => r.disconnect());
      },
    };
  },
};
