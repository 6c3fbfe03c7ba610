/**
 * Viewer: one byte-stream output (HTTP-FLV, WebSocket-FLV, RTMP player) attached to a
 * live stream. The hub hands it shared batches; the viewer frames nothing itself on the
 * hot path, it only picks the transport's memoised Buffer and writes it.
 */
import type { Batch, OutTag } from './batch.js';

/** `edge`: another media node pulling the channel (counted apart: it is not a viewer). */
export type ViewerProtocol = 'flv' | 'wsflv' | 'rtmp' | 'edge';

export interface StartInfo {
  /** Codec headers and metadata, as FLV tags (metadata first). */
  headers: OutTag[];
  /** Cached GOP tags (already flushed), starting at a keyframe; may be empty. */
  gop: OutTag[];
  hasAudio: boolean;
  hasVideo: boolean;
}

/** Viewer is what a transport implements to be fed by the hub. */
export interface Viewer {
  readonly protocol: ViewerProtocol;
  /** Bytes accepted but not yet handed to the kernel. */
  queuedBytes(): number;
  /** start writes the stream header, codec headers and the cached GOP (one burst); returns bytes written. */
  start(info: StartInfo): number;
  /** write sends one flush worth of tags (the Batch memoises the framing per transport); returns bytes written. */
  write(batch: Batch): number;
  /** end closes the output cleanly (stream over) or abruptly (slow, error). */
  end(reason: string, clean: boolean): void;
  /** Set by the transport: called once when the peer goes away. */
  onClose?: () => void;
}

/** ViewerState is the hub's book-keeping for one attached viewer. */
export interface ViewerState {
  viewer: Viewer;
  /** Waiting for a random access point (joined mid-GOP, or skipped for being slow). */
  waitingKey: boolean;
  /** When the viewer started skipping for being slow (0: not skipping). */
  slowSince: number;
  connectedAt: number;
  closed: boolean;
}
