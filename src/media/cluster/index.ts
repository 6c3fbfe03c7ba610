/**
 * The media cluster, part I (docs/scale-out.md "Any media node serves any live channel"): with
 * redis.url set, a media node plays channels published on other media nodes by pulling them on
 * demand (edge-pull.ts), and serves such pulls to the others (pull-route.ts), both authenticated
 * with cluster.secret (secret.ts; start-check.ts makes it required). What is live where, with
 * viewers summed over nodes, is live-feature.ts's, on api-only nodes too.
 */
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import type { ClusterLive } from './live-feature.js';
import { checkClusterConfig } from './start-check.js';
import { EdgePulls } from './edge-pull.js';
import { locateChannel } from './locate.js';
import { registerClusterPullRoute } from './pull-route.js';

export { EdgePulls, type EdgePullInfo, type EdgePullsOptions } from './edge-pull.js';
export { checkClusterConfig } from './start-check.js';
export { locateChannel, originOf, type ChannelOrigin, type LiveList } from './locate.js';
export { clusterPullPath, CLUSTER_PULL_PREFIX } from './pull-route.js';
export { EdgeTimeline } from './timeline.js';
export { RemoteThumbnails, type RemoteThumbnail } from './remote-thumbnail.js';
export { ClusterLiveView, addCounts, parseEdgeAudience, type EdgeAudience, type ViewerCounts } from './live-view.js';
export { clusterLiveFeature, type ClusterLive } from './live-feature.js';

/** ClusterNode is what the edge feature exposes: the running pulls (the live picture is clusterLive's). */
export interface ClusterNode {
  readonly nodeId: string;
  readonly pulls: EdgePulls;
}

/** edgeFeature runs on media nodes sharing redis.url: on-demand edge pulls and the origin's pull route. */
export const edgeFeature: Feature<'edge', { media: MediaService; clusterLive?: ClusterLive }, ClusterNode> = {
  name: 'edge',
  roles: ['media'],
  // The live list is read through clusterLive's directory and Redis connection: one per node.
  // Both are on exactly when redis.url is set, so without it neither runs.
  deps: { media: 'required', clusterLive: 'optional' },
  create(base, { media, clusterLive }) {
    const { config } = base;
    checkClusterConfig(config);
    const secret = config.cluster.secret;
    if (!config.redis.url || !secret) return undefined;
    if (!clusterLive) throw new Error('cluster: edge pulls need the cluster live view, which is off although redis.url is set');
    const logger = base.logger.child({ role: 'media', part: 'cluster' });
    const { nodeId, directory } = clusterLive;
    const pulls = new EdgePulls({
      hub: media.hub,
      locate: (channel) => locateChannel(directory, channel, nodeId),
      secret,
      logger,
      graceMs: config.cluster.edgeGraceSeconds * 1000,
      holdMs: config.cluster.edgeHoldSeconds * 1000,
    });
    registerClusterPullRoute(base.http, { hub: media.hub, secret, logger });
    return {
      api: { nodeId, pulls },
      start: () => {
        media.hub.setOnDemand(pulls);
        return Promise.resolve();
      },
      stop: () => {
        media.hub.setOnDemand(null);
        pulls.stop();
        return Promise.resolve();
      },
    };
  },
};
