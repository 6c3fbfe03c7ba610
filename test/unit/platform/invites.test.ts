// Invite codes (issue 19 #8): single use under concurrent claims, refused once expired, stored hashed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../../../testkit/db.js';
import { InviteService } from '../../../src/platform/invites.js';

for (const e of engines()) {
  test(`invite codes on ${e.engine}`, { skip: e.skip }, async (t) => {
    const { db, dispose } = await e.open();
    t.after(dispose);
    let now = 1_000_000;
    const invites = new InviteService(db, () => now);
    const { code, invite } = await invites.create({ ttlMs: 60_000, note: 'for dana' });
    assert.ok(code.length >= 20);
    const stored = await db.kysely.selectFrom('invites' as never).selectAll().execute() as unknown as { code_hash: string }[];
    assert.ok(stored.every((r) => r.code_hash !== code && !JSON.stringify(r).includes(code)), 'only the hash is stored');

    // Ten sign-ups race for one code: exactly one gets it.
    const claims = await Promise.all(Array.from({ length: 10 }, () => invites.claim(code)));
    assert.deepEqual(claims.filter((c) => c !== null), [invite.id]);
    assert.equal(await invites.usable(code), false);
    // Given back (the username was taken), it works once more.
    await invites.release(invite.id);
    assert.equal(await invites.claim(code), invite.id);
    await invites.usedBy(invite.id, 'user-1');
    assert.equal((await invites.list())[0]!.usedBy, 'user-1');

    const late = await invites.create({ ttlMs: 60_000 });
    now += 60_000;
    assert.equal(await invites.claim(late.code), null, 'expired');
    assert.equal(await invites.claim('made-up-code'), null);
    assert.equal(await invites.remove(late.invite.id), true);
    assert.equal(await invites.remove(late.invite.id), false);
  });
}
