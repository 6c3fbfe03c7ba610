/**
 * OutTag and Batch: the unit the hub fans out. A tag is encoded once per output format
 * (FLV tag, RTMP chunks), lazily; a batch (the tags of one flush) is framed once per transport
 * (chunked HTTP body, raw FLV bytes, RTMP chunks) and the same Buffer goes to every viewer.
 */
import { FLV_TAG_AUDIO, FLV_TAG_VIDEO, FLV_TAG_HEADER_SIZE, FLV_PREV_TAG_SIZE, encodeFlvTag } from '../../formats/flv.js';
import { flvTagOf } from '../flv/frame-tags.js';
import { encodeChunks, CSID_AUDIO, CSID_VIDEO, CSID_DATA, RTMP_MSG_AUDIO, RTMP_MSG_VIDEO, RTMP_MSG_DATA_AMF0 } from '../../formats/rtmp-chunk.js';
import type { MediaFrame } from './types.js';

/** Message stream id we give every RTMP player (createStream answers 1), so chunks can be shared. */
export const SHARED_RTMP_STREAM_ID = 1;

/**
 * OutTag is one entry of the hub's fan-out: a frame, a codec header or the metadata. Its FLV
 * tag is encoded on first use (a frame's through flvTagOf, so every consumer shares it) and its
 * RTMP chunks at most once per chunk size.
 */
export class OutTag {
  private flvTag?: Buffer;
  /** RTMP chunks for the shared stream id and chunk size, built on first use. */
  rtmp?: Buffer;
  rtmpChunkSize?: number;

  constructor(
    /** Position in the stream, increasing by one per tag. */
    readonly seq: number,
    /** FLV tag type: audio, video or script. */
    readonly type: number,
    /** Random access point: a video keyframe, or any audio frame of an audio-only stream. */
    readonly keyframe: boolean,
    /** A codec header or metadata tag rather than a frame. */
    readonly header: boolean,
    readonly dts: number,
    /** The frame, or the tag body of a header or metadata tag. */
    private readonly source: MediaFrame | Buffer,
  ) {}

  /** frame is the codec frame this tag carries (none for headers and metadata). */
  get frame(): MediaFrame | undefined {
    return Buffer.isBuffer(this.source) ? undefined : this.source;
  }

  /**
   * retimed is this tag at another decode time (a continued timeline, continuation.ts): the same
   * position, kind and body; a frame is copied with its presentation time moved alike.
   */
  retimed(dts: number): OutTag {
    const src = this.source;
    const moved = Buffer.isBuffer(src) ? src : { ...src, dts, pts: src.pts + dts - src.dts };
    return new OutTag(this.seq, this.type, this.keyframe, this.header, dts, moved);
  }

  /** flv is the complete FLV tag with its PreviousTagSize, encoded once. */
  get flv(): Buffer {
    if (!this.flvTag) this.flvTag = Buffer.isBuffer(this.source) ? encodeFlvTag(this.type, this.dts, this.source) : flvTagOf(this.source);
    return this.flvTag;
  }
}

/** tagBody is the FLV tag body (the RTMP message payload), a view into the tag. */
export function tagBody(t: OutTag): Buffer {
  return t.flv.subarray(FLV_TAG_HEADER_SIZE, t.flv.length - FLV_PREV_TAG_SIZE);
}

function csidFor(type: number): number {
  return type === FLV_TAG_VIDEO ? CSID_VIDEO : type === FLV_TAG_AUDIO ? CSID_AUDIO : CSID_DATA;
}

function rtmpTypeFor(type: number): number {
  return type === FLV_TAG_VIDEO ? RTMP_MSG_VIDEO : type === FLV_TAG_AUDIO ? RTMP_MSG_AUDIO : RTMP_MSG_DATA_AMF0;
}

/** rtmpChunksFor returns the tag as RTMP chunks, encoded at most once per chunk size. */
export function rtmpChunksFor(t: OutTag, chunkSize: number, streamId = SHARED_RTMP_STREAM_ID, timestamp = t.dts): Buffer {
  if (streamId !== SHARED_RTMP_STREAM_ID || timestamp !== t.dts) {
    return encodeChunks(csidFor(t.type), rtmpTypeFor(t.type), streamId, timestamp, tagBody(t), chunkSize);
  }
  if (t.rtmp && t.rtmpChunkSize === chunkSize) return t.rtmp;
  const b = encodeChunks(csidFor(t.type), rtmpTypeFor(t.type), streamId, timestamp, tagBody(t), chunkSize);
  t.rtmp = b;
  t.rtmpChunkSize = chunkSize;
  return b;
}

const CRLF = Buffer.from('\r\n');

/** chunkedFraming wraps bytes as one HTTP/1.1 chunk: size-in-hex CRLF data CRLF. */
export function chunkedHead(len: number): Buffer {
  return Buffer.from(len.toString(16) + '\r\n', 'latin1');
}
export { CRLF };

/** Batch holds the tags of one flush and memoises each transport's framing of them. */
export class Batch {
  private flvRawBuf?: Buffer;
  private flvChunkedBuf?: Buffer;
  private rtmpBuf?: Buffer;
  private rtmpSize = 0;
  /** Index of the first random access point, -1 if none. */
  readonly firstKey: number;

  constructor(readonly tags: OutTag[]) {
    this.firstKey = tags.findIndex((t) => t.keyframe);
  }

  get frameCount(): number {
    let n = 0;
    for (const t of this.tags) if (!t.header) n++;
    return n;
  }

  /** flvRaw is the concatenated FLV tags (for WebSocket-FLV messages). */
  flvRaw(): Buffer {
    if (!this.flvRawBuf) {
      const [only] = this.tags;
      this.flvRawBuf = this.tags.length === 1 && only ? only.flv : Buffer.concat(this.tags.map((t) => t.flv));
    }
    return this.flvRawBuf;
  }

  /** flvChunked is one HTTP chunk holding every tag: the bytes an HTTP-FLV viewer gets. */
  flvChunked(): Buffer {
    if (!this.flvChunkedBuf) {
      let len = 0;
      for (const t of this.tags) len += t.flv.length;
      const head = chunkedHead(len);
      const out = Buffer.allocUnsafe(head.length + len + 2);
      let o = head.copy(out, 0);
      for (const t of this.tags) o += t.flv.copy(out, o);
      CRLF.copy(out, o);
      this.flvChunkedBuf = out;
    }
    return this.flvChunkedBuf;
  }

  /** rtmp is every tag as RTMP chunks for the shared stream id. */
  rtmp(chunkSize: number): Buffer {
    if (!this.rtmpBuf || this.rtmpSize !== chunkSize) {
      const parts = this.tags.map((t) => rtmpChunksFor(t, chunkSize));
      const [only] = parts;
      this.rtmpBuf = parts.length === 1 && only ? only : Buffer.concat(parts);
      this.rtmpSize = chunkSize;
    }
    return this.rtmpBuf;
  }

  /** from gives the batch starting at index i (a viewer resuming at a keyframe), keeping earlier codec headers. */
  from(i: number): Batch {
    return i <= 0 ? this : new Batch(this.tags.filter((t, j) => j >= i || t.header));
  }
}
