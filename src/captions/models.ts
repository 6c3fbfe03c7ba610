/**
 * whisper.cpp ggml model files: the checksum table, download with verification, and the
 * lookup that turns a missing model into an error naming the command that fetches it.
 */
import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

/** ModelInfo is one published ggml model; sha1 is the checksum whisper.cpp publishes for it. */
export interface ModelInfo {
  name: string;
  file: string;
  sha1: string;
  bytes?: number;
}

const model = (name: string, sha1: string, bytes?: number): ModelInfo => ({ name, file: `ggml-${name}.bin`, sha1, ...(bytes ? { bytes } : {}) });

/** WHISPER_MODELS lists the models `onair captions model download NAME` knows. */
export const WHISPER_MODELS: Record<string, ModelInfo> = Object.fromEntries(
  [
    model('tiny', 'bd577a113a864445d4c299885e0cb97d4ba92b5f', 77_691_713),
    model('tiny.en', 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df', 77_704_715),
    model('tiny-q5_1', '2827a03e495b1ed3048ef28a6a4620537db4ee51', 32_152_673),
    model('tiny-q8_0', '19e8118f6652a650569f5a949d962154e01571d9', 43_537_433),
    model('base', '465707469ff3a37a2b9b8d8f89f2f99de7299dac', 147_951_465),
    model('base.en', '137c40403d78fd54d454da0f9bd998f78703390c', 147_964_211),
    model('small', '55356645c2b361a969dfd0ef2c5a50d530afd8d5', 487_601_967),
    model('small.en', 'db8a495a91d927739e50b3fc1cc4c6b8f6c2d022'),
    model('medium', 'fd9727b6e1217c2f614f9b698455c4ffd82463b4'),
    model('medium.en', '8c30f0e44ce9560643ebd10bbe50cd20eafd3723'),
  ].map((m) => [m.name, m]),
);

/** DEFAULT_MODEL_BASE_URL is the public host of whisper.cpp's converted models. */
export const DEFAULT_MODEL_BASE_URL = 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main';
/** "ggml" read as a little-endian uint32, the first four bytes of every model file. */
export const GGML_FILE_MAGIC = 0x67676d6c;
/** whisper.cpp's hparams block: 11 int32 after the magic. */
const HPARAMS_BYTES = 11 * 4;

export class ModelError extends Error {
  constructor(message: string, readonly code: 'missing' | 'invalid' | 'checksum' | 'unknown' | 'download') {
    super(message);
    this.name = 'ModelError';
  }
}

export function modelsDir(dataDir: string): string {
  return join(resolve(dataDir), 'models');
}

/** downloadCommand is the exact command a user runs to fetch a model. */
export function downloadCommand(name: string): string {
  return `onair captions model download ${name}`;
}

/** WhisperHparams is the header of a ggml whisper model. */
export interface WhisperHparams {
  nVocab: number;
  nAudioCtx: number;
  nAudioState: number;
  nAudioHead: number;
  nAudioLayer: number;
  nTextCtx: number;
  nTextState: number;
  nTextHead: number;
  nTextLayer: number;
  nMels: number;
  ftype: number;
}

/** readModelHeader checks the ggml magic and reads the hyper-parameters; throws ModelError('invalid'). */
export function readModelHeader(path: string): WhisperHparams {
  const buf = Buffer.alloc(4 + HPARAMS_BYTES);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < buf.length || buf.readUInt32LE(0) !== GGML_FILE_MAGIC) throw new ModelError(`${path} is not a whisper.cpp ggml model (bad magic)`, 'invalid');
  const v = (i: number) => buf.readInt32LE(4 + i * 4);
  const h: WhisperHparams = {
    nVocab: v(0), nAudioCtx: v(1), nAudioState: v(2), nAudioHead: v(3), nAudioLayer: v(4),
    nTextCtx: v(5), nTextState: v(6), nTextHead: v(7), nTextLayer: v(8), nMels: v(9), ftype: v(10),
  };
  const sane = h.nVocab > 0 && h.nVocab < 1_000_000 && h.nAudioLayer > 0 && h.nAudioLayer <= 64 && h.nTextLayer > 0 && h.nTextLayer <= 64
    && (h.nMels === 80 || h.nMels === 128) && h.nAudioState % h.nAudioHead === 0;
  if (!sane) throw new ModelError(`${path} has implausible whisper hyper-parameters ${JSON.stringify(h)}`, 'invalid');
  return h;
}

/** ggml tensor types whisper files use: [bytes per block, elements per block]. */
const GGML_TYPE_SIZES: Record<number, [number, number]> = {
  0: [4, 1], // F32
  1: [2, 1], // F16
  2: [18, 32], // Q4_0
  3: [20, 32], // Q4_1
  6: [22, 32], // Q5_0
  7: [24, 32], // Q5_1
  8: [34, 32], // Q8_0
};
/** Tensors per whisper model: encoder 7 + 15 per layer, decoder 4 + 24 per layer. */
const ENCODER_FIXED_TENSORS = 7;
const ENCODER_LAYER_TENSORS = 15;
const DECODER_FIXED_TENSORS = 4;
const DECODER_LAYER_TENSORS = 24;

/**
 * validateModelFile walks the whole file's structure (header, mel filters, vocabulary,
 * every tensor header and size) without reading the weights, so a truncated or corrupt
 * file is refused here: whisper.cpp's binding crashes the process on some of them.
 */
