/**
 * /vod-files/{id}/{file}: HEAD and byte ranges (RFC 9110 §14) on a real listening app:
 * Content-Length and Accept-Ranges on 200, 206 with Content-Range for each range form,
 * 416 with `bytes *\/size` for unsatisfiable ranges, the header ignored when it is invalid or
 * asks for several ranges, and nothing served outside a ready recording's folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildHttpApp } from '../../../../src/http/app.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { vodRoutes } from '../../../../src/media/record/routes.js';
import { RecordingStore } from '../../../../src/media/record/vods.js';
import { JobQueue } from '../../../../src/platform/jobs/queue.js';
import '../../../../src/platform/jobs/schema.js';
import type { ApiContext } from '../../../../src/http/routes/context.js';
import { engines } from '../../../../testkit/db.js';

test('VOD files: HEAD, 200/206/416 and the headers that go with them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-vodfiles-'));
  const { db, dispose } = await engines()[0]!.open();
  t.after(async () => { await dispose(); rmSync(dir, { recursive: true, force: true }); });
  const root = join(dir, 'recordings');
  const store = new RecordingStore(db);
  const queue = new JobQueue(db, { maxAttempts: 1, backoff: { baseMs: 100, maxMs: 100 }, leaseMs: 5000 });
  // 1000 bytes whose value at offset i is i % 251, so any slice can be checked.
  const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  mkdirSync(join(root, 'cam', 'r1'), { recursive: true });
  writeFileSync(join(root, 'cam', 'r1', 'source.mp4'), body);
  writeFileSync(join(root, 'cam', 'r1', 'poster.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
  writeFileSync(join(root, 'cam', 'r1', 'captions-en.vtt'), 'WEBVTT\n');
  writeFileSync(join(root, 'cam', 'r1', '720p.part.mp4'), body);
  writeFileSync(join(root, 'cam', 'r1', 'notes.txt'), 'secret');
  writeFileSync(join(root, 'cam', 'r1', 'empty.mp4'), Buffer.alloc(0));
  const base = { channel_id: null, channel_name: 'cam', node_id: 'n1', part: 0, started_at: 1, width: 640, height: 360, video_codec: 'avc', audio_codec: 'aac' };
  await store.create({ ...base, id: 'r1', dir: 'cam/r1' });
  await store.update('r1', { state: 'ready' });
  await store.create({ ...base, id: 'live', dir: 'cam/r1' }); // still recording: not served

  const { app } = buildHttpApp({ logger: silentLogger(), bodyLimitBytes: 1 << 20 });
  vodRoutes(app, { api: {} as ApiContext, store, queue, recordingsRoot: root });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const url = (f: string, id = 'r1') => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/vod-files/${id}/${f}`;
  const get = async (range?: string, method = 'GET', f = 'source.mp4') => {
    const r = await fetch(url(f), { method, headers: range ? { range } : {} });
    return { status: r.status, h: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
  };

  // Whole file: GET and HEAD agree on every header; HEAD has no body.
  const full = await get();
  assert.equal(full.status, 200);
  assert.equal(full.h.get('content-length'), '1000');
  assert.equal(full.h.get('accept-ranges'), 'bytes');
  assert.equal(full.h.get('content-type'), 'video/mp4');
  assert.ok(full.bytes.equals(body));
  const head = await get(undefined, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.h.get('content-length'), '1000');
  assert.equal(head.h.get('accept-ranges'), 'bytes');
  assert.equal(head.h.get('content-type'), 'video/mp4');
  assert.equal(head.bytes.length, 0);

  // Every range form gives 206, Content-Range and the exact bytes.
  for (const [range, start, end] of [['bytes=0-0', 0, 0], ['bytes=4-11', 4, 11], ['bytes=990-', 990, 999], ['bytes=-5', 995, 999], ['bytes=500-99999', 500, 999], ['bytes=-5000', 0, 999], ['bytes= 7 - 9 ', 7, 9]] as const) {
    const r = await get(range);
    assert.equal(r.status, 206, range);
    assert.equal(r.h.get('content-range'), `bytes ${start}-${end}/1000`, range);
    assert.equal(r.h.get('content-length'), String(end - start + 1), range);
    assert.equal(r.h.get('accept-ranges'), 'bytes');
    assert.ok(r.bytes.equals(body.subarray(start, end + 1)), range);
  }
  // HEAD with a range: the headers of the 206, no body.
  const headRange = await get('bytes=100-199', 'HEAD');
  assert.equal(headRange.status, 206);
  assert.equal(headRange.h.get('content-range'), 'bytes 100-199/1000');
  assert.equal(headRange.h.get('content-length'), '100');
  assert.equal(headRange.bytes.length, 0);

  // Unsatisfiable: 416 with the size.
  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
    const r = await get(range);
    assert.equal(r.status, 416, range);
    assert.equal(r.h.get('content-range'), 'bytes */1000', range);
    assert.equal(r.bytes.length, 0);
  }
  const emptyRange = await get('bytes=0-', 'GET', 'empty.mp4');
  assert.equal(emptyRange.status, 416, 'no byte of an empty file can be served');
  assert.equal(emptyRange.h.get('content-range'), 'bytes */0');

  // Invalid or multi-range headers are ignored: the whole file.
  for (const range of ['bytes=9-3', 'bytes=0-1,4-5', 'items=0-1', 'bytes=abc']) {
    const r = await get(range);
    assert.equal(r.status, 200, range);
    assert.equal(r.h.get('content-length'), '1000', range);
  }

  // Other served types.
  const jpg = await get(undefined, 'GET', 'poster.jpg');
  assert.equal(jpg.h.get('content-type'), 'image/jpeg');
  const vtt = await get('bytes=0-5', 'GET', 'captions-en.vtt');
  assert.equal(vtt.status, 206);
  assert.equal(vtt.bytes.toString(), 'WEBVTT');
  assert.match(vtt.h.get('content-type')!, /^text\/vtt/);

  // Not served: temporary outputs, other extensions, escapes, missing files, recordings in progress.
  for (const f of ['720p.part.mp4', 'notes.txt', '..%2Fr1%2Fsource.mp4', 'missing.mp4']) assert.equal((await get(undefined, 'GET', f)).status, 404, f);
  assert.equal((await fetch(url('source.mp4', 'live'))).status, 404);
  assert.equal((await fetch(url('source.mp4', 'nope'), { method: 'HEAD' })).status, 404);
});
