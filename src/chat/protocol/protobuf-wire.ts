/**
 * Protocol Buffers wire primitives (varints, tags, length-delimited fields), enough for the
 * Centrifugo client protocol. Pure: bytes in, values out; every read is bounds-checked and a
 * bad input throws CodecError (the connection closes with 3501), never a RangeError.
 */
import { CodecError } from './codec.js';

/** WireType holds the protobuf wire types (encoding spec, "Message Structure"). */
export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

/** MAX_VARINT_BYTES is the longest varint (a 64-bit value, 7 bits per byte). */
const MAX_VARINT_BYTES = 10;
const UINT64_MAX = (1n << 64n) - 1n;

/** ProtoWriter appends protobuf fields to a growing buffer. */
export class ProtoWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 64) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** varint writes a non-negative integer up to 2^53 as a base-128 varint. */
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint: ${v} is not a non-negative safe integer`);
    this.ensure(MAX_VARINT_BYTES);
    let x = v;
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
    return this;
  }

  /** tag writes a field key: (field number << 3) | wire type. */
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** bytes writes a length prefix and the bytes. */
  bytes(b: Uint8Array): this {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** finish returns the written bytes (a view of the internal buffer). */
  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** varintSize is the number of bytes v takes as a varint. */
export function varintSize(v: number): number {
  let n = 1;
  let x = v;
  while (x >= 0x80) {
    x = Math.floor(x / 0x80);
    n++;
  }
  return n;
}

/** ProtoReader reads fields from a buffer; every method throws CodecError past the end. */
export class ProtoReader {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** varint reads a varint of up to 64 bits as a bigint. */
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) throw new CodecError('truncated varint');
      const b = this.buf[this.pos++] ?? 0;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (result > UINT64_MAX) throw new CodecError('varint overflows 64 bits');
        return result;
      }
      shift += 7n;
    }
    throw new CodecError('varint longer than 10 bytes');
  }

  /** smallVarint reads a varint that must fit a safe integer (lengths, tags, offsets). */
  smallVarint(): number {
    // Fast path for the common one- to four-byte varints.
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      if (this.pos >= this.end) throw new CodecError('truncated varint');
      const b = this.buf[this.pos++] ?? 0;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    this.pos -= 4;
    const v = this.varint();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError('varint too large');
    return Number(v);
  }

  /** lengthDelimited reads a length prefix and returns [start, end) of the payload. */
  lengthDelimited(): [number, number] {
    const n = this.smallVarint();
    if (n > this.end - this.pos) throw new CodecError('length past the end of the message');
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  /** skip passes over a field's value of the given wire type (unknown fields are ignored, as protobuf does). */
  skip(wire: number): void {
    switch (wire) {
      case WireType.varint:
        this.varint();
        return;
      case WireType.fixed64:
        this.advance(8);
        return;
      case WireType.lengthDelimited:
        this.lengthDelimited();
        return;
      case WireType.fixed32:
        this.advance(4);
        return;
      default:
        throw new CodecError(`unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new CodecError('truncated field');
    this.pos += n;
  }
}

/** uint64ToNumber turns a decoded uint64 into a number, refusing values past 2^53. */
export function uint64ToNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError('integer too large');
  return Number(v);
}

/** int32FromVarint reads a varint as int32 (negative int32 values are sign-extended to 64 bits on the wire). */
export function int32FromVarint(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/** int64FromVarint reads a varint as int64, refusing values outside the safe integer range. */
export function int64FromVarint(v: bigint): number {
  const s = BigInt.asIntN(64, v);
  if (s > BigInt(Number.MAX_SAFE_INTEGER) || s < BigInt(Number.MIN_SAFE_INTEGER)) throw new CodecError('integer too large');
  return Number(s);
}

/** uint32FromVarint reads a varint as uint32 (protobuf truncates wider values to 32 bits). */
export function uint32FromVarint(v: bigint): number {
  return Number(v & 0xffffffffn);
}

/**
 * DelimitedSplitter cuts a byte stream of length-delimited messages (varint length, then the
 * message) into messages, whatever the split of its input: a uni_http_stream protobuf body
 * arrives in chunks that may end inside a varint or a message. A length over maxMessageBytes or
 * a varint longer than 10 bytes throws CodecError (the stream is not protobuf or not ours).
 */
export class DelimitedSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes: number) {}

  /** push takes the next chunk and returns the messages it completes (views of an internal buffer). */
  push(chunk: Uint8Array): Buffer[] {
    const buf = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const head = readLength(buf, pos);
      if (head === null) break;
      const [len, start] = head;
      if (len > this.maxMessageBytes) throw new CodecError(`message of ${len} bytes is over ${this.maxMessageBytes}`);
      if (buf.length - start < len) break;
      out.push(buf.subarray(start, start + len));
      pos = start + len;
    }
    this.pending = buf.subarray(pos);
    return out;
  }

  /** buffered counts bytes held for an incomplete message (non-zero at the end of a stream: it was cut). */
  get buffered(): number {
    return this.pending.length;
  }
}

/** readLength reads the varint at pos: [value, position after it], or null if the input ends inside it. */
function readLength(buf: Buffer, pos: number): [number, number] | null {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const b = buf[pos + i];
    if (b === undefined) return null;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (!Number.isSafeInteger(value)) throw new CodecError('length varint too large');
      return [value, pos + i + 1];
    }
    mul *= 0x80;
  }
  throw new CodecError('varint longer than 10 bytes');
}
