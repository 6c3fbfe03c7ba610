/**
 * Fossil delta format (the delta encoding of the Fossil SCM, which Centrifugo's `delta: "fossil"`
 * subscriptions use). Pure: bytes in, bytes out.
 *
 * A delta is text: the target's length, '\n', then commands, each an integer and an operator —
 *   `N@O,`  copy N bytes of the source from offset O
 *   `N:` + N bytes  insert N literal bytes
 *   `C;`    end, C the checksum of the target
 * Integers are written in Fossil's base-64 digits, most significant first.
 *
 * The encoder finds copies by hashing the source in MATCH_BLOCK-byte blocks and looking every
 * target position up; copies start and end on UTF-8 character boundaries of the target, so the
 * inserted literals, and the whole delta, are valid UTF-8 when the target is (the JSON protocol
 * carries a delta as a JSON string).
 */

/** DIGITS are Fossil's base-64 digits, value = index. */
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~';
const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < DIGITS.length; i++) DIGIT_VALUE[DIGITS.charCodeAt(i)] = i;

/** MATCH_BLOCK is the block size of the source index and the shortest copy worth a command. */
const MATCH_BLOCK = 16;
/** MAX_CANDIDATES bounds the source blocks tried per target position (repetitive sources). */
const MAX_CANDIDATES = 8;
const OP_COPY = 0x40; // '@'
const OP_INSERT = 0x3a; // ':'
const OP_END = 0x3b; // ';'
const COPY_END = 0x2c; // ','
const NEWLINE = 0x0a;
/** MAX_TARGET_BYTES bounds the target a delta may announce (chat payloads are far smaller). */
const MAX_TARGET_BYTES = 16 * 1024 * 1024;

/** FossilError means a delta is malformed or does not apply to the source. */
export class FossilError extends Error {}

function putInt(out: number[], v: number): void {
  if (v === 0) {
    out.push(DIGITS.charCodeAt(0));
    return;
  }
  const digits: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 64)) digits.push(DIGITS.charCodeAt(x % 64));
  for (let i = digits.length - 1; i >= 0; i--) out.push(digits[i] ?? 0);
}

/** fossilChecksum is the target checksum of the format: big-endian 32-bit words summed, the tail left-aligned. */
export function fossilChecksum(b: Uint8Array): number {
  let sum = 0;
  const whole = b.length - (b.length % 4);
  for (let i = 0; i < whole; i += 4) sum = (sum + (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0))) | 0;
  let tail = 0;
  for (let i = whole, shift = 24; i < b.length; i++, shift -= 8) tail |= (b[i] ?? 0) << shift;
  return ((sum + tail) | 0) >>> 0;
}

/** blockHash hashes b[at, at + MATCH_BLOCK) (FNV-1a). */
function blockHash(b: Uint8Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = at; i < at + MATCH_BLOCK; i++) h = Math.imul(h ^ (b[i] ?? 0), 0x01000193);
  return h >>> 0;
}

