import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../../../src/config/index.js';
import { JobQueue } from '../../../../src/platform/jobs/queue.js';
import { jobLine, progressBar, runJobsCommand, JobsUsageError } from '../../../../src/platform/jobs/cli.js';
import { engines } from '../../../../testkit/db.js';
import { at } from '../../../../testkit/at.js';

test('progress bar', () => {
  assert.equal(progressBar(0, 10), '[..........]   0.0%');
  assert.equal(progressBar(0.456, 10), '[#####.....]  45.6%');
  assert.equal(progressBar(1, 10), '[##########] 100.0%');
  assert.equal(progressBar(7, 10), '[##########] 100.0%');
});

test('onair jobs list|cancel|retry|watch against the database', async (t) => {
  const { db, dispose } = await engines()[0]!.open();
  t.after(dispose);
  const cfg = configSchema.parse({});
  const q = new JobQueue(db, { maxAttempts: 1, backoff: { baseMs: 0, maxMs: 0 }, leaseMs: 5000 });
  const a = await q.enqueue({ type: 'transcode-720p' });
  const b = await q.enqueue({ type: 'thumbnails' });
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), write: (s: string) => lines.push(s), isTTY: false, sleep: async () => { await q.heartbeat(b.id, 'n', 0.5); await q.complete(b.id, 'n'); } };
  await runJobsCommand(cfg, db, 'list', [], io);
  assert.equal(lines.length, 2);
  assert.match(lines.join('\n'), /transcode-720p\s+queued/);

  lines.length = 0;
  await runJobsCommand(cfg, db, 'cancel', [a.id.slice(0, 8)], io);
  assert.match(at(lines, 0), /cancelled/);
  await runJobsCommand(cfg, db, 'retry', [a.id], io);
  assert.match(at(lines, 1), /queued/);
  await assert.rejects(runJobsCommand(cfg, db, 'retry', [b.id], io), JobsUsageError);
  await assert.rejects(runJobsCommand(cfg, db, 'cancel', ['nope'], io), /no job/);
  await assert.rejects(runJobsCommand(cfg, db, 'list', ['weird'], io), /state must be/);

  // watch one job: draws until it ends (the fake sleep lets it run and finish).
  await q.claim('n', ['thumbnails']);
  lines.length = 0;
  await runJobsCommand(cfg, db, 'watch', [b.id], io);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(at(lines, 0), /running\s+\[\.+\]\s+0\.0%/);
  assert.match(at(lines, 1), /done\s+\[#+\] 100\.0%/);
  assert.equal(jobLine((await q.get(b.id))!), lines[1]);
});
