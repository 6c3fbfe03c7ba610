/**
 * writeRandomWhisperModel writes a whisper.cpp ggml model file with the real tiny model's
 * hyper-parameters and tensor shapes but random weights. It transcribes nonsense, yet it
 * loads and runs exactly like ggml-tiny.bin (same compute per window), so it exercises
 * the binding, the worker thread and the timing code without real weights.
 *
 *   file = magic "ggml" | hparams (11 × int32) | mel filters (n_mel, n_fft, floats)
 *        | vocab (n, then len + bytes each) | tensors (n_dims, name_len, type, ne[], name, data)*
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const GGML_MAGIC = 0x67676d6c;
const TYPE_F32 = 0;
const TYPE_F16 = 1;

export const TINY = {
  nVocab: 51865, nAudioCtx: 1500, nAudioState: 384, nAudioHead: 6, nAudioLayer: 4,
  nTextCtx: 448, nTextState: 384, nTextHead: 6, nTextLayer: 4, nMels: 80, ftype: TYPE_F16,
};
const N_FFT = 201;
const SPACE_TOKEN = 220;

/** f16 bit pattern of a small float (enough precision for random weights). */
function toF16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = (u >>> 13) & 0x3ff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | mant;
}

/** Deterministic pseudo-random numbers (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

interface TensorSpec {
  name: string;
  ne: number[];
  type: number;
  /** 'norm' weights are 1, biases 0, others small random values. */
  init: 'rand' | 'one' | 'zero';
}

function tensorSpecs(h: typeof TINY): TensorSpec[] {
  const s: TensorSpec[] = [];
  const wt = h.ftype === TYPE_F16 ? TYPE_F16 : TYPE_F32;
  const add = (name: string, ne: number[], type: number, init: TensorSpec['init'] = 'rand') => s.push({ name, ne, type, init });
  const a = h.nAudioState;
  const t = h.nTextState;
  add('encoder.positional_embedding', [a, h.nAudioCtx], TYPE_F32);
  add('encoder.conv1.weight', [3, h.nMels, a], wt);
  add('encoder.conv1.bias', [1, a], TYPE_F32, 'zero');
  add('encoder.conv2.weight', [3, a, a], wt);
  add('encoder.conv2.bias', [1, a], TYPE_F32, 'zero');
  add('encoder.ln_post.weight', [a], TYPE_F32, 'one');
  add('encoder.ln_post.bias', [a], TYPE_F32, 'zero');
  for (let i = 0; i < h.nAudioLayer; i++) {
    const p = `encoder.blocks.${i}.`;
    add(p + 'mlp_ln.weight', [a], TYPE_F32, 'one');
    add(p + 'mlp_ln.bias', [a], TYPE_F32, 'zero');
    add(p + 'mlp.0.weight', [a, 4 * a], wt);
    add(p + 'mlp.0.bias', [4 * a], TYPE_F32, 'zero');
    add(p + 'mlp.2.weight', [4 * a, a], wt);
    add(p + 'mlp.2.bias', [a], TYPE_F32, 'zero');
    add(p + 'attn_ln.weight', [a], TYPE_F32, 'one');
    add(p + 'attn_ln.bias', [a], TYPE_F32, 'zero');
    add(p + 'attn.query.weight', [a, a], wt);
    add(p + 'attn.query.bias', [a], TYPE_F32, 'zero');
    add(p + 'attn.key.weight', [a, a], wt);
    add(p + 'attn.value.weight', [a, a], wt);
    add(p + 'attn.value.bias', [a], TYPE_F32, 'zero');
    add(p + 'attn.out.weight', [a, a], wt);
    add(p + 'attn.out.bias', [a], TYPE_F32, 'zero');
  }
  add('decoder.positional_embedding', [t, h.nTextCtx], TYPE_F32);
  add('decoder.token_embedding.weight', [t, h.nVocab], wt);
  add('decoder.ln.weight', [t], TYPE_F32, 'one');
  add('decoder.ln.bias', [t], TYPE_F32, 'zero');
  for (let i = 0; i < h.nTextLayer; i++) {
    const p = `decoder.blocks.${i}.`;
    add(p + 'mlp_ln.weight', [t], TYPE_F32, 'one');
    add(p + 'mlp_ln.bias', [t], TYPE_F32, 'zero');
    add(p + 'mlp.0.weight', [t, 4 * t], wt);
    add(p + 'mlp.0.bias', [4 * t], TYPE_F32, 'zero');
    add(p + 'mlp.2.weight', [4 * t, t], wt);
    add(p + 'mlp.2.bias', [t], TYPE_F32, 'zero');
    add(p + 'attn_ln.weight', [t], TYPE_F32, 'one');
    add(p + 'attn_ln.bias', [t], TYPE_F32, 'zero');
    add(p + 'attn.query.weight', [t, t], wt);
    add(p + 'attn.query.bias', [t], TYPE_F32, 'zero');
    add(p + 'attn.key.weight', [t, t], wt);
    add(p + 'attn.value.weight', [t, t], wt);
    add(p + 'attn.value.bias', [t], TYPE_F32, 'zero');
    add(p + 'attn.out.weight', [t, t], wt);
    add(p + 'attn.out.bias', [t], TYPE_F32, 'zero');
    add(p + 'cross_attn_ln.weight', [t], TYPE_F32, 'one');
    add(p + 'cross_attn_ln.bias', [t], TYPE_F32, 'zero');
    add(p + 'cross_attn.query.weight', [t, t], wt);
    add(p + 'cross_attn.query.bias', [t], TYPE_F32, 'zero');
    add(p + 'cross_attn.key.weight', [t, t], wt);
    add(p + 'cross_attn.value.weight', [t, t], wt);
    add(p + 'cross_attn.value.bias', [t], TYPE_F32, 'zero');
    add(p + 'cross_attn.out.weight', [t, t], wt);
    add(p + 'cross_attn.out.bias', [t], TYPE_F32, 'zero');
  }
  return s;
}

