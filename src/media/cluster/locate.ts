/**
 * locateChannel answers "which media node holds channel X" from the cluster live list
 * (control/bus-live.ts): the node whose own entry lists the channel, with the base URL it
 * advertises (media.control.advertiseUrl). Backup publishers (`role: 'backup'`, hot standby), ended
 * entries and this node itself are never an origin; a node without an advertised URL cannot be pulled
 * from. Edge pulls and the LL-HLS origin proxy (hls/origin-locator.ts) both decide with originOf.
 */
import type { NodeLive } from '../control/bus-live.js';

/** ChannelOrigin is where an edge pulls a channel from. */
export interface ChannelOrigin {
  node: string;
  /** The node's advertised base URL, without a trailing slash. */
  url: string;
  /** When the channel's publish there started (the live entry's `since`): a new value is a new timeline. */
  since?: string;
}

/** LiveList is the part of LiveDirectory the locator reads. */
export interface LiveList {
  list(): Promise<NodeLive[]>;
}

/**
 * originOf picks the channel's origin from a read of the live list (null: not live on another node).
 * `primaryNode`: the node a verified lease notice named as the channel's new primary (failover);
 * its entry is taken even while it still lists the channel as the backup it was a moment ago, and
 * before the old primary's entry that has not expired yet.
 */
export function originOf(nodes: readonly NodeLive[], channel: string, selfNode: string, primaryNode?: string): ChannelOrigin | null {
  const found: (ChannelOrigin & { at: number; named: boolean })[] = [];
  for (const n of nodes) {
    if (n.node === selfNode) continue;
    const named = n.node === primaryNode;
    for (const e of n.streams) {
      if (e.channel !== channel || (e.role === 'backup' && !named) || e.live === false) continue;
      const url = typeof e.nodeUrl === 'string' ? e.nodeUrl : n.url;
      if (url) found.push({ node: n.node, url: url.replace(/\/+$/, ''), at: n.at, named, ...(typeof e.since === 'string' ? { since: e.since } : {}) });
    }
  }
  // Two nodes claiming a channel is a moment of change (issue 18 keeps it short): the node the
  // lease names, else the latest writer wins.
  found.sort((a, b) => Number(b.named) - Number(a.named) || b.at - a.at || a.node.localeCompare(b.node));
  const best = found[0];
  return best ? { node: best.node, url: best.url, ...(best.since ? { since: best.since } : {}) } : null;
}

/** locateChannel reads the live list and picks the channel's origin (see originOf); throws when Redis fails. */
export async function locateChannel(list: LiveList, channel: string, selfNode: string, primaryNode?: string): Promise<ChannelOrigin | null> {
  return originOf(await list.list(), channel, selfNode, primaryNode);
}
