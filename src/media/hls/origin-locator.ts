/**
 * Which node holds a channel's publisher, for the LL-HLS origin proxy: read from the cluster live
 * list (LiveDirectory in media/control/bus-live.ts). One list read serves every channel for
 * `maxAgeMs`, and concurrent lookups share it, so viewers' requests do not each reach Redis.
 */
import type { NodeLive } from '../control/bus-live.js';
import { originOf } from '../cluster/locate.js';

export interface OriginLocatorOptions {
  /** Reads the cluster live list (throws when Redis fails). */
  list: () => Promise<NodeLive[]>;
  /** This node's id: its own entries are never an origin for itself. */
  selfNode: string;
  /** A list read is reused this long. */
  maxAgeMs: number;
  now?: () => number;
}

/** OriginLocator answers a channel's origin base URL, or undefined when no other node holds it. */
export type OriginLocator = (channel: string) => Promise<string | undefined>;

/** createOriginLocator builds the lookup the LL-HLS service uses for channels it does not hold. */
export function createOriginLocator(o: OriginLocatorOptions): OriginLocator {
  const now = o.now ?? Date.now;
  let snapshot: { at: number; nodes: readonly NodeLive[] } | undefined;
  let reading: Promise<readonly NodeLive[]> | undefined;
  const read = (): Promise<readonly NodeLive[]> => {
    reading ??= o.list().then((nodes) => {
      snapshot = { at: now(), nodes };
      return nodes;
    }).finally(() => { reading = undefined; });
    return reading;
  };
  return async (channel) => {
    const nodes = snapshot && now() - snapshot.at < o.maxAgeMs ? snapshot.nodes : await read();
    // The same rule as an edge pull's (cluster/locate.ts): backups, ended entries and this node are never an origin.
    return originOf(nodes, channel, o.selfNode)?.url;
  };
}
