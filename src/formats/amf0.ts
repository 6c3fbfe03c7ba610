/**
 * AMF0 (Action Message Format 0) encoder and decoder, as used by RTMP commands and
 * FLV script tags. Pure: buffers in, values out. Decode errors are thrown as Amf0Error.
 *
 * Value mapping:
 *   number ↔ Number (0x00), boolean ↔ Boolean (0x01), string ↔ String (0x02) or
 *   Long String (0x0C) when longer than 65535 bytes, plain object ↔ Object (0x03),
 *   null ↔ Null (0x05), undefined ↔ Undefined (0x06), ecmaArray(obj) ↔ ECMA Array (0x08),
 *   Array ↔ Strict Array (0x0A), Date ↔ Date (0x0B), Amf0TypedObject ↔ Typed Object (0x10),
 *   Amf0Xml ↔ XML Document (0x0F). References (0x07) decode to the referenced object.
 */

export const AMF0_NUMBER = 0x00;
export const AMF0_BOOLEAN = 0x01;
export const AMF0_STRING = 0x02;
export const AMF0_OBJECT = 0x03;
export const AMF0_MOVIECLIP = 0x04;
export const AMF0_NULL = 0x05;
export const AMF0_UNDEFINED = 0x06;
export const AMF0_REFERENCE = 0x07;
export const AMF0_ECMA_ARRAY = 0x08;
export const AMF0_OBJECT_END = 0x09;
export const AMF0_STRICT_ARRAY = 0x0a;
export const AMF0_DATE = 0x0b;
export const AMF0_LONG_STRING = 0x0c;
export const AMF0_UNSUPPORTED = 0x0d;
export const AMF0_RECORDSET = 0x0e;
export const AMF0_XML_DOCUMENT = 0x0f;
export const AMF0_TYPED_OBJECT = 0x10;
export const AMF0_AVMPLUS = 0x11;

/** Nesting deeper than this is refused, so hostile input cannot exhaust the stack. */
export const AMF0_MAX_DEPTH = 64;
const SHORT_STRING_MAX = 0xffff;

/** Amf0Error is the only error the decoder throws. */
export class Amf0Error extends Error {
  constructor(message: string, readonly offset: number) {
    super(`amf0: ${message} at offset ${offset}`);
    this.name = 'Amf0Error';
  }
}

const ECMA = Symbol.for('onair.amf0.ecma');

/** Amf0Xml wraps an XML document string so it round-trips as type 0x0F. */
export class Amf0Xml {
  constructor(readonly xml: string) {}
}

/** Amf0TypedObject is an object with an ActionScript class name (type 0x10). */
export class Amf0TypedObject {
  constructor(readonly className: string, readonly properties: Amf0Object) {}
}

export type Amf0Object = { [key: string]: Amf0Value };
export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Amf0Xml
  | Amf0TypedObject
  | Amf0Value[]
  | Amf0Object;

/** ecmaArray marks an object to be encoded as an ECMA array (what onMetaData uses). */
export function ecmaArray<T extends Amf0Object>(obj: T): T {
  Object.defineProperty(obj, ECMA, { value: true, enumerable: false });
  return obj;
}

/** isEcmaArray tells whether a decoded object came from an ECMA array. */
export function isEcmaArray(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[ECMA] === true;
}

// ---------------------------------------------------------------- encoding

class Writer {
  private chunks: Buffer[] = [];
  u8(v: number): void {
    const b = Buffer.allocUnsafe(1);
    b[0] = v;
    this.chunks.push(b);
  }
  raw(b: Buffer): void {
    this.chunks.push(b);
  }
  done(): Buffer {
    const only = this.chunks.length === 1 ? this.chunks[0] : undefined;
    return only ?? Buffer.concat(this.chunks);
  }
}

function utf8Key(w: Writer, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > SHORT_STRING_MAX) throw new RangeError('amf0: property name longer than 65535 bytes');
  const h = Buffer.allocUnsafe(2);
  h.writeUInt16BE(b.length, 0);
  w.raw(h);
  w.raw(b);
}

function writeProperties(w: Writer, obj: Amf0Object): void {
  for (const [k, v] of Object.entries(obj)) {
    utf8Key(w, k);
    writeValue(w, v);
  }
  w.raw(OBJECT_END_MARKER);
}

const OBJECT_END_MARKER = Buffer.from([0x00, 0x00, AMF0_OBJECT_END]);

function writeValue(w: Writer, v: Amf0Value): void {
  if (typeof v === 'number') {
    const b = Buffer.allocUnsafe(9);
    b[0] = AMF0_NUMBER;
    b.writeDoubleBE(v, 1);
    w.raw(b);
  } else if (typeof v === 'boolean') {
    w.raw(Buffer.from([AMF0_BOOLEAN, v ? 1 : 0]));
  } else if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    if (s.length > SHORT_STRING_MAX) {
      const h = Buffer.allocUnsafe(5);
      h[0] = AMF0_LONG_STRING;
      h.writeUInt32BE(s.length, 1);
      w.raw(h);
    } else {
      const h = Buffer.allocUnsafe(3);
      h[0] = AMF0_STRING;
      h.writeUInt16BE(s.length, 1);
      w.raw(h);
    }
    w.raw(s);
  } else if (v === null) {
    w.u8(AMF0_NULL);
  } else if (v === undefined) {
    w.u8(AMF0_UNDEFINED);
  } else if (v instanceof Date) {
    const b = Buffer.alloc(11);
    b[0] = AMF0_DATE;
    b.writeDoubleBE(v.getTime(), 1);
    // bytes 9..10: time zone, reserved and written as 0
    w.raw(b);
  } else if (v instanceof Amf0Xml) {
    const s = Buffer.from(v.xml, 'utf8');
    const h = Buffer.allocUnsafe(5);
    h[0] = AMF0_XML_DOCUMENT;
    h.writeUInt32BE(s.length, 1);
    w.raw(h);
    w.raw(s);
  } else if (v instanceof Amf0TypedObject) {
    w.u8(AMF0_TYPED_OBJECT);
    utf8Key(w, v.className);
    writeProperties(w, v.properties);
  } else if (Array.isArray(v)) {
    const h = Buffer.allocUnsafe(5);
    h[0] = AMF0_STRICT_ARRAY;
    h.writeUInt32BE(v.length, 1);
    w.raw(h);
    for (const item of v) writeValue(w, item);
  } else if (isEcmaArray(v)) {
    const h = Buffer.allocUnsafe(5);
    h[0] = AMF0_ECMA_ARRAY;
    h.writeUInt32BE(Object.keys(v).length, 1);
    w.raw(h);
    writeProperties(w, v);
  } else {
    w.u8(AMF0_OBJECT);
    writeProperties(w, v);
  }
}

