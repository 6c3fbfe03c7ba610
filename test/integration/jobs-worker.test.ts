/**
 * The job worker with real ffmpeg on a real database: progress advances monotonically to
 * done (720p transcode recipe), cancel kills ffmpeg, a bad input retries then fails with
 * ffmpeg's error kept, queued jobs survive a restart, and a restarted node re-queues and
 * finishes the job it was running when it died.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/platform/index.js';
import { migrateAll } from '../../src/features.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobQueue } from '../../src/platform/jobs/queue.js';
import { JobWorker } from '../../src/platform/jobs/worker.js';
import { RecordingStore, toVod } from '../../src/media/record/vods.js';
import { recordingJobHandlers } from '../../src/media/transcode/handlers.js';
import '../../src/platform/jobs/schema.js';
import { probe, processesWithArg, run, sleep, topLevelBoxes, waitFor } from '../../testkit/record.js';

const queueOpts = { maxAttempts: 2, backoff: { baseMs: 200, maxMs: 1000 }, leaseMs: 3000 };

async function setup(root: string, dbPath: string) {
  const db = await openDatabase(`sqlite:${dbPath}`);
  await migrateAll(db);
  const store = new RecordingStore(db);
  const queue = new JobQueue(db, queueOpts);
  return { db, store, queue };
}

function worker(db: Db, store: RecordingStore, root: string, nodeId: string, opts: { captions?: boolean } = {}) {
  const queue = new JobQueue(db, queueOpts);
  return new JobWorker({
    queue, nodeId, concurrency: 1, pollIntervalMs: 100, heartbeatMs: 200, logger: silentLogger(),
    handlers: recordingJobHandlers({ store, recordingsRoot: root, ffmpeg: 'ffmpeg', captions: opts.captions ? () => async () => 'WEBVTT\n' : () => undefined }),
  });
}

/** addRecording makes a ready recording whose source.mp4 is `seconds` of 960x540 by default (or raw bytes). */
async function addRecording(store: RecordingStore, root: string, name: string, seconds: number, raw?: Buffer, size = { width: 960, height: 540 }): Promise<string> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'source.mp4');
  if (raw) writeFileSync(src, raw);
  else {
    const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size.width}x${size.height}:rate=25`, '-f', 'lavfi', '-i', 'sine=sample_rate=44100',
      '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', src]);
    assert.equal(r.status, 0, r.stderr);
  }
  const id = `rec-${name}`;
  await store.create({ id, channel_id: null, channel_name: 'demo', node_id: 'media-1', dir: name, part: 0, started_at: Date.now(), width: size.width, height: size.height, video_codec: 'avc', audio_codec: 'aac' });
  await store.update(id, { state: 'ready', duration_ms: seconds * 1000 });
  return id;
}

test('job worker with ffmpeg on SQLite', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-jobs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'recordings');
  const dbPath = join(dir, 'onair.db');
  let { db, store, queue } = await setup(root, dbPath);
  t.after(() => db.close());

  await t.test('transcode-720p: progress advances monotonically, output is a faststart 720p H.264 + AAC rendition', async () => {
    const id = await addRecording(store, root, 'a', 12, undefined, { width: 1280, height: 800 });
    const job = await queue.enqueue({ type: 'transcode-720p', recordingId: id });
    const w = worker(db, store, root, 'node-1');
    await w.start();
    const seen: number[] = [];
    try {
      const final = await waitFor('job end', async () => {
        const j = (await queue.get(job.id))!;
        if (j.state === 'running') seen.push(j.progress);
        return j.state === 'done' || j.state === 'failed' ? j : undefined;
      }, 120_000, 100);
      assert.equal(final.state, 'done', final.error ?? '');
      assert.equal(final.progress, 1);
    } finally {
      await w.stop();
    }
    t.diagnostic(`distinct progress values: ${[...new Set(seen)].map((x) => x.toFixed(2)).join(" ")}`);
    assert.ok(new Set(seen).size >= 2, `several distinct progress values while running: ${seen}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `monotonic: ${seen}`);
    const rec = (await store.get(id))!;
    const r = JSON.parse(rec.renditions) as { name: string; file: string; width: number; height: number }[];
    assert.deepEqual(r.map((x) => [x.name, x.file, x.width, x.height]), [['720p', '720p.mp4', 1152, 720]]);
    const p = await probe(join(root, 'a', '720p.mp4'));
    assert.deepEqual(p.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264']);
    assert.ok(Math.abs(p.duration - 12) < 0.2);
  });

  await t.test('a 720p job on a 360p VOD, and an H.265 job on an H.265 VOD, end skipped with their reason and write no file', async () => {
    const id = await addRecording(store, root, 's', 2, undefined, { width: 640, height: 360 });
    const job = await queue.enqueue({ type: 'transcode-720p', recordingId: id });
    // Only the metadata says H.265 here: the handler decides before running ffmpeg.
    const hevcId = `rec-hevc-src`;
    await store.create({ id: hevcId, channel_id: null, channel_name: 'demo', node_id: 'media-1', dir: 's', part: 1, started_at: Date.now(), width: 640, height: 360, video_codec: 'hevc', audio_codec: 'aac' });
    await store.update(hevcId, { state: 'ready', duration_ms: 2000 });
    const hevcJob = await queue.enqueue({ type: 'transcode-hevc', recordingId: hevcId });
    const w = worker(db, store, root, 'node-1');
    await w.start();
    try {
      for (const [jid, reason] of [[job.id, /source is 360p, not taller than 720p/], [hevcJob.id, /already H\.265/]] as const) {
        const j = await waitFor('skipped', async () => { const x = (await queue.get(jid))!; return x.state === 'queued' || x.state === 'running' ? undefined : x; }, 30_000, 100);
        assert.equal(j.state, 'skipped', j.error ?? '');
        assert.match(String(j.result?.skipped), reason);
        assert.equal(j.attempts, 1, 'a skipped job is not retried');
        assert.equal(j.error, null);
      }
    } finally {
      await w.stop();
    }
    assert.deepEqual(readdirSync(join(root, 's')), ['source.mp4'], 'no rendition file, not even a partial one');
    assert.deepEqual(JSON.parse((await store.get(id))!.renditions), []);
  });

  await t.test('transcode-hevc: completes into an H.265 (hvc1) + AAC faststart rendition listed on the VOD', async () => {
    const id = await addRecording(store, root, 'h', 3);
    const job = await queue.enqueue({ type: 'transcode-hevc', recordingId: id });
    const w = worker(db, store, root, 'node-1');
    await w.start();
    try {
      const final = await waitFor('hevc job end', async () => {
        const j = (await queue.get(job.id))!;
        return j.state === 'done' || j.state === 'failed' ? j : undefined;
      }, 120_000, 100);
      assert.equal(final.state, 'done', final.error ?? '');
    } finally {
      await w.stop();
    }
    const out = join(root, 'h', 'hevc.mp4');
    const p = await probe(out);
    assert.deepEqual(p.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:hevc']);
    assert.equal(p.streams.find((s) => s.codec_type === 'video')!.height, 540);
    assert.ok(Math.abs(p.duration - 3) < 0.2, `duration ${p.duration}`);
    const tag = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_tag_string', '-of', 'csv=p=0', out]);
    assert.equal(tag.stdout.trim(), 'hvc1', 'tagged hvc1 so Safari/MSE play it');
    const boxes = topLevelBoxes(out);
    assert.ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), `faststart: ${boxes}`);
    const vod = toVod((await store.get(id))!);
    const hevc = vod.renditions.find((r) => r.name === 'hevc');
    assert.ok(hevc, JSON.stringify(vod.renditions));
    assert.deepEqual([hevc.file, hevc.videoCodec, hevc.width, hevc.height], ['hevc.mp4', 'hevc', 960, 540]);
    assert.equal(hevc.url, `/vod-files/${id}/hevc.mp4`);
  });

  await t.test('cancel stops ffmpeg (SIGTERM) and ends the job cancelled', async () => {
    const id = await addRecording(store, root, 'b', 60);
    const job = await queue.enqueue({ type: 'transcode-hevc', recordingId: id });
    const w = worker(db, store, root, 'node-1');
    await w.start();
    try {
      const out = join(root, 'b', 'hevc.mp4.part.mp4');
      await waitFor('ffmpeg running', async () => processesWithArg(out).length > 0, 30_000, 100);
      await waitFor('progress', async () => ((await queue.get(job.id))!.progress > 0), 60_000, 100);
      await queue.cancel(job.id);
      const j = await waitFor('cancelled', async () => { const x = (await queue.get(job.id))!; return x.state === 'cancelled' ? x : undefined; }, 30_000, 100);
      assert.ok(j.progress > 0 && j.progress < 1);
      await waitFor('ffmpeg gone', async () => processesWithArg(out).length === 0, 10_000, 100);
      // The worker lets go of the job once the child's exit has been handled (a moment after it is gone).
      await waitFor('worker idle', async () => w.runningJobs().length === 0, 5_000, 50);
    } finally {
      await w.stop();
    }
  });

  await t.test('a bad input retries with backoff, then fails keeping the ffmpeg error', async () => {
    const id = await addRecording(store, root, 'c', 5, Buffer.from('this is not an mp4 file at all'.repeat(20)));
    const job = await queue.enqueue({ type: 'transcode-hevc', recordingId: id });
    const w = worker(db, store, root, 'node-1');
    await w.start();
    try {
      const j = await waitFor('failed', async () => { const x = (await queue.get(job.id))!; return x.state === 'failed' ? x : undefined; }, 30_000, 100);
      assert.equal(j.attempts, 2);
      assert.match(j.error!, /ffmpeg failed \(exit \d+\).*Invalid data found when processing input/s);
    } finally {
      await w.stop();
    }
    // extract-captions without an engine fails at once, clearly, without retries.
    const cj = await queue.enqueue({ type: 'extract-captions', recordingId: id });
    const w2 = worker(db, store, root, 'node-1');
    await w2.start();
    try {
      const x = await waitFor('captions failed', async () => { const y = (await queue.get(cj.id))!; return y.state === 'failed' ? y : undefined; }, 10_000, 100);
      assert.equal(x.error, 'captions engine not available');
      assert.equal(x.attempts, 1);
    } finally {
      await w2.stop();
    }
  });

  await t.test('jobs survive a restart; a node that died mid-job re-queues and finishes it', async () => {
    const id = await addRecording(store, root, 'd', 4);
    const queued = await queue.enqueue({ type: 'thumbnails', recordingId: id });
    const interrupted = await queue.enqueue({ type: 'transcode-hevc', recordingId: id });
    // node-2 claims a job and "dies" (never heartbeats again); then the database is closed.
    const claimed = await queue.claim('node-2', ['transcode-hevc']);
    assert.equal(claimed?.id, interrupted.id);
    await db.close();
    ({ db, store, queue } = await setup(root, dbPath));
    assert.equal((await queue.get(queued.id))?.state, 'queued');
    assert.equal((await queue.get(interrupted.id))?.state, 'running');
    const w = worker(db, store, root, 'node-2'); // the same node restarts
    await w.start();
    try {
      for (const jid of [queued.id, interrupted.id]) {
        const j = await waitFor(`job ${jid}`, async () => { const x = (await queue.get(jid))!; return x.state === 'done' || x.state === 'failed' ? x : undefined; }, 120_000, 200);
        assert.equal(j.state, 'done', j.error ?? '');
      }
      assert.equal((await queue.get(interrupted.id))?.attempts, 2, 'the interrupted attempt counts');
      const rec = (await store.get(id))!;
      assert.equal(rec.poster, 'poster.jpg');
      assert.equal(rec.thumbnails, 'thumbnails.vtt');
    } finally {
      await w.stop();
    }
    await sleep(10);
  });
});
