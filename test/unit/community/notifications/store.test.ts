// NotificationStore on SQLite and PostgreSQL: one claim per live session, one row per follower,
// pages newest first with a cursor, read marks per user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { NotificationStore } from '../../../../src/community/notifications/store.js';

for (const e of engines()) {
  test(`notifications store (${e.engine})`, { skip: e.skip }, async (t) => {
    const h = await e.open();
    t.after(() => h.dispose());
    const platform = createPlatform(h.db, TEST_STREAM_KEY_SECRET);
    const host = await platform.users.create({ username: 'host', password: 'password123' });
    const fan1 = await platform.users.create({ username: 'fan1', password: 'password123' });
    const fan2 = await platform.users.create({ username: 'fan2', password: 'password123' });
    const fan3 = await platform.users.create({ username: 'fan3', password: 'password123' });
    const { channel } = await platform.channels.create({ name: 'stage', title: '저녁 방송', ownerId: host.id });
    for (const f of [fan1, fan2]) await platform.social.follow(f.id, channel.id);
    const store = new NotificationStore(h.db, { cooldownMs: 60_000 });

    await t.test('one claim per session; the cooldown covers a reconnect; a later session claims again', async () => {
      const claims = await Promise.all([1, 2, 3, 4].map(() => store.claimLive(channel.id, '1000', 1000)));
      assert.equal(claims.filter(Boolean).length, 1, 'concurrent announcers: exactly one wins');
      assert.equal(await store.claimLive(channel.id, '1000', 5000), false, 'same session again');
      assert.equal(await store.claimLive(channel.id, '20000', 20_000), false, 'a new session within the cooldown');
      assert.equal(await store.claimLive(channel.id, '90000', 90_000), true, 'a new session after the cooldown');
    });

    await t.test('followers get one notice each, newest first, paged by cursor', async () => {
      const a = await store.announceLive({ id: channel.id, name: 'stage', title: '저녁 방송' }, '90000', 90_000);
      assert.deepEqual(a.deliveries.map((d) => d.userId).sort(), [fan1.id, fan2.id].sort());
      await store.announceLive({ id: channel.id, name: 'stage', title: '두 번째' }, '200000', 200_000);
      const p1 = await store.list(fan1.id, { limit: 1 });
      assert.equal(p1.notifications.length, 1);
      assert.deepEqual({ ...p1.notifications[0], id: undefined }, { id: undefined, type: 'live', channel: 'stage', title: '두 번째', createdAt: 200_000, read: false });
      assert.equal(p1.unread, 2);
      assert.ok(p1.next);
      const p2 = await store.list(fan1.id, { limit: 1, cursor: p1.next });
      assert.equal(p2.notifications[0]?.title, '저녁 방송');
      assert.equal(p2.next, null);
      assert.deepEqual((await store.list(fan3.id, { limit: 10 })).notifications, [], 'not a follower: nothing');
      await assert.rejects(store.list(fan1.id, { limit: 1, cursor: 'garbage' }), RangeError);
    });

    await t.test('read marks: by id for the owner only, then all', async () => {
      const mine = (await store.list(fan1.id, { limit: 10 })).notifications;
      const theirs = (await store.list(fan2.id, { limit: 10 })).notifications;
      assert.equal(await store.markRead(fan1.id, { ids: theirs.slice(0, 1).map((n) => n.id) }), 0, "another user's id changes nothing");
      assert.equal(await store.markRead(fan1.id, { ids: mine.slice(0, 1).map((n) => n.id) }), 1);
      assert.equal(await store.unread(fan1.id), 1);
      assert.equal(await store.markRead(fan1.id, 'all'), 1);
      assert.equal(await store.unread(fan1.id), 0);
      assert.equal(await store.unread(fan2.id), 2);
      assert.equal((await store.list(fan1.id, { limit: 10 })).notifications.every((n) => n.read), true);
    });
  });
}
