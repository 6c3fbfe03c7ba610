// Issue 19 #8: jobs users ask for are de-duplicated and capped per VOD and per user, on both engines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../../../../testkit/db.js';
import { JobLimitError, JobQueue } from '../../../../src/platform/jobs/queue.js';

const opts = { maxAttempts: 3, backoff: { baseMs: 1000, maxMs: 60_000 }, leaseMs: 5000 };

for (const e of engines()) {
  test(`job limits on ${e.engine}`, { skip: e.skip }, async (t) => {
    const { db, dispose } = await e.open();
    t.after(dispose);
    const q = new JobQueue(db, opts);
    const ask = (recordingId: string, type: string, user: string, payload: Record<string, unknown> = { recordingId }) =>
      q.enqueueLimited({ type, recordingId, payload, requestedBy: user, maxPerRecording: 4, maxPerUser: 6 });

    await t.test('20 identical requests queue one job; every answer names it', async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, () => ask('vod-1', 'thumbnails', 'alice')));
      const ids = new Set(answers.map((a) => a.job.id));
      assert.equal(ids.size, 1, 'one job for twenty identical requests');
      assert.equal(answers.filter((a) => !a.existing).length, 1);
      assert.equal((await q.list({ recordingId: 'vod-1' })).length, 1);
    });

    await t.test('a VOD holds at most maxPerRecording queued or running jobs', async () => {
      await ask('vod-1', 'transcode-720p', 'alice');
      await ask('vod-1', 'transcode-hevc', 'alice');
      await ask('vod-1', 'extract-captions', 'alice', { recordingId: 'vod-1', language: 'en' });
      await assert.rejects(ask('vod-1', 'extract-captions', 'alice', { recordingId: 'vod-1', language: 'ko' }), (err: JobLimitError) => err instanceof JobLimitError && err.scope === 'recording' && err.max === 4);
      // A finished job frees its place.
      const running = await q.claim('node-a', ['thumbnails']);
      assert.ok(running);
      await q.complete(running.id, 'node-a', {});
      assert.equal((await ask('vod-1', 'extract-captions', 'alice', { recordingId: 'vod-1', language: 'ko' })).existing, false);
    });

    await t.test('a user holds at most maxPerUser queued or running jobs across VODs', async () => {
      // alice has 4 active on vod-1; two more on another VOD reach 6.
      await ask('vod-2', 'thumbnails', 'alice');
      await ask('vod-2', 'transcode-720p', 'alice');
      await assert.rejects(ask('vod-2', 'transcode-hevc', 'alice'), (err: JobLimitError) => err.scope === 'user' && err.max === 6);
      assert.equal((await ask('vod-2', 'transcode-hevc', 'bob')).existing, false, 'another user is not held back');
    });
  });
}
