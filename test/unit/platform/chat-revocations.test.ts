// The chat-token revocations kept in the database (issue 19 #17): recorded, read back by age,
// pruned; and a revocation read back keeps its own expiry in the node's memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatRevocationStore, chatRevocationCutoff } from '../../../src/platform/chat-revocations.js';
import { TokenRevocations } from '../../../src/chat/revocations.js';
import { engines } from '../../../testkit/db.js';

for (const e of engines()) {
  test(`${e.engine}: revocations are recorded, read back when younger than the cut-off and pruned`, { skip: e.skip }, async (t) => {
    const { db, dispose } = await e.open();
    t.after(dispose);
    let now = 1_000_000;
    const store = new ChatRevocationStore(db, () => now);
    await store.record('u1', 1000);
    now = 2_000_000;
    await store.record('u2', 2000);
    await store.record('u1', 2001);
    assert.deepEqual(await store.since(1_500_000), [
      { userId: 'u2', issuedBefore: 2000, revokedAt: 2_000_000 },
      { userId: 'u1', issuedBefore: 2001, revokedAt: 2_000_000 },
    ]);
    assert.equal(await store.prune(1_500_000), 1);
    assert.equal((await store.since(0)).length, 2);
  });
}

test('chatRevocationCutoff revokes the tokens of the revoking second too', () => {
  assert.equal(chatRevocationCutoff(5_999), 6);
  assert.equal(chatRevocationCutoff(6_000), 7);
});

test('a revocation read back keeps the expiry of when it was made', () => {
  let now = 100_000;
  const r = new TokenRevocations(60, 10, () => now);
  r.revoke('old', 50, now - 70_000); // made 70 s ago, kept 60 s: already over
  assert.equal(r.isRevoked('old', 10), false);
  r.revoke('recent', 50, now - 30_000); // 30 s left
  assert.equal(r.isRevoked('recent', 10), true);
  assert.equal(r.isRevoked('recent', 50), false, 'a token issued at the cut-off is newer');
  now += 31_000;
  assert.equal(r.isRevoked('recent', 10), false, 'expired 60 s after it was made, not after it was read');
});
