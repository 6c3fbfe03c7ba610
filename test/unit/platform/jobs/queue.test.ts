import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../../../../testkit/db.js';
import { openDatabase } from '../../../../src/platform/index.js';
import { JobQueue } from '../../../../src/platform/jobs/queue.js';
import '../../../../src/platform/jobs/schema.js';

const opts = { maxAttempts: 3, backoff: { baseMs: 1000, maxMs: 60_000 }, leaseMs: 5000 };

for (const e of engines()) {
  test(`job queue on ${e.engine}`, { skip: e.skip }, async (t) => {
    const { db, url, dispose } = await e.open();
    t.after(dispose);

    await t.test('two workers racing on separate connections never take the same job', async () => {
      const db2 = await openDatabase(url);
      try {
        const a = new JobQueue(db, opts);
        const b = new JobQueue(db2, opts);
        const n = 60;
        for (let i = 0; i < n; i++) await a.enqueue({ type: 'race', payload: { i } });
        const taken = new Map<string, string>();
        const dup: string[] = [];
        const worker = async (q: JobQueue, node: string) => {
          for (;;) {
            const j = await q.claim(node, ['race']);
            if (!j) {
              if ((await q.counts()).queued === 0) return;
              continue;
            }
            if (taken.has(j.id)) dup.push(j.id);
            taken.set(j.id, node);
            assert.equal(j.state, 'running');
            assert.equal(j.nodeId, node);
            assert.equal(j.attempts, 1);
          }
        };
        await Promise.all([worker(a, 'node-a'), worker(b, 'node-b'), worker(a, 'node-a2'), worker(b, 'node-b2')]);
        assert.deepEqual(dup, []);
        assert.equal(taken.size, n);
        // Every job is running exactly once, on the node that claimed it.
        const rows = await a.list({ type: 'race', limit: 1000 });
        for (const r of rows) assert.equal(r.nodeId, taken.get(r.id));
        const nodes = new Set(taken.values());
        assert.ok(nodes.size >= 2, `work spread over ${nodes.size} node(s)`);
      } finally {
        await db2.close();
      }
    });

    await t.test('failures back off exponentially, then fail with the error kept', async () => {
      let now = 1_000_000;
      const q = new JobQueue(db, { ...opts, now: () => now });
      const job = await q.enqueue({ type: 'flaky' });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        const c = await q.claim('n1', ['flaky']);
        assert.ok(c, `attempt ${attempt} claimed`);
        assert.equal(c.attempts, attempt);
        const state = await q.fail(job.id, 'n1', `boom ${attempt}`);
        const after = (await q.get(job.id))!;
        if (attempt < 3) {
          assert.equal(state, 'queued');
          delays.push(after.runAt - now);
          assert.equal(await q.claim('n1', ['flaky']), undefined, 'not claimable before its backoff');
          now = after.runAt;
        } else {
          assert.equal(state, 'failed');
          assert.equal(after.error, 'boom 3');
          assert.ok(after.finishedAt);
        }
      }
      assert.deepEqual(delays, [1000, 2000]);
      const again = await q.retry(job.id);
      assert.equal(again?.state, 'queued');
      assert.equal(again?.attempts, 0);
    });

    await t.test('cancel: a queued job ends at once, a running one is flagged for its node', async () => {
      const q = new JobQueue(db, opts);
      const queued = await q.enqueue({ type: 'c1' });
      assert.equal((await q.cancel(queued.id))?.state, 'cancelled');
      assert.equal(await q.claim('n', ['c1']), undefined);
      const running = await q.enqueue({ type: 'c2' });
      await q.claim('n', ['c2']);
      assert.deepEqual(await q.heartbeat(running.id, 'n', 0.25), { owned: true, cancelRequested: false });
      await q.cancel(running.id);
      assert.deepEqual(await q.heartbeat(running.id, 'n'), { owned: true, cancelRequested: true });
      assert.equal((await q.get(running.id))?.progress, 0.25);
      assert.equal(await q.markCancelled(running.id, 'n'), true);
      assert.equal((await q.get(running.id))?.state, 'cancelled');
      // A node that lost the job cannot complete it.
      assert.equal(await q.complete(running.id, 'n'), false);
    });

    await t.test('a restarted node re-queues its jobs; lapsed leases are re-queued', async () => {
      let now = 5_000_000;
      const q = new JobQueue(db, { ...opts, now: () => now });
      const j1 = await q.enqueue({ type: 'r1' });
      const j2 = await q.enqueue({ type: 'r2' });
      await q.claim('dead-node', ['r1']);
      await q.claim('other-node', ['r2']);
      assert.equal(await q.requeueNode('dead-node'), 1);
      assert.equal((await q.get(j1.id))?.state, 'queued');
      assert.equal((await q.get(j2.id))?.state, 'running');
      now += opts.leaseMs + 1;
      assert.equal(await q.requeueExpired(), 1);
      const r2 = (await q.get(j2.id))!;
      assert.equal(r2.state, 'queued');
      assert.equal(r2.nodeId, null);
      assert.deepEqual(await q.heartbeat(j2.id, 'other-node'), { owned: false, cancelRequested: true });
      const again = await q.claim('new-node', ['r2']);
      assert.equal(again?.attempts, 2);
    });
  });
}
