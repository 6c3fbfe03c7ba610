/**
 * The cluster secret on requests between media nodes (docs/scale-out.md): an edge pulling a
 * channel, or proxying its LL-HLS, sends `cluster.secret` in one header; the origin compares it
 * in constant time. A request that carries it is a node, not a viewer: it is not counted and not
 * bound by the per-address viewer caps.
 */
import { timingSafeEqual, createHash } from 'node:crypto';

export const CLUSTER_SECRET_HEADER = 'x-onair-cluster-secret';

/** clusterSecretMatches is true when `given` is this cluster's secret (false when none is set). */
export function clusterSecretMatches(given: string | string[] | undefined, secret: string | undefined): boolean {
  if (!secret || typeof given !== 'string' || given.length === 0) return false;
  // Hashing first gives both sides one length, so the comparison leaks neither content nor length.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}
