/** seededRandom is a small seeded PRNG (mulberry32) so fuzz failures are reproducible from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** randomBytes is n bytes from a seeded generator. */
export function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
  return b;
}

/**
 * mutate flips, overwrites, inserts, deletes or truncates a few places of a copy of `src`.
 * `specials` are the byte values worth writing for the format at hand (markers, delimiters).
 */
export function mutate(rnd: () => number, src: Buffer, specials: readonly number[] = [0x00, 0xff, 0x7f, 0x80]): Buffer {
  let b = Buffer.from(src);
  const edits = 1 + ((rnd() * 8) | 0);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = (rnd() * b.length) | 0;
    const op = (rnd() * 5) | 0;
    if (op === 0) b[at]! ^= 1 << ((rnd() * 8) | 0);
    else if (op === 1) b[at] = specials[(rnd() * specials.length) | 0]!;
    else if (op === 2) b = Buffer.concat([b.subarray(0, at), randomBytes(rnd, 1 + ((rnd() * 16) | 0)), b.subarray(at)]);
    else if (op === 3) b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + ((rnd() * 64) | 0)))]);
    else b = b.subarray(0, at);
  }
  return b;
}
