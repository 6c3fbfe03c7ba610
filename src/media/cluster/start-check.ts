/**
 * The cluster's start check: a media node that shares Redis with others pulls from and serves
 * pulls to them, which needs the shared cluster.secret. There is no generated default (each node
 * would generate its own and every pull would be refused), so a missing one stops the start.
 */
import type { OnairConfig } from '../../config/schema.js';
import { ConfigError } from '../../config/load.js';

/** checkClusterConfig throws a ConfigError naming ONAIR_CLUSTER_SECRET when the media role runs with redis.url and no cluster.secret. */
export function checkClusterConfig(config: Pick<OnairConfig, 'roles' | 'redis' | 'cluster'>): void {
  if (!config.redis.url || !config.roles.includes('media')) return;
  if (!config.cluster.secret) {
    throw new ConfigError(
      'cluster.secret',
      'a media node with redis.url set needs the cluster secret: set ONAIR_CLUSTER_SECRET (at least 16 characters) to the same value on every node',
    );
  }
}
