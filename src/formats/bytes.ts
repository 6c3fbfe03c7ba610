/** Big-endian field writers shared by the MP4 box writers (fMP4 fragments, progressive files). */

export function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}
export function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v & 0xffff, 0);
  return b;
}
export function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}
export function i32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(v | 0, 0);
  return b;
}
/** u64 writes a non-negative integer; a negative one throws (a caller bug, not data to hide). */
export function u64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(Math.trunc(v)), 0);
  return b;
}
export function i64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(BigInt(Math.trunc(v)), 0);
  return b;
}
export function u32s(values: number[]): Buffer {
  const b = Buffer.allocUnsafe(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}
