// channels.maxPerUser is exact under concurrent creates (issue 19 #8): many creates of one owner
// fired at once, on real SQLite and PostgreSQL, leave exactly the cap owned and refuse the rest
// with too_many_channels; another owner's creates are not held back by it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../testkit/db.js';
import { createPlatform } from '../../../src/platform/index.js';
import { AppError } from '../../../src/http/errors.js';

const CAP = 3;
/** More creates at once than the PostgreSQL pool has connections, so their transactions overlap. */
const AT_ONCE = 24;

for (const e of engines()) {
  test(`${e.engine}: ${AT_ONCE} concurrent creates of one owner leave exactly channels.maxPerUser (${CAP})`, { skip: e.skip }, async (t) => {
    const { db, dispose } = await e.open();
    t.after(dispose);
    const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
    const owner = await platform.users.create({ username: 'capped', password: 'hunter2hunter2' });
    const other = await platform.users.create({ username: 'neighbour', password: 'hunter2hunter2' });
    const results = await Promise.allSettled([
      ...Array.from({ length: AT_ONCE }, (_, i) => platform.channels.create({ name: `capped-${i}`, ownerId: owner.id, maxOwned: CAP })),
      platform.channels.create({ name: 'neighbour-0', ownerId: other.id, maxOwned: CAP }),
    ]);
    const mine = results.slice(0, AT_ONCE);
    const made = mine.filter((r) => r.status === 'fulfilled').length;
    const refusals = mine.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    assert.equal(made, CAP, `created ${made} channels for a cap of ${CAP}`);
    for (const err of refusals) assert.ok(err instanceof AppError && err.code === 'too_many_channels', `refused with ${String(err)}`);
    const owned = (await platform.channels.list({ limit: 1000 })).filter((c) => c.owner_id === owner.id);
    assert.equal(owned.length, CAP, 'the database holds exactly the cap');
    assert.equal(results[AT_ONCE]?.status, 'fulfilled', "another owner's create goes through");
  });
}