/** A block of random values reused (at shifting offsets) to fill big tensors quickly. */
const POOL = 1 << 16;

function tensorData(spec: TensorSpec, next: () => number, poolF32: Float32Array, poolF16: Uint16Array): Buffer {
  const n = spec.ne.reduce((x, y) => x * y, 1);
  const bytes = spec.type === TYPE_F16 ? 2 : 4;
  const buf = Buffer.alloc(n * bytes);
  if (spec.init === 'zero') return buf;
  if (spec.init === 'one') {
    for (let i = 0; i < n; i++) buf.writeFloatLE(1, i * 4);
    return buf;
  }
  const src = spec.type === TYPE_F16 ? Buffer.from(poolF16.buffer) : Buffer.from(poolF32.buffer);
  let off = Math.floor(next() * POOL) * bytes;
  for (let at = 0; at < buf.length;) {
    const k = src.copy(buf, at, off % src.length);
    at += k;
    off = 0;
  }
  return buf;
}

/** writeRandomWhisperModel writes the file and returns its size in bytes. */
export function writeRandomWhisperModel(path: string, seed = 1): number {
  const h = TINY;
  const next = rng(seed);
  const poolF32 = new Float32Array(POOL).map(() => (next() - 0.5) * 0.08);
  const poolF16 = new Uint16Array(POOL).map((_, i) => toF16(poolF32[i]!));
  const fd = openSync(path, 'w');
  let size = 0;
  const w = (b: Buffer) => {
    writeSync(fd, b);
    size += b.length;
  };
  const i32 = (...v: number[]) => {
    const b = Buffer.alloc(4 * v.length);
    v.forEach((x, i) => b.writeInt32LE(x, i * 4));
    return b;
  };
  try {
    w(i32(GGML_MAGIC | 0));
    w(i32(h.nVocab, h.nAudioCtx, h.nAudioState, h.nAudioHead, h.nAudioLayer, h.nTextCtx, h.nTextState, h.nTextHead, h.nTextLayer, h.nMels, h.ftype));
    // Mel filter bank: small positive weights.
    w(i32(h.nMels, N_FFT));
    const mel = Buffer.alloc(h.nMels * N_FFT * 4);
    for (let i = 0; i < h.nMels * N_FFT; i++) mel.writeFloatLE(next() * 0.01, i * 4);
    w(mel);
    // Vocabulary: the 50257 text tokens as Hangul syllables, bare or after a space; whisper.cpp
    // looks up the " " token by text (GPT-2 has it at 220) and adds the special tokens itself.
    const nText = 50257;
    w(i32(nText));
    const parts: Buffer[] = [];
    for (let i = 0; i < nText; i++) {
      const syllable = String.fromCharCode(0xac00 + (i % 11172));
      const text = i === SPACE_TOKEN ? ' ' : i < 11172 ? syllable : i < 2 * 11172 ? ' ' + syllable : `${syllable}${i}`;
      const tok = Buffer.from(text, 'utf8');
      parts.push(i32(tok.length), tok);
    }
    w(Buffer.concat(parts));
    for (const spec of tensorSpecs(h)) {
      const name = Buffer.from(spec.name);
      w(Buffer.concat([i32(spec.ne.length, name.length, spec.type, ...spec.ne), name]));
      w(tensorData(spec, next, poolF32, poolF16));
    }
  } finally {
    closeSync(fd);
  }
  return size;
}
