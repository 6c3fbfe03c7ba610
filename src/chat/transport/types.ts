/**
 * The shape every chat transport implements (WebSocket, uni WebSocket, SSE,
 * HTTP streaming), and the shared batch that carries pre-encoded pushes.
 */
import { WsOpcode, wrapPush, wsFrame } from '../protocol/codec.js';
import { encodeProtoPush, encodeProtoPushStream, encodeProtoReplies } from '../protocol/protobuf.js';
import type { Disconnect } from '../protocol/codes.js';
import { variantPushes, type DeltaFormat, type DeltaForms } from '../delta.js';
import { encodePusherBatch } from '../pusher/frames.js';
import { matchTags, type TagsFilter } from '../tags-filter.js';

/**
 * Pusher kinds are per channel type: the channel name in a Pusher frame is the subscriber's
 * (`chat-demo`, `private-chat-demo`, `presence-chat-demo` for `chat:demo`).
 */
export type TransportKind =
  | 'websocket'
  | 'websocket_protobuf'
  | 'http_stream'
  | 'http_stream_protobuf'
  | 'sse'
  | 'uni_websocket'
  | 'uni_sse'
  | 'uni_http_stream'
  | 'uni_websocket_protobuf'
  | 'uni_http_stream_protobuf'
  | 'pusher'
  | 'pusher_private'
  | 'pusher_presence';
const KIND_COUNT = 13;
const KIND_INDEX: Record<TransportKind, number> = {
  websocket: 0,
  uni_websocket: 1,
  uni_sse: 2,
  uni_http_stream: 3,
  pusher: 4,
  pusher_private: 5,
  pusher_presence: 6,
  websocket_protobuf: 7,
  http_stream: 8,
  http_stream_protobuf: 9,
  sse: 10,
  uni_websocket_protobuf: 11,
  uni_http_stream_protobuf: 12,
};

/**
 * SharedBatch is a run of pushes (unwrapped Push JSON) for many connections,
 * encoded once per transport kind on first use and the same bytes written to
 * every connection of that kind.
 */
export class SharedBatch {
  readonly pushes: readonly string[];
  /** When the batch's oldest publication arrived (performance.now ms), for the fan-out delay metric. */
  since = 0;
  /** Sequence number in its channel's batch log. */
  seq = 0;
  private readonly cache: (Buffer | undefined)[] = new Array<Buffer | undefined>(KIND_COUNT);
  /**
   * The last run of batches starting with this one that was joined into one buffer. Under load,
   * a subscriber's queue holds the batches since its last write; the subscribers written in a
   * row mostly hold the same run, so it is joined once instead of once per connection.
   */
  private run: { kind: TransportKind; items: SharedBatch[]; bytes: Buffer } | null = null;
  /** Per transport kind, the last run of the channel log starting here (log[from..to]) joined into one buffer. */
  private chain: ({ last: SharedBatch; bytes: Buffer } | undefined)[] | null = null;

  /** The batch's publications in the forms delta subscribers need (set while the channel has any). */
  delta: DeltaForms | null = null;
  /** Delta subscribers' variants of this batch, built on first use: [json delta, json fresh, protobuf delta, protobuf fresh]. */
  private variants: (SharedBatch | undefined)[] | null = null;
  /** Each publication's tags (set by the channel hub), for tags-filtered subscribers. */
  tags: readonly (Readonly<Record<string, string>> | undefined)[] | null = null;
  /** Filtered variants by filter key, built on first use: subscribers with equal filters share one. */
  private filteredVariants: Map<string, SharedBatch | null> | null = null;

  constructor(pushes: readonly string[]) {
    this.pushes = pushes;
  }

  /**
   * variant is this batch as a delta subscriber of a format gets it, itself a shared batch (its
   * bytes encoded once per transport kind); `fresh` when the subscriber has no base yet.
   */
  variant(format: DeltaFormat, fresh: boolean): SharedBatch {
    const forms = this.delta;
    if (forms === null) return this;
    const i = (format === 'json' ? 0 : 2) + (fresh ? 1 : 0);
    const vs = (this.variants ??= new Array<SharedBatch | undefined>(4));
    let v = vs[i];
    if (v === undefined) {
      v = new SharedBatch(variantPushes(forms, format, fresh));
      v.since = this.since;
      v.seq = this.seq;
      vs[i] = v;
    }
    return v;
  }

  /**
   * filtered is this batch as a subscriber with a tags filter gets it: the publications whose
   * tags match, itself a shared batch (this one when all match), or null when none does. Built
   * once per batch and filter (by its key), whoever of the subscribers asks first.
   */
  filtered(key: string, filter: TagsFilter): SharedBatch | null {
    const cache = (this.filteredVariants ??= new Map<string, SharedBatch | null>());
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const keep: string[] = [];
    for (let i = 0; i < this.pushes.length; i++) {
      const p = this.pushes[i];
      if (p !== undefined && matchTags(filter, this.tags?.[i])) keep.push(p);
    }
    const v = keep.length === this.pushes.length ? this : keep.length > 0 ? this.subset(keep) : null;
    cache.set(key, v);
    return v;
  }