/** encodeAmf0 serialises values one after another (a command is name, id, args...). */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const w = new Writer();
  for (const v of values) writeValue(w, v);
  return w.done();
}

// ---------------------------------------------------------------- decoding

class Reader {
  pos: number;
  refs: Amf0Value[] = [];
  constructor(readonly buf: Buffer, start: number) {
    this.pos = start;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Amf0Error(`truncated input (need ${n} bytes)`, this.pos);
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  utf8(len: number): string {
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

function readProperties(r: Reader, target: Amf0Object, depth: number, maxCount: number): void {
  let count = 0;
  for (;;) {
    if (r.pos + 3 <= r.buf.length && r.buf[r.pos] === 0 && r.buf[r.pos + 1] === 0 && r.buf[r.pos + 2] === AMF0_OBJECT_END) {
      r.pos += 3;
      return;
    }
    // Some encoders end an ECMA array after its declared count without the end marker.
    if (count >= maxCount && r.pos >= r.buf.length) return;
    const key = r.utf8(r.u16());
    if (key === '' ) {
      // An empty key must be followed by the object-end marker.
      const t = r.u8();
      if (t === AMF0_OBJECT_END) return;
      throw new Amf0Error('empty property name without object end', r.pos - 1);
    }
    const value = readValue(r, depth + 1);
    // Own-property define so "__proto__" cannot change the prototype.
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
    count++;
  }
}

function readValue(r: Reader, depth: number): Amf0Value {
  if (depth > AMF0_MAX_DEPTH) throw new Amf0Error('nesting too deep', r.pos);
  const at = r.pos;
  const type = r.u8();
  switch (type) {
    case AMF0_NUMBER:
      return r.f64();
    case AMF0_BOOLEAN:
      return r.u8() !== 0;
    case AMF0_STRING:
      return r.utf8(r.u16());
    case AMF0_LONG_STRING:
      return r.utf8(r.u32());
    case AMF0_XML_DOCUMENT:
      return new Amf0Xml(r.utf8(r.u32()));
    case AMF0_NULL:
      return null;
    case AMF0_UNDEFINED:
    case AMF0_UNSUPPORTED:
      return undefined;
    case AMF0_OBJECT: {
      const obj: Amf0Object = {};
      r.refs.push(obj);
      readProperties(r, obj, depth, Infinity);
      return obj;
    }
    case AMF0_ECMA_ARRAY: {
      const declared = r.u32();
      const obj = ecmaArray({});
      r.refs.push(obj);
      readProperties(r, obj, depth, declared);
      return obj;
    }
    case AMF0_TYPED_OBJECT: {
      const className = r.utf8(r.u16());
      const props: Amf0Object = {};
      const obj = new Amf0TypedObject(className, props);
      r.refs.push(obj);
      readProperties(r, props, depth, Infinity);
      return obj;
    }
    case AMF0_STRICT_ARRAY: {
      const n = r.u32();
      // Every element takes at least one byte, so a count beyond the input is a lie.
      if (n > r.buf.length - r.pos) throw new Amf0Error(`strict array count ${n} exceeds input`, at);
      const arr: Amf0Value[] = [];
      r.refs.push(arr);
      for (let i = 0; i < n; i++) arr.push(readValue(r, depth + 1));
      return arr;
    }
    case AMF0_DATE: {
      const ms = r.f64();
      r.u16(); // time zone: reserved, should be 0
      return new Date(ms);
    }
    case AMF0_REFERENCE: {
      const idx = r.u16();
      const ref = r.refs[idx];
      if (ref === undefined) throw new Amf0Error(`bad reference ${idx}`, at);
      return ref;
    }
    case AMF0_OBJECT_END:
      throw new Amf0Error('unexpected object end', at);
    case AMF0_MOVIECLIP:
    case AMF0_RECORDSET:
      throw new Amf0Error(`reserved type 0x${type.toString(16)}`, at);
    case AMF0_AVMPLUS:
      throw new Amf0Error('AMF3 values are not supported', at);
    default:
      throw new Amf0Error(`unknown type 0x${type.toString(16)}`, at);
  }
}

/** decodeAmf0 reads every value in buf (from start) and returns them in order. */
export function decodeAmf0(buf: Buffer, start = 0): Amf0Value[] {
  const r = new Reader(buf, start);
  const out: Amf0Value[] = [];
  while (r.pos < buf.length) out.push(readValue(r, 0));
  return out;
}

/** decodeAmf0One reads one value at offset and tells where it ended. */
export function decodeAmf0One(buf: Buffer, offset = 0): { value: Amf0Value; end: number } {
  const r = new Reader(buf, offset);
  const value = readValue(r, 0);
  return { value, end: r.pos };
}
