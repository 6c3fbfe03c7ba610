/**
 * The shape every chat transport implements (WebSocket, uni WebSocket, SSE,
 * HTTP streaming), and the shared batch that carries pre-encoded pushes.
 */
import { wrapPush, wsFrame } from '../protocol/codec.js';
import type { Disconnect } from '../protocol/codes.js';

export type TransportKind = 'websocket' | 'uni_websocket' | 'uni_sse' | 'uni_http_stream';
const KIND_COUNT = 4;
const KIND_INDEX: Record<TransportKind, number> = { websocket: 0, uni_websocket: 1, uni_sse: 2, uni_http_stream: 3 };

/**
 * SharedBatch is a run of pushes (unwrapped Push JSON) for many connections,
 * encoded once per transport kind on first use and the same bytes written to
 * every connection of that kind.
 */
export class SharedBatch {
  readonly pushes: readonly string[];
  private readonly cache: (Buffer | undefined)[] = new Array(KIND_COUNT);

  constructor(pushes: readonly string[]) {
    this.pushes = pushes;
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
      for (let i = 0; i < pushes.length; i++) text += (i > 0 ? '\n' : '') + wrapPush(pushes[i]!);
      return wsFrame(Buffer.from(text));
    }
    case 'uni_websocket':
      // Unidirectional WebSocket: one message per push, frames concatenated in one write.
      return Buffer.concat(pushes.map((p) => wsFrame(Buffer.from(p))));
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
  }
}

/** Transport is one client connection's way out. */
export interface Transport {
  readonly kind: TransportKind;
  /** unidirectional transports get pushes unwrapped and never send commands. */
  readonly unidirectional: boolean;
  /** writeText writes protocol messages (replies or pushes already wrapped for bidi); one call = one frame/batch. */
  writeText(messages: readonly string[]): void;
  /** writeShared writes a shared batch of pushes. */
  writeShared(batch: SharedBatch): void;
  /** bufferedBytes counts bytes accepted but not yet handed to the kernel. */
  bufferedBytes(): number;
  /** close ends the connection with a disconnect code and reason. */
  close(d: Disconnect): void;
}
