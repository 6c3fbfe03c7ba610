/**
 * FLV container: file header, tags, tag body headers for audio/video (legacy and
 * Enhanced RTMP / E-FLV with FourCC), and a push parser that accepts input split anywhere.
 * Pure: no I/O. Malformed input is reported as FlvError.
 *
 *   file   = header(9) prevTagSize0(4) { tag prevTagSize(4) }*
 *   header = 'F' 'L' 'V' version(1) flags(1: 0x04 audio | 0x01 video) dataOffset(4 = 9)
 *   tag    = type(1) dataSize(3) timestamp(3) timestampExt(1) streamId(3 = 0) data(dataSize)
 */

export const FLV_TAG_AUDIO = 8;
export const FLV_TAG_VIDEO = 9;
export const FLV_TAG_SCRIPT = 18;

export const FLV_HEADER_SIZE = 9;
export const FLV_TAG_HEADER_SIZE = 11;
export const FLV_PREV_TAG_SIZE = 4;
export const FLV_FLAG_AUDIO = 0x04;
export const FLV_FLAG_VIDEO = 0x01;

// Video tag, legacy header: frameType(4 bits) codecId(4 bits)
export const VIDEO_FRAME_KEY = 1;
export const VIDEO_FRAME_INTER = 2;
export const VIDEO_FRAME_DISPOSABLE = 3;
export const VIDEO_FRAME_GENERATED_KEY = 4;
export const VIDEO_FRAME_COMMAND = 5;
export const VIDEO_CODEC_AVC = 7;
/** Non-standard but widespread (Chinese CDN convention) legacy id for HEVC. */
export const VIDEO_CODEC_HEVC_LEGACY = 12;
export const AVC_PACKET_SEQUENCE_HEADER = 0;
export const AVC_PACKET_NALU = 1;
export const AVC_PACKET_END_OF_SEQUENCE = 2;

// Enhanced RTMP: bit 7 of the first byte set → isExHeader, low 4 bits = packet type, then FourCC.
export const VIDEO_EX_HEADER_FLAG = 0x80;
export const EX_PACKET_SEQUENCE_START = 0;
export const EX_PACKET_CODED_FRAMES = 1;
export const EX_PACKET_SEQUENCE_END = 2;
export const EX_PACKET_CODED_FRAMES_X = 3;
export const EX_PACKET_METADATA = 4;
export const EX_PACKET_MPEG2TS_SEQUENCE_START = 5;
export const FOURCC_HEVC = 'hvc1';
export const FOURCC_AV1 = 'av01';
export const FOURCC_VP9 = 'vp09';
export const FOURCC_AVC = 'avc1';

// Audio tag header: soundFormat(4) soundRate(2) soundSize(1) soundType(1)
export const AUDIO_FORMAT_MP3 = 2;
export const AUDIO_FORMAT_AAC = 10;
export const AUDIO_FORMAT_EX_HEADER = 9;
export const AAC_PACKET_SEQUENCE_HEADER = 0;
export const AAC_PACKET_RAW = 1;
/** First byte of every AAC audio tag: AAC, 44 kHz, 16 bit, stereo (the flags are ignored for AAC). */
export const AAC_AUDIO_TAG_FLAGS = (AUDIO_FORMAT_AAC << 4) | (3 << 2) | (1 << 1) | 1;

/** FlvError is the only error the FLV parsers throw. */
export class FlvError extends Error {
  constructor(message: string) {
    super(`flv: ${message}`);
    this.name = 'FlvError';
  }
}

export interface FlvTag {
  type: number;
  /** Milliseconds, 32 bits (timestamp + extension byte). */
  timestamp: number;
  data: Buffer;
}

/** encodeFlvHeader builds the 9-byte file header plus PreviousTagSize0. */
export function encodeFlvHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const b = Buffer.alloc(FLV_HEADER_SIZE + FLV_PREV_TAG_SIZE);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (hasAudio ? FLV_FLAG_AUDIO : 0) | (hasVideo ? FLV_FLAG_VIDEO : 0);
  b.writeUInt32BE(FLV_HEADER_SIZE, 5);
  return b;
}