/** isContinuation tells a UTF-8 continuation byte (10xxxxxx), which no character starts with. */
function isContinuation(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

function putInsert(out: number[], target: Uint8Array, from: number, to: number): void {
  if (to <= from) return;
  putInt(out, to - from);
  out.push(OP_INSERT);
  for (let i = from; i < to; i++) out.push(target[i] ?? 0);
}

/** fossilDelta encodes target as a delta against source. */
export function fossilDelta(source: Uint8Array, target: Uint8Array): Buffer {
  const out: number[] = [];
  putInt(out, target.length);
  out.push(NEWLINE);
  const index = new Map<number, number[]>();
  for (let s = 0; s + MATCH_BLOCK <= source.length; s += MATCH_BLOCK) {
    const h = blockHash(source, s);
    const list = index.get(h);
    if (list === undefined) index.set(h, [s]);
    else if (list.length < MAX_CANDIDATES) list.push(s);
  }
  let literalFrom = 0;
  let t = 0;
  while (t + MATCH_BLOCK <= target.length) {
    const candidates = index.get(blockHash(target, t));
    let best = { len: 0, t: 0, s: 0 };
    for (const s0 of candidates ?? []) {
      // Extend the block match backwards (not past the pending literal) and forwards.
      let back = 0;
      while (t - back > literalFrom && s0 - back > 0 && source[s0 - back - 1] === target[t - back - 1]) back++;
      let fwd = 0;
      while (s0 + fwd < source.length && t + fwd < target.length && source[s0 + fwd] === target[t + fwd]) fwd++;
      if (fwd < MATCH_BLOCK) continue; // a hash collision
      if (back + fwd > best.len) best = { len: back + fwd, t: t - back, s: s0 - back };
    }
    if (best.len === 0) {
      t++;
      continue;
    }
    // Copies start and end on character boundaries of the target.
    let start = best.t;
    let end = best.t + best.len;
    while (start < end && isContinuation(target[start])) start++;
    while (end > start && isContinuation(target[end])) end--;
    if (end - start < MATCH_BLOCK) {
      t++;
      continue;
    }
    putInsert(out, target, literalFrom, start);
    putInt(out, end - start);
    out.push(OP_COPY);
    putInt(out, best.s + (start - best.t));
    out.push(COPY_END);
    literalFrom = end;
    t = end;
  }
  putInsert(out, target, literalFrom, target.length);
  putInt(out, fossilChecksum(target));
  out.push(OP_END);
  return Buffer.from(out);
}

/** DeltaReader reads the integers and operators of a delta. */
class DeltaReader {
  pos = 0;
  constructor(readonly d: Uint8Array) {}

  int(): number {
    let v = 0;
    let digits = 0;
    while (this.pos < this.d.length) {
      const c = DIGIT_VALUE[(this.d[this.pos] ?? 0) & 0x7f] ?? -1;
      if (c < 0 || (this.d[this.pos] ?? 0) > 0x7f) break;
      v = v * 64 + c;
      this.pos++;
      if (++digits > 8) throw new FossilError('integer too long');
    }
    if (digits === 0) throw new FossilError('integer expected');
    return v;
  }

  op(): number {
    if (this.pos >= this.d.length) throw new FossilError('operator expected');
    return this.d[this.pos++] ?? 0;
  }
}

/** applyFossilDelta rebuilds the target from source and delta, or throws FossilError. */
export function applyFossilDelta(source: Uint8Array, delta: Uint8Array): Buffer {
  const r = new DeltaReader(delta);
  const size = r.int();
  if (r.op() !== NEWLINE) throw new FossilError("size not terminated by '\\n'");
  if (size > MAX_TARGET_BYTES) throw new FossilError('target too large');
  const out = Buffer.allocUnsafe(size);
  let n = 0;
  while (r.pos < delta.length) {
    const cnt = r.int();
    switch (r.op()) {
      case OP_COPY: {
        const ofst = r.int();
        if (r.op() !== COPY_END) throw new FossilError("copy not terminated by ','");
        if (n + cnt > size) throw new FossilError('copy past the target size');
        if (ofst + cnt > source.length) throw new FossilError('copy past the end of the source');
        out.set(source.subarray(ofst, ofst + cnt), n);
        n += cnt;
        break;
      }
      case OP_INSERT:
        if (n + cnt > size) throw new FossilError('insert past the target size');
        if (r.pos + cnt > delta.length) throw new FossilError('insert past the end of the delta');
        out.set(delta.subarray(r.pos, r.pos + cnt), n);
        n += cnt;
        r.pos += cnt;
        break;
      case OP_END:
        if (n !== size) throw new FossilError('target size does not match');
        if (cnt !== fossilChecksum(out)) throw new FossilError('bad checksum');
        return out;
      default:
        throw new FossilError('unknown operator');
    }
  }
  throw new FossilError('unterminated delta');
}
