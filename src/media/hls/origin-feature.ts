/**
 * hlsOriginFeature: on a cluster node (redis.url set), the LL-HLS service answers a channel live
 * on another node by proxying that node's LL-HLS (origin-proxy.ts), found in the cluster live
 * list (origin-locator.ts). Without Redis there is no other node and the feature is off.
 */
import type { Feature } from '../../app/feature.js';
import type { StreamControl } from '../control/service.js';
import type { HlsService } from './service.js';
import { createOriginLocator } from './origin-locator.js';
import { HlsOriginProxy } from './origin-proxy.js';

/** An origin request may last the longest blocking hold plus this much. */
const ORIGIN_TIMEOUT_MARGIN_MS = 5000;
/** The cluster live list is read at most this often for HLS lookups. */
const LOCATE_MAX_AGE_MS = 1000;
/** Immutable answers (parts, segments, init) and blocking reloads are reused this long at most. */
const CACHE_MAX_AGE_MS = 30_000;

export const hlsOriginFeature: Feature<'hlsOrigin', { hls?: HlsService; streamControl?: StreamControl }, void> = {
  name: 'hlsOrigin',
  roles: ['media'],
  deps: { hls: 'optional', streamControl: 'optional' },
  create(base, { hls, streamControl }) {
    const cluster = streamControl?.cluster;
    if (!hls || !cluster) return undefined;
    const { config } = base;
    let proxy: HlsOriginProxy | undefined;
    return {
      api: undefined,
      start: async () => {
        proxy = new HlsOriginProxy({
          secret: config.cluster.secret,
          timeoutMs: hls.blockTimeoutMs + ORIGIN_TIMEOUT_MARGIN_MS,
          maxInFlight: config.hls.proxy.maxInFlight,
          cacheBytes: config.hls.proxy.cacheMegabytes * 1024 * 1024,
          cacheMaxAgeMs: CACHE_MAX_AGE_MS,
        });
        const locate = createOriginLocator({ list: () => cluster.directory.list(), selfNode: cluster.node, maxAgeMs: LOCATE_MAX_AGE_MS });
        hls.setOrigin({ locate, proxy });
      },
      stop: async () => {
        hls.setOrigin(undefined);
        proxy?.close();
        proxy = undefined;
      },
    };
  },
};
