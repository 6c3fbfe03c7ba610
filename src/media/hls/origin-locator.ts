/**
 * Which node holds a channel's publisher, for the LL-HLS origin proxy: read from the cluster live
 * list (LiveDirectory in media/control/bus-live.ts). One list read serves every channel for
 * `maxAgeMs`, and concurrent lookups share it, so viewers' requests do not each reach Redis.
 */
import type { NodeLive } from '../control/bus-live.js';

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

/**
 * originsOf maps each channel live on another node to that node's advertised URL (backups and
 * nodes without a URL are skipped). A channel listed by two nodes (a publisher that moved, the
 * old node's entry not yet expired) goes to the node that wrote its list most recently.
 */
export function originsOf(nodes: readonly NodeLive[], selfNode: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of [...nodes].sort((a, b) => b.at - a.at)) {
    if (n.node === selfNode) continue;
    for (const e of n.streams) {
      if (e.role === 'backup' || e.live === false) continue;
      const url = typeof e.nodeUrl === 'string' ? e.nodeUrl : n.url;
      if (url && !out.has(e.channel)) out.set(e.channel, url.replace(/\/+$/, ''));
    }
  }
  return out;
}

/** createOriginLocator builds the lookup the LL-HLS service uses for channels it does not hold. */
export function createOriginLocator(o: OriginLocatorOptions): OriginLocator {
  const now = o.now ?? Date.now;
  let snapshot: { at: number; origins: Map<string, string> } | undefined;
  let reading: Promise<Map<string, string>> | undefined;
  const read = (): Promise<Map<string, string>> => {
    reading ??= o.list().then((nodes) => {
      const origins = originsOf(nodes, o.selfNode);
      snapshot = { at: now(), origins };
      return origins;
    }).finally(() => { reading = undefined; });
    return reading;
  };
  return async (channel) => {
    const origins = snapshot && now() - snapshot.at < o.maxAgeMs ? snapshot.origins : await read();
    return origins.get(channel);
  };
}