/** encodeFlvTag builds one tag with its trailing PreviousTagSize, in a single buffer. */
export function encodeFlvTag(type: number, timestamp: number, data: Buffer): Buffer {
  const size = data.length;
  const b = Buffer.allocUnsafe(FLV_TAG_HEADER_SIZE + size + FLV_PREV_TAG_SIZE);
  writeTagHeader(b, 0, type, timestamp, size);
  data.copy(b, FLV_TAG_HEADER_SIZE);
  b.writeUInt32BE(FLV_TAG_HEADER_SIZE + size, FLV_TAG_HEADER_SIZE + size);
  return b;
}

/** encodeFlvTagFromParts builds a tag whose body is the concatenation of parts (one copy). */
export function encodeFlvTagFromParts(type: number, timestamp: number, parts: Buffer[], size: number): Buffer {
  const b = Buffer.allocUnsafe(FLV_TAG_HEADER_SIZE + size + FLV_PREV_TAG_SIZE);
  writeTagHeader(b, 0, type, timestamp, size);
  let o = FLV_TAG_HEADER_SIZE;
  for (const p of parts) o += p.copy(b, o);
  b.writeUInt32BE(FLV_TAG_HEADER_SIZE + size, FLV_TAG_HEADER_SIZE + size);
  return b;
}

function writeTagHeader(b: Buffer, o: number, type: number, timestamp: number, size: number): void {
  if (size > 0xffffff) throw new RangeError('flv: tag body larger than 16 MiB');
  const ts = timestamp >>> 0;
  b[o] = type;
  b.writeUIntBE(size, o + 1, 3);
  b.writeUIntBE(ts & 0xffffff, o + 4, 3);
  b[o + 7] = (ts >>> 24) & 0xff;
  b.writeUIntBE(0, o + 8, 3);
}

/** flvTagBody returns the body of an encoded tag (no copy). */
export function flvTagBody(tag: Buffer): Buffer {
  return tag.subarray(FLV_TAG_HEADER_SIZE, tag.length - FLV_PREV_TAG_SIZE);
}

// ---------------------------------------------------------------- tag bodies

export type VideoTagInfo =
  | {
      kind: 'legacy';
      frameType: number;
      codecId: number;
      /** For AVC/HEVC: 0 sequence header, 1 NALU, 2 end of sequence. */
      packetType: number;
      /** Composition time offset in ms (signed 24 bits). */
      cts: number;
      /** Offset of the codec payload inside the body. */
      payloadOffset: number;
    }
  | {
      kind: 'enhanced';
      frameType: number;
      fourCC: string;
      packetType: number;
      cts: number;
      payloadOffset: number;
    };

/** parseVideoTagHeader reads the legacy or enhanced video tag header. */
export function parseVideoTagHeader(body: Buffer): VideoTagInfo {
  if (body.length < 1) throw new FlvError('empty video tag');
  const b0 = body.readUInt8(0);
  if (b0 & VIDEO_EX_HEADER_FLAG) {
    const frameType = (b0 >> 4) & 0x07;
    const packetType = b0 & 0x0f;
    if (body.length < 5) throw new FlvError('enhanced video tag shorter than its FourCC');
    const fourCC = body.toString('latin1', 1, 5);
    let cts = 0;
    let payloadOffset = 5;
    if (packetType === EX_PACKET_CODED_FRAMES && (fourCC === FOURCC_HEVC || fourCC === FOURCC_AVC)) {
      if (body.length < 8) throw new FlvError('enhanced coded frames without composition time');
      cts = body.readIntBE(5, 3);
      payloadOffset = 8;
    }
    return { kind: 'enhanced', frameType, fourCC, packetType, cts, payloadOffset };
  }
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  if (codecId === VIDEO_CODEC_AVC || codecId === VIDEO_CODEC_HEVC_LEGACY) {
    if (body.length < 5) throw new FlvError('AVC video tag shorter than 5 bytes');
    return { kind: 'legacy', frameType, codecId, packetType: body.readUInt8(1), cts: body.readIntBE(2, 3), payloadOffset: 5 };
  }
  return { kind: 'legacy', frameType, codecId, packetType: AVC_PACKET_NALU, cts: 0, payloadOffset: 1 };
}

