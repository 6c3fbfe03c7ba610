/**
 * Broker and PresenceManager: what the chat node needs from its shared state.
 * Two implementations (memory, Redis) satisfy the same contract, checked by
 * one test suite (test/unit/chat/broker-contract.test.ts).
 */
import type { ClientInfo, Publication, StreamPosition } from '../protocol/codec.js';

/** HistoryOptions bound a channel's history stream. */
export interface HistoryOptions {
  /** Publications kept; 0 keeps none (no offsets are assigned). */
  size: number;
  /** Seconds a publication is kept; 0 with size > 0 means no time bound. */
  ttlSeconds: number;
  /** Seconds the stream's epoch and top offset outlive the last publication. */
  metaTtlSeconds: number;
}

/** ControlMessage travels between nodes through the broker. */
export type ControlMessage =
  | { type: 'disconnect'; user: string; client?: string; session?: string; whitelist?: string[]; code: number; reason: string }
  | { type: 'unsubscribe'; user: string; channel: string; client?: string; session?: string }
  | { type: 'subscribe'; user: string; channel: string; client?: string; session?: string; chanInfo?: string }
  | { type: 'refresh'; user: string; client?: string; session?: string; expired?: boolean; expireAt?: number }
  /** Revoke the user's connection tokens issued before issuedBefore (unix seconds) on every node. */
  | { type: 'revoke'; user: string; issuedBefore: number }
  /** A platform user's session authorised a Pusher socket for an onair channel ('' for a signin), noted by whichever node holds that socket id. */
  | { type: 'pusher_authorised'; socket: string; user: string; channel: string }
  | { type: 'node'; node: NodeInfo }
  | { type: 'survey'; id: string; from: string; op: 'channels' }
  | { type: 'survey_reply'; id: string; to: string; from: string; data: unknown }
  /**
   * Commands of an emulation session (POST /emulation) that reached another node, for the node
   * `to` (uid) that holds the session; `data` is the commands' JSON text, or base64 of protobuf.
   */
  | { type: 'emulation'; to: string; session: string; format: 'json' | 'protobuf'; data: string };

/** NodeInfo is what a node reports about itself for the `info` server API. */
export interface NodeInfo {
  uid: string;
  name: string;
  version: string;
  num_clients: number;
  num_users: number;
  num_subs: number;
  num_channels: number;
  uptime: number;
}

/** BrokerEventHandler receives what the broker delivers to this node. */
export interface BrokerEventHandler {
  /** onPublication gets a publication of a channel this node subscribed to; offset/epoch set when history is on. */
  onPublication(channel: string, pub: Publication, epoch: string): void;
  onJoin(channel: string, info: ClientInfo): void;
  onLeave(channel: string, info: ClientInfo): void;
  onControl(msg: ControlMessage): void;
  /** onResync tells the node that delivery may have had a gap (e.g. Redis reconnected). */
  onResync?(): void;
}

/** HistoryQuery selects publications of a stream. */
export interface HistoryQuery {
  /** Return publications after this position; with a different epoch nothing is returned. */
  since?: StreamPosition;
  /** Max publications; 0 returns only the stream position; negative means no limit. */
  limit: number;
  /** Newest first. */
  reverse?: boolean;
  /** Bounds used to keep the stream meta alive while it is read. */
  metaTtlSeconds: number;
}

export interface HistoryResult {
  publications: Publication[];
  /** Current top of the stream (offset of the newest publication ever, and epoch). */
  position: StreamPosition;
}

/**
 * Broker carries publications, join/leave and control messages between the
 * nodes of a deployment and keeps each channel's history stream.
 *
 * Contract:
 * - Ordering: publications of one channel reach every subscribed node in the
 *   order `publish` assigned their offsets; join/leave and control messages
 *   are delivered at most once, in the order each node sent them.
 * - Offsets: with history on, a channel's offsets start at 1 and grow by
 *   exactly 1 per publication within one epoch. The epoch changes only when
 *   the stream is lost (meta TTL passed, history removed after a restart of
 *   the memory broker), and offsets restart then.
 * - A publication is added to history and sent atomically: a node that
 *   reads history and then receives live publications misses nothing, and
 *   sees duplicates only with offsets it can drop.
 * - `removeHistory` is idempotent and keeps the epoch and top offset, so
 *   positions stay comparable.
 * - Delivery is to subscribed nodes only: `subscribe(channel)` before the
 *   node expects that channel's messages; the node handler is called for
 *   its own publications too (one code path).
 */
export interface Broker {
  readonly name: string;
  start(handler: BrokerEventHandler): Promise<void>;
  close(): Promise<void>;
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** publish assigns the next offset (when history is on), stores and delivers; resolves with the position. */
  publish(channel: string, pub: Publication, history: HistoryOptions): Promise<StreamPosition>;
  publishJoin(channel: string, info: ClientInfo): Promise<void>;
  publishLeave(channel: string, info: ClientInfo): Promise<void>;
  publishControl(msg: ControlMessage): Promise<void>;
  history(channel: string, q: HistoryQuery): Promise<HistoryResult>;
  removeHistory(channel: string): Promise<void>;
}

/** PresenceStats counts a channel's presence. */
export interface PresenceStats {
  numClients: number;
  numUsers: number;
}

/**
 * PresenceManager keeps who is in a channel across nodes.
 *
 * Contract: an entry lives until removed or until `ttlSeconds` after its last
 * add (nodes re-add their entries periodically, so a crashed node's clients
 * expire); adding an existing client id replaces its info; removal of an absent
 * entry is a no-op; `presenceStats` counts distinct user ids (all anonymous
 * clients share the empty user id, as in Centrifugo).
 */
export interface PresenceManager {
  addPresence(channel: string, clientId: string, info: ClientInfo, ttlSeconds: number): Promise<void>;
  removePresence(channel: string, clientId: string): Promise<void>;
  presence(channel: string): Promise<Record<string, ClientInfo>>;
  presenceStats(channel: string): Promise<PresenceStats>;
  close(): Promise<void>;
}

/** countPresence derives stats from a presence map. */
export function countPresence(p: Record<string, ClientInfo>): PresenceStats {
  const users = new Set<string>();
  let numClients = 0;
  for (const info of Object.values(p)) {
    numClients++;
    users.add(info.user);
  }
  return { numClients, numUsers: users.size };
}
