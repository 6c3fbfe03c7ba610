import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { OverlayTokenService, MAX_OVERLAYS_PER_CHANNEL } from '../../../../src/chat/supporters/overlays.js';
import { supportersDb } from '../../../../src/chat/supporters/db.js';
import { sha256 } from '../../../../src/platform/ids.js';
import type { AppError } from '../../../../src/http/errors.js';

for (const eng of engines()) {
  test(`overlay tokens on ${eng.engine}`, { skip: eng.skip }, async (t) => {
    const h = await eng.open();
    t.after(() => h.dispose());
    const platform = createPlatform(h.db, TEST_STREAM_KEY_SECRET);
    await platform.channels.create({ name: 'one' });
    await platform.channels.create({ name: 'two' });
    const one = (await platform.channels.find('one'))!;
    const two = (await platform.channels.find('two'))!;
    const svc = new OverlayTokenService(h.db);
    const unauthorized = (e: AppError) => e.code === 'unauthorized';

    const a = await svc.create(one, '  ', null);
    assert.equal(a.label, 'overlay');
    assert.match(a.token, /^ovl_[A-Za-z0-9_-]{32}$/);
    const row = await supportersDb(h.db).selectFrom('overlay_tokens').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    assert.equal(row.token_hash, sha256(a.token), 'only the hash is stored');
    assert.ok(!JSON.stringify(row).includes(a.token));

    assert.equal((await svc.validate(one, a.token)).id, a.id);
    await assert.rejects(svc.validate(two, a.token), unauthorized);
    await assert.rejects(svc.validate(one, undefined), unauthorized);
    await assert.rejects(svc.validate(one, a.token + 'x'), unauthorized);
    await assert.rejects(svc.validate(one, 'not-a-token'), unauthorized);

    const b = await svc.create(one, 'alerts only', null);
    assert.deepEqual((await svc.list(one)).map((o) => o.label).sort(), ['alerts only', 'overlay']);
    const revoked = await svc.revoke(one, a.id);
    assert.equal(typeof revoked.revokedAt, 'number');
    await assert.rejects(svc.validate(one, a.token), (e: AppError) => e.code === 'unauthorized' && /revoked/.test(e.message));
    assert.equal((await svc.validate(one, b.token)).id, b.id, 'other overlays keep working');
    assert.equal((await svc.revoke(one, a.id)).revokedAt, revoked.revokedAt, 'revoking twice keeps the first time');
    await assert.rejects(svc.revoke(two, b.id), (e: AppError) => e.code === 'not_found');

    for (let i = 1; i < MAX_OVERLAYS_PER_CHANNEL; i++) await svc.create(two, `o${i}`, null);
    const last = await svc.create(two, 'last', null);
    await assert.rejects(svc.create(two, 'one too many', null), (e: AppError) => e.code === 'conflict');
    await svc.revoke(two, last.id);
    await svc.create(two, 'after a revoke', null);

    await platform.channels.remove('one');
    assert.equal(await supportersDb(h.db).selectFrom('overlay_tokens').select('id').where('channel_id', '=', one.id).executeTakeFirst(), undefined, 'tokens go with their channel');
  });
}