export interface AudioTagInfo {
  soundFormat: number;
  soundRate: number;
  soundSize: number;
  soundType: number;
  /** For AAC: 0 sequence header, 1 raw; -1 otherwise. */
  packetType: number;
  payloadOffset: number;
}

/** parseAudioTagHeader reads the audio tag header. */
export function parseAudioTagHeader(body: Buffer): AudioTagInfo {
  if (body.length < 1) throw new FlvError('empty audio tag');
  const b0 = body.readUInt8(0);
  const soundFormat = b0 >> 4;
  const info: AudioTagInfo = { soundFormat, soundRate: (b0 >> 2) & 3, soundSize: (b0 >> 1) & 1, soundType: b0 & 1, packetType: -1, payloadOffset: 1 };
  if (soundFormat === AUDIO_FORMAT_AAC) {
    if (body.length < 2) throw new FlvError('AAC audio tag shorter than 2 bytes');
    info.packetType = body.readUInt8(1);
    info.payloadOffset = 2;
  }
  return info;
}

/** avcVideoTagHead builds the 5 bytes before a legacy AVC payload: frame type, codec id, packet type, CTS. */
export function avcVideoTagHead(frameType: number, packetType: number, cts: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = (frameType << 4) | VIDEO_CODEC_AVC;
  b[1] = packetType;
  b.writeIntBE(cts, 2, 3);
  return b;
}

/**
 * exVideoTagHead builds the Enhanced RTMP bytes before a video payload: flag|frame type|packet
 * type, FourCC, and the 3-byte CTS that only CodedFrames of AVC/HEVC carry.
 */
export function exVideoTagHead(frameType: number, packetType: number, fourCC: string, cts = 0): Buffer {
  const withCts = packetType === EX_PACKET_CODED_FRAMES && (fourCC === FOURCC_HEVC || fourCC === FOURCC_AVC);
  const b = Buffer.allocUnsafe(withCts ? 8 : 5);
  b[0] = VIDEO_EX_HEADER_FLAG | (frameType << 4) | packetType;
  b.write(fourCC, 1, 4, 'latin1');
  if (withCts) b.writeIntBE(cts, 5, 3);
  return b;
}

/** MP3_AUDIO_TAG_FLAGS: MP3, 44 kHz, 16 bit, stereo (the first byte ffmpeg writes for 44.1 kHz stereo MP3). */
export const MP3_AUDIO_TAG_FLAGS = (AUDIO_FORMAT_MP3 << 4) | (3 << 2) | (1 << 1) | 1;

/** AAC_RAW_TAG_HEAD and AAC_SEQUENCE_TAG_HEAD are the 2 bytes before an AAC frame / AudioSpecificConfig. */
export const AAC_RAW_TAG_HEAD = Buffer.from([AAC_AUDIO_TAG_FLAGS, AAC_PACKET_RAW]);
export const AAC_SEQUENCE_TAG_HEAD = Buffer.from([AAC_AUDIO_TAG_FLAGS, AAC_PACKET_SEQUENCE_HEADER]);
export const MP3_TAG_HEAD = Buffer.from([MP3_AUDIO_TAG_FLAGS]);

// ---------------------------------------------------------------- push parser

/** Largest tag body we accept from a stream; larger sizes mean a corrupt or hostile input. */
export const FLV_MAX_TAG_SIZE = 16 * 1024 * 1024;

const enum ParseState {
  Header,
  PrevSize0,
  TagHeader,
  TagBody,
  PrevSize,
}