  /** subset is a batch of some of this one's pushes, at its place in the log. */
  private subset(pushes: readonly string[]): SharedBatch {
    const v = new SharedBatch(pushes);
    v.since = this.since;
    v.seq = this.seq;
    return v;
  }

  /**
   * chainBytes is log[from..to] (consecutive batches of one channel, this = log[from]) as one
   * buffer; subscribers handed the same run in a round share it.
   */
  chainBytes(kind: TransportKind, log: readonly SharedBatch[], from: number, to: number): Buffer {
    if (from === to) return this.bytes(kind);
    const k = KIND_INDEX[kind];
    const last = log[to];
    if (last === undefined) throw new RangeError(`chainBytes: no batch at ${to} (log has ${log.length})`);
    const c = this.chain?.[k];
    if (c !== undefined && c.last === last) return c.bytes;
    const bufs: Buffer[] = [];
    for (const b of log.slice(from, to + 1)) bufs.push(b.bytes(kind));
    const bytes = Buffer.concat(bufs);
    (this.chain ??= new Array(KIND_COUNT))[k] = { last, bytes };
    return bytes;
  }

  /** runBytes joins this batch and the shared batches after it in items[1..n), or null if one is not shared. */
  runBytes(kind: TransportKind, items: readonly OutItem[], n: number): Buffer | null {
    const r = this.run;
    if (r !== null && r.kind === kind && r.items.length === n) {
      let same = true;
      for (let i = 1; i < n; i++) {
        if (items[i] !== r.items[i]) {
          same = false;
          break;
        }
      }
      if (same) return r.bytes;
    }
    const run: SharedBatch[] = [this];
    const bufs: Buffer[] = [this.bytes(kind)];
    for (let i = 1; i < n; i++) {
      const it = items[i];
      if (it === undefined || typeof it === 'string') return null;
      run.push(it);
      bufs.push(it.bytes(kind));
    }
    const bytes = Buffer.concat(bufs);
    this.run = { kind, items: run, bytes };
    return bytes;
  }

  bytes(kind: TransportKind): Buffer {
    const i = KIND_INDEX[kind];
    let b = this.cache[i];
    if (b === undefined) {
      b = encodeBatch(kind, this.pushes);
      this.cache[i] = b;
    }
    return b;
  }
}

/** encodeBatch encodes pushes (or replies, for websocket) as one write for a transport kind. */
export function encodeBatch(kind: TransportKind, pushes: readonly string[]): Buffer {
  switch (kind) {
    case 'websocket': {
      // Bidirectional: pushes wrapped and joined into one frame (the SDK splits on '\n').
      let text = '';
      let sep = '';
      for (const push of pushes) {
        text += sep + wrapPush(push);
        sep = '\n';
      }
      return wsFrame(Buffer.from(text));
    }
    case 'websocket_protobuf':
      // Bidirectional protobuf: each push wrapped in a Reply, length-delimited, in one binary frame.
      return wsFrame(encodeProtoReplies(pushes.map(wrapPush)), WsOpcode.binary);
    // Bidirectional emulation streams: replies as on the WebSocket, without its framing.
    case 'http_stream':
    case 'http_stream_protobuf':
    case 'sse':
      return encodeStreamMessages(kind, pushes.map(wrapPush));
    case 'uni_websocket':
      // Unidirectional WebSocket: one message per push, frames concatenated in one write.
      return Buffer.concat(pushes.map((p) => wsFrame(Buffer.from(p))));
    case 'uni_websocket_protobuf':
      // One binary message per Push, as the JSON kind sends one text message per push.
      return Buffer.concat(pushes.map((p) => wsFrame(encodeProtoPush(p), WsOpcode.binary)));
    case 'uni_http_stream_protobuf':
      return encodeProtoPushStream(pushes);
    case 'uni_sse': {
      let text = '';
      for (const p of pushes) text += 'data: ' + p + '\n\n';
      return Buffer.from(text);
    }
    case 'uni_http_stream': {
      let text = '';
      for (const p of pushes) text += p + '\n';
      return Buffer.from(text);
    }
    // Pusher: one frame per publication, `{"event","channel","data"}` (src/chat/pusher/frames.ts).
    case 'pusher':
      return encodePusherBatch(pushes, 'public');
    case 'pusher_private':
      return encodePusherBatch(pushes, 'private');
    case 'pusher_presence':
      return encodePusherBatch(pushes, 'presence');
  }
}

/**
 * OutItem is one entry of a connection's write queue: a protocol message
 * (reply, or push already wrapped for bidirectional transports) or a shared
 * batch of pushes.
 */
export type OutItem = string | SharedBatch;

