import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadModel, listModels, ModelError, modelsDir, readModelHeader, resolveModel, WHISPER_MODELS, type ModelInfo } from '../../../src/captions/models.js';

/** A tiny "model": valid ggml magic and tiny-model hparams, then filler. */
function fakeModelBytes(): Buffer {
  const b = Buffer.alloc(4 + 11 * 4 + 1000, 7);
  b.writeUInt32LE(0x67676d6c, 0);
  [51865, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1].forEach((v, i) => b.writeInt32LE(v, 4 + i * 4));
  return b;
}

async function withServer(body: Buffer, fn: (baseUrl: string, hits: string[]) => Promise<void>): Promise<void> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/models/ggml-fake.bin' || req.url === '/models/ggml-bad.bin') {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}/models`, hits);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('models: the table has a SHA-1 for every model', () => {
  for (const m of Object.values(WHISPER_MODELS)) {
    assert.match(m.sha1, /^[0-9a-f]{40}$/, m.name);
    assert.equal(m.file, `ggml-${m.name}.bin`);
  }
  assert.ok(WHISPER_MODELS.tiny && WHISPER_MODELS.base && WHISPER_MODELS.small);
});

test('models: download verifies the checksum, stores under dataDir/models, and resolves', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-models-'));
  const body = fakeModelBytes();
  const table: Record<string, ModelInfo> = {
    fake: { name: 'fake', file: 'ggml-fake.bin', sha1: createHash('sha1').update(body).digest('hex') },
    bad: { name: 'bad', file: 'ggml-bad.bin', sha1: '0'.repeat(40) },
    gone: { name: 'gone', file: 'ggml-gone.bin', sha1: '1'.repeat(40) },
  };
  try {
    await withServer(body, async (baseUrl, hits) => {
      let progress = 0;
      const path = await downloadModel('fake', { dataDir, baseUrl, models: table, onProgress: (n) => (progress = n) });
      assert.equal(path, join(modelsDir(dataDir), 'ggml-fake.bin'));
      assert.ok(readFileSync(path).equals(body));
      assert.equal(progress, body.length);
      assert.deepEqual(hits, ['/models/ggml-fake.bin']);
      assert.equal(readModelHeader(path).nAudioLayer, 4);
      assert.throws(() => resolveModel(dataDir, path), (e: ModelError) => e.code === 'invalid' && /not a complete whisper model/.test(e.message), 'header alone is not enough');

      await assert.rejects(downloadModel('bad', { dataDir, baseUrl, models: table }), (e: ModelError) => e.code === 'checksum' && /checksum mismatch/.test(e.message));
      assert.ok(!existsSync(join(modelsDir(dataDir), 'ggml-bad.bin')), 'a bad download is not kept');
      assert.deepEqual(readdirSync(modelsDir(dataDir)), ['ggml-fake.bin'], 'no .part left behind');
      await assert.rejects(downloadModel('gone', { dataDir, baseUrl, models: table }), (e: ModelError) => e.code === 'download' && /HTTP 404/.test(e.message));
      await assert.rejects(downloadModel('nope', { dataDir, baseUrl, models: table }), (e: ModelError) => e.code === 'unknown');
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('models: a missing model names the download command; a bad file is refused', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-models-'));
  try {
    assert.throws(() => resolveModel(dataDir, 'base'), (e: ModelError) => e.code === 'missing' && e.message.includes('onair captions model download base'));
    mkdirSync(modelsDir(dataDir), { recursive: true });
    writeFileSync(join(modelsDir(dataDir), 'ggml-base.bin'), 'not a model at all, just some text here to fill the header');
    assert.throws(() => resolveModel(dataDir, 'base'), (e: ModelError) => e.code === 'invalid');
    const models = listModels(dataDir);
    assert.equal(models.find((m) => m.name === 'base')?.installed, true);
    assert.equal(models.find((m) => m.name === 'tiny')?.installed, false);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
