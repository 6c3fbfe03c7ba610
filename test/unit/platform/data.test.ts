import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../testkit/db.js';
import { createPlatform, type Platform, type Db } from '../../../src/platform/index.js';
import { migrateAll } from '../../../src/features.js';
import { AppError } from '../../../src/http/errors.js';

for (const eng of engines()) {
  describe(`platform data on ${eng.engine}`, { skip: eng.skip }, () => {
    let p: Platform;
    let db: Db;
    let dispose: () => Promise<void>;
    before(async () => {
      const o = await eng.open();
      db = o.db;
      dispose = o.dispose;
      p = createPlatform(db, TEST_STREAM_KEY_SECRET);
    });
    after(async () => dispose?.());

    test('migrations are idempotent', async () => {
      assert.deepEqual(await migrateAll(db), []);
    });

    test('users: argon2id hashes, login check, duplicates refused', async () => {
      const u = await p.users.create({ username: 'minji', password: 'correct horse', displayName: '민지' });
      assert.equal(u.displayName, '민지');
      const row = await p.users.findByName('minji');
      assert.match(row!.password_hash, /^\$argon2id\$/);
      assert.equal((await p.users.verifyPassword('minji', 'correct horse'))?.id, u.id);
      assert.equal(await p.users.verifyPassword('minji', 'wrong'), undefined);
      assert.equal(await p.users.verifyPassword('nobody', 'x'), undefined);
      await assert.rejects(p.users.create({ username: 'minji', password: 'another pw' }), (e: AppError) => e.code === 'username_taken');
      await assert.rejects(p.users.create({ username: 'a b', password: 'another pw' }), (e: AppError) => e.code === 'validation_failed');
      await assert.rejects(p.users.create({ username: 'short', password: '123' }), (e: AppError) => e.code === 'validation_failed');
    });

    test('sessions: issue, resolve, revoke, expire', async () => {
      const u = await p.users.create({ username: 'sess', password: 'password1' });
      const s = await p.sessions.create(u.id);
      assert.equal((await p.sessions.resolve(s.token))?.username, 'sess');
      await p.sessions.revoke(s.token);
      assert.equal(await p.sessions.resolve(s.token), undefined);
      const expired = await p.sessions.create(u.id);
      await db.kysely.updateTable('sessions').set({ expires_at: Date.now() - 1 }).execute();
      assert.equal(await p.sessions.resolve(expired.token), undefined);
      assert.ok((await p.sessions.purgeExpired()) >= 1);
    });

    test('channels: hashed stream key, rotate, resolve, duplicates', async () => {
      const owner = await p.users.create({ username: 'owner1', password: 'password1' });
      const { channel, streamKey } = await p.channels.create({ name: 'demo', title: 'Demo', ownerId: owner.id });
      assert.match(streamKey, /^live_[A-Za-z0-9_-]{32}$/);
      const row = await p.channels.find('demo');
      assert.notEqual(row!.stream_key_hash, streamKey, 'the key is not stored in clear');
      assert.equal((await p.channels.resolveStreamKey(streamKey))?.name, 'demo');
      const rotated = await p.channels.rotateKey('demo');
      assert.notEqual(rotated, streamKey);
      assert.equal(await p.channels.resolveStreamKey(streamKey), undefined, 'old key stops working');
      assert.equal((await p.channels.resolveStreamKey(rotated))?.id, channel.id);
      // The key is also sealed, so it can be shown again; only the current one.
      const current = await p.channels.find('demo');
      assert.ok(current?.stream_key_sealed);
      assert.ok(!current.stream_key_sealed.includes(rotated), 'the sealed copy is not the key in clear');
      assert.equal(p.channels.revealKey(current), rotated);
      // Another streamKey.secret (a node configured differently) cannot show it: 409, not a wrong key.
      const otherNode = createPlatform(db, 'not-the-same-stream-key-secret');
      assert.throws(() => otherNode.channels.revealKey(current), (e: AppError) => e.code === 'stream_key_not_recoverable' && e.status === 409 && e.details?.reason === 'secret_mismatch');
      assert.throws(() => p.channels.revealKey({ ...current, stream_key_sealed: null }), (e: AppError) => e.code === 'stream_key_not_recoverable' && e.details?.reason === 'not_sealed');
      await assert.rejects(p.channels.create({ name: 'demo' }), (e: AppError) => e.code === 'conflict');
      await assert.rejects(p.channels.create({ name: 'Bad Name' }), (e: AppError) => e.code === 'validation_failed');
      await assert.rejects(p.channels.create({ name: 'api' }), (e: AppError) => e.code === 'validation_failed');
      const updated = await p.channels.update('demo', { title: '새 방송' });
      assert.equal(updated.title, '새 방송');
      assert.equal((await p.channels.find('demo'))!.title, '새 방송');
      assert.ok(updated.updated_at >= channel.updatedAt);
    });

    test('roles: owner, managers, checks', async () => {
      const owner = await p.users.create({ username: 'owner2', password: 'password1' });
      const mgr = await p.users.create({ username: 'mgr2', password: 'password1' });
      const viewer = await p.users.create({ username: 'viewer2', password: 'password1' });
      const { channel } = await p.channels.create({ name: 'roles', ownerId: owner.id });
      const row = (await p.channels.find('roles'))!;
      await p.channels.grantManager(channel.id, mgr.id, owner.id);
      await p.channels.grantManager(channel.id, mgr.id, owner.id); // idempotent
      assert.deepEqual(await p.channels.rolesOf(channel.id, mgr.id), ['manager']);
      assert.deepEqual((await p.channels.rolesByChannel(owner.id)).roles, ['owner']);
      assert.deepEqual((await p.channels.listRole(channel.id, 'manager')).map((m) => m.username), ['mgr2']);
      const mgrRow = (await p.users.findById(mgr.id))!;
      const viewerRow = (await p.users.findById(viewer.id))!;
      await p.channels.assertCanManage(row, mgrRow);
      await assert.rejects(p.channels.assertCanManage(row, mgrRow, 'owner'), (e: AppError) => e.code === 'forbidden');
      await assert.rejects(p.channels.assertCanManage(row, viewerRow), (e: AppError) => e.code === 'forbidden');
      assert.equal(await p.channels.revokeManager(channel.id, mgr.id), true);
      assert.equal(await p.channels.revokeManager(channel.id, mgr.id), false);
    });

    test('follows and subscriptions with time and expiry', async () => {
      const u = await p.users.create({ username: 'fan', password: 'password1' });
      const { channel } = await p.channels.create({ name: 'social' });
      const f1 = await p.social.follow(u.id, channel.id);
      const f2 = await p.social.follow(u.id, channel.id);
      assert.equal(f1.followedAt, f2.followedAt, 'following twice keeps the first time');
      assert.equal(await p.social.followerCount(channel.id), 1);
      assert.equal(await p.social.unfollow(u.id, channel.id), true);
      assert.equal(await p.social.followerCount(channel.id), 0);
      assert.equal(await p.social.isSubscribed(u.id, channel.id), false);
      const s1 = await p.social.subscribe(u.id, channel.id, 30);
      assert.equal(await p.social.isSubscribed(u.id, channel.id), true);
      const s2 = await p.social.subscribe(u.id, channel.id, 30);
      assert.ok(Math.abs(s2.expiresAt - s1.expiresAt - 30 * 86_400_000) < 5000, 'extends from the current expiry');
      assert.equal(await p.social.isSubscribed(u.id, channel.id, s2.expiresAt + 1), false);
    });

    test('deleting a channel removes its roles and follows', async () => {
      const u = await p.users.create({ username: 'cascade', password: 'password1' });
      const { channel } = await p.channels.create({ name: 'gone', ownerId: u.id });
      await p.social.follow(u.id, channel.id);
      await p.channels.remove('gone');
      assert.equal(await p.social.followedAt(u.id, channel.id), undefined);
      assert.deepEqual(await p.channels.rolesOf(channel.id, u.id), []);
      await assert.rejects(p.channels.remove('gone'), (e: AppError) => e.code === 'not_found');
    });
  });
}