/**
 * encodeItems turns a run of queued items into the buffers of one write, in
 * queue order: consecutive messages become one frame (bidirectional WebSocket,
 * joined by `\n`) or their transport's encoding; a shared batch contributes
 * its cached bytes. Returns the buffers and their total length.
 */
export function encodeItems(kind: TransportKind, items: readonly OutItem[], n: number, out: Buffer[]): number {
  const first = items[0];
  if (n > 1 && first !== undefined && typeof first !== 'string') {
    const run = first.runBytes(kind, items, n);
    if (run !== null) {
      out.push(run);
      return run.length;
    }
  }
  let bytes = 0;
  let i = 0;
  while (i < n) {
    const it = items[i];
    if (it === undefined) break;
    if (typeof it !== 'string') {
      const b = it.bytes(kind);
      out.push(b);
      bytes += b.length;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && typeof items[j] === 'string') j++;
    const b = encodeMessages(kind, items as readonly string[], i, j);
    out.push(b);
    bytes += b.length;
    i = j;
  }
  return bytes;
}

/** encodeMessages encodes messages[from, to) (replies or already wrapped pushes) for a transport kind. */
function encodeMessages(kind: TransportKind, messages: readonly string[], from: number, to: number): Buffer {
  switch (kind) {
    case 'websocket': {
      return wsFrame(Buffer.from(messages.slice(from, to).join('\n')));
    }
    case 'websocket_protobuf':
      return wsFrame(encodeProtoReplies(messages.slice(from, to)), WsOpcode.binary);
    case 'http_stream':
    case 'http_stream_protobuf':
    case 'sse':
      return encodeStreamMessages(kind, messages.slice(from, to));
    case 'uni_websocket':
    case 'pusher':
    case 'pusher_private':
    case 'pusher_presence': {
      // One frame per message (Pusher messages are already Pusher JSON).
      const frames: Buffer[] = [];
      for (const m of messages.slice(from, to)) frames.push(wsFrame(Buffer.from(m)));
      const [only] = frames;
      return frames.length === 1 && only !== undefined ? only : Buffer.concat(frames);
    }
    case 'uni_websocket_protobuf':
    case 'uni_http_stream_protobuf':
      // Unidirectional messages are pushes: the same encoding as a batch of them.
      return encodeBatch(kind, messages.slice(from, to));
    case 'uni_sse': {
      let text = '';
      for (const m of messages.slice(from, to)) text += 'data: ' + m + '\n\n';
      return Buffer.from(text);
    }
    case 'uni_http_stream': {
      let text = '';
      for (const m of messages.slice(from, to)) text += m + '\n';
      return Buffer.from(text);
    }
  }
}

/**
 * encodeStreamMessages encodes replies (pushes wrapped) for the emulation streams: http_stream
 * one JSON reply per line, http_stream_protobuf length-delimited Replies, sse one event per reply.
 */
function encodeStreamMessages(kind: 'http_stream' | 'http_stream_protobuf' | 'sse', messages: readonly string[]): Buffer {
  if (kind === 'http_stream_protobuf') return encodeProtoReplies(messages);
  let text = '';
  if (kind === 'sse') for (const m of messages) text += 'data: ' + m + '\n\n';
  else for (const m of messages) text += m + '\n';
  return Buffer.from(text);
}

/** writeAll writes buffers as one write: a corked run goes out in one writev. */
export function writeAll(w: { write(b: Buffer): unknown; cork(): void; uncork(): void }, bufs: readonly Buffer[]): void {
  const [only] = bufs;
  if (bufs.length === 1 && only !== undefined) {
    w.write(only);
    return;
  }
  w.cork();
  for (const b of bufs) w.write(b);
  w.uncork();
}

/** Transport is one client connection's way out. */
export interface Transport {
  readonly kind: TransportKind;
  /** unidirectional transports get pushes unwrapped and never send commands. */
  readonly unidirectional: boolean;
  /**
   * emulation is set on the bidirectional HTTP transports (http_stream, sse), whose commands
   * come through POST /emulation: the connect reply names the session and node to send them
   * with; no pongs are asked for, and a disconnect is told as a push before the stream ends.
   */
  readonly emulation?: { session: string; node: string };
  /** writeText writes protocol messages (replies or pushes already wrapped for bidi); one call = one frame/batch. */
  writeText(messages: readonly string[]): void;
  /**
   * writeItems writes the first n queued items in order, as one write (one
   * syscall where the socket takes it at once): the per-connection coalescing
   * point. Items are not kept after the call.
   */
  writeItems(items: readonly OutItem[], n: number): void;
  /** writeShared writes pre-encoded bytes of this transport's kind (shared by many connections) as one write. */
  writeShared(bytes: Buffer): void;
  /** bufferedBytes counts bytes accepted but not yet handed to the kernel. */
  bufferedBytes(): number;
  /** close ends the connection with a disconnect code and reason. */
  close(d: Disconnect): void;
}