export function validateModelFile(path: string): WhisperHparams {
  const h = readModelHeader(path);
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  const scratch = Buffer.alloc(64);
  let pos = 4 + HPARAMS_BYTES;
  const bad = (why: string): never => {
    throw new ModelError(`${path} is not a complete whisper model: ${why}`, 'invalid');
  };
  const i32 = (): number => {
    if (pos + 4 > size) bad(`ends at byte ${pos}`);
    readSync(fd, scratch, 0, 4, pos);
    pos += 4;
    return scratch.readInt32LE(0);
  };
  try {
    const nMel = i32();
    const nFft = i32();
    if (nMel <= 0 || nFft <= 0 || nMel > 1024 || nFft > 4096) bad('bad mel filter size');
    pos += nMel * nFft * 4;
    const nVocab = i32();
    if (nVocab < 0 || nVocab > 1_000_000) bad('bad vocabulary size');
    for (let i = 0; i < nVocab; i++) {
      const len = i32();
      if (len < 0 || len > 1024) bad(`bad token length at ${pos}`);
      pos += len;
    }
    let tensors = 0;
    while (pos < size) {
      const nDims = i32();
      const nameLen = i32();
      const type = i32();
      if (nDims < 1 || nDims > 4 || nameLen <= 0 || nameLen > 256) bad(`bad tensor header at ${pos - 12}`);
      let n = 1;
      for (let d = 0; d < nDims; d++) n *= i32();
      const ts = GGML_TYPE_SIZES[type] ?? bad(`unknown tensor type ${type}`);
      pos += nameLen + (n / ts[1]) * ts[0];
      if (pos > size) bad(`tensor ${tensors} runs past the end of the file`);
      tensors++;
    }
    const expected = ENCODER_FIXED_TENSORS + ENCODER_LAYER_TENSORS * h.nAudioLayer + DECODER_FIXED_TENSORS + DECODER_LAYER_TENSORS * h.nTextLayer;
    if (tensors !== expected) bad(`${tensors} tensors, expected ${expected}`);
  } finally {
    closeSync(fd);
  }
  return h;
}

/**
 * resolveModel finds the model file for `nameOrPath` (a table name stored under
 * ${dataDir}/models, or a path) and validates its header. A missing model throws an
 * error that names the download command.
 */
export function resolveModel(dataDir: string, nameOrPath: string): { path: string; hparams: WhisperHparams } {
  const looksLikePath = isAbsolute(nameOrPath) || nameOrPath.includes('/') || nameOrPath.endsWith('.bin');
  const path = looksLikePath ? resolve(nameOrPath) : join(modelsDir(dataDir), WHISPER_MODELS[nameOrPath]?.file ?? `ggml-${nameOrPath}.bin`);
  if (!existsSync(path)) {
    throw new ModelError(
      looksLikePath
        ? `whisper model file ${path} does not exist`
        : `whisper model "${nameOrPath}" is not installed (looked for ${path}); run \`${downloadCommand(nameOrPath)}\``,
      'missing',
    );
  }
  return { path, hparams: validateModelFile(path) };
}

export interface InstalledModel {
  name: string;
  path: string;
  installed: boolean;
  bytes?: number;
}

/** listModels shows every known model and whether it is installed. */
export function listModels(dataDir: string): InstalledModel[] {
  return Object.values(WHISPER_MODELS).map((m) => {
    const path = join(modelsDir(dataDir), m.file);
    const installed = existsSync(path);
    return { name: m.name, path, installed, ...(installed ? { bytes: statSync(path).size } : m.bytes ? { bytes: m.bytes } : {}) };
  });
}

export interface DownloadOptions {
  dataDir: string;
  baseUrl?: string;
  /** Overrides the table (tests serve a fake file with a matching checksum). */
  models?: Record<string, ModelInfo>;
  onProgress?(received: number, total: number | undefined): void;
  fetchFn?: typeof fetch;
}

/**
 * downloadModel fetches a model into ${dataDir}/models, hashing while it streams; the file
 * only gets its final name once the SHA-1 matches the table. Returns the file's path.
 */
export async function downloadModel(name: string, opts: DownloadOptions): Promise<string> {
  const table = opts.models ?? WHISPER_MODELS;
  const info = table[name];
  if (!info) throw new ModelError(`unknown whisper model "${name}"; known: ${Object.keys(table).join(', ')}`, 'unknown');
  const dir = modelsDir(opts.dataDir);
  mkdirSync(dir, { recursive: true });
  const dest = join(dir, info.file);
  const part = `${dest}.part`;
  const url = `${(opts.baseUrl ?? DEFAULT_MODEL_BASE_URL).replace(/\/+$/, '')}/${info.file}`;
  const res = await (opts.fetchFn ?? fetch)(url, { redirect: 'follow' }).catch((err: unknown) => {
    throw new ModelError(`cannot reach ${url}: ${(err as Error).message}`, 'download');
  });
  if (!res.ok || !res.body) throw new ModelError(`download of ${url} failed: HTTP ${res.status}`, 'download');
  const total = Number(res.headers.get('content-length')) || undefined;
  const hash = createHash('sha1');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      received += chunk.length;
      opts.onProgress?.(received, total);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as never), meter, createWriteStream(part));
  } catch (err) {
    rmSync(part, { force: true });
    throw new ModelError(`download of ${url} broke off after ${received} bytes: ${(err as Error).message}`, 'download');
  }
  const sha1 = hash.digest('hex');
  if (sha1 !== info.sha1) {
    rmSync(part, { force: true });
    throw new ModelError(`checksum mismatch for ${info.file}: got sha1 ${sha1}, expected ${info.sha1}; the file was discarded`, 'checksum');
  }
  renameSync(part, dest);
  return dest;
}