export interface FlvParserOptions {
  /** Expect the 9-byte file header first (true for files and HTTP-FLV). */
  expectHeader?: boolean;
  maxTagSize?: number;
}

/**
 * FlvParser is a push parser: feed it bytes in any split; it calls onTag for each
 * complete tag and onHeader for the file header. After an FlvError it stays failed.
 */
export class FlvParser {
  private state: ParseState;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private need: number;
  private tagType = 0;
  private tagTs = 0;
  private failed: FlvError | null = null;
  private readonly maxTagSize: number;

  constructor(
    private readonly handlers: {
      onHeader?(flags: { audio: boolean; video: boolean }): void;
      onTag(tag: FlvTag): void;
    },
    opts: FlvParserOptions = {},
  ) {
    const expectHeader = opts.expectHeader ?? true;
    this.state = expectHeader ? ParseState.Header : ParseState.TagHeader;
    this.need = expectHeader ? FLV_HEADER_SIZE : FLV_TAG_HEADER_SIZE;
    this.maxTagSize = opts.maxTagSize ?? FLV_MAX_TAG_SIZE;
  }

  /** push feeds bytes; throws FlvError on malformed input. */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    try {
      while (this.pendingLen >= this.need) {
        const data = this.take(this.need);
        this.step(data);
      }
    } catch (err) {
      this.failed = err instanceof FlvError ? err : new FlvError(String(err));
      throw this.failed;
    }
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.pending[0];
    if (first === undefined) throw new RangeError(`FLV parser: ${n} bytes asked with none buffered`);
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let o = 0;
      while (o < n) {
        const head = this.pending[0];
        if (head === undefined) throw new RangeError(`FLV parser: ${n} bytes asked with ${o} buffered`);
        const k = Math.min(head.length, n - o);
        head.copy(out, o, 0, k);
        o += k;
        if (k === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(k);
      }
    }
    this.pendingLen -= n;
    return out;
  }

  private step(data: Buffer): void {
    switch (this.state) {
      case ParseState.Header: {
        if (data[0] !== 0x46 || data[1] !== 0x4c || data[2] !== 0x56) throw new FlvError('missing FLV signature');
        const offset = data.readUInt32BE(5);
        if (offset < FLV_HEADER_SIZE || offset > 1024) throw new FlvError(`bad header data offset ${offset}`);
        this.handlers.onHeader?.({ audio: (data.readUInt8(4) & FLV_FLAG_AUDIO) !== 0, video: (data.readUInt8(4) & FLV_FLAG_VIDEO) !== 0 });
        // Skip any extra header bytes together with PreviousTagSize0.
        this.state = ParseState.PrevSize0;
        this.need = offset - FLV_HEADER_SIZE + FLV_PREV_TAG_SIZE;
        return;
      }
      case ParseState.PrevSize0:
      case ParseState.PrevSize:
        this.state = ParseState.TagHeader;
        this.need = FLV_TAG_HEADER_SIZE;
        return;
      case ParseState.TagHeader: {
        const type = data.readUInt8(0) & 0x1f; // upper bits: reserved + filter flag
        const size = data.readUIntBE(1, 3);
        if (size > this.maxTagSize) throw new FlvError(`tag size ${size} exceeds limit`);
        this.tagType = type;
        this.tagTs = (data.readUIntBE(4, 3) | (data.readUInt8(7) << 24)) >>> 0;
        if (size === 0) {
          this.emit(Buffer.alloc(0));
          return;
        }
        this.state = ParseState.TagBody;
        this.need = size;
        return;
      }
      case ParseState.TagBody:
        // Own copy when the body is a small view into a larger read buffer, so caches do not pin it.
        this.emit(data.buffer.byteLength > data.length * 2 ? Buffer.from(data) : data);
        return;
    }
  }

  private emit(body: Buffer): void {
    this.state = ParseState.PrevSize;
    this.need = FLV_PREV_TAG_SIZE;
    this.handlers.onTag({ type: this.tagType, timestamp: this.tagTs, data: body });
  }
}
