// Username case confusion (issue 19 #6): `bob` and `Bob` could both be made, and moderation
// looked names up lower-cased first, so a ban on "Bob" hit `bob`. New accounts are unique
// case-insensitively (409 username_taken, also when two creations race), accounts that clashed
// before the 0930_username_case migration keep working and are listed, and moderation resolves
// a target exactly first. On SQLite and PostgreSQL.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../testkit/db.js';
import { createPlatform, type Platform } from '../../../src/platform/index.js';
import { ALL_MIGRATIONS } from '../../../src/features.js';
import { ModerationEngine } from '../../../src/chat/moderation/engine.js';
import { ModerationStore } from '../../../src/chat/moderation/db.js';
import { MemoryModerationState } from '../../../src/chat/moderation/state.js';
import { ModerationCodes } from '../../../src/chat/moderation/codes.js';
import { AppError } from '../../../src/http/errors.js';
import { runOnair } from '../../../testkit/cli.js';

const MIGRATION = '0930_username_case';

for (const eng of engines()) {
  describe(`username case on ${eng.engine}`, { skip: eng.skip }, () => {
    let p: Platform;
    let dispose: () => Promise<void>;
    let url = '';
    const ids: Record<string, string> = {};

    before(async () => {
      const o = await eng.open();
      dispose = o.dispose;
      url = o.url;
      p = createPlatform(o.db, TEST_STREAM_KEY_SECRET);
      let t = Date.now();
      const names: [string, string][] = [['bob', 'bob'], ['bob-2', 'Bob'], ['bob-3', 'BOB'], ['alice', 'alice'], ['owner', 'owner']];
      for (const [made] of names) ids[made] = (await p.users.create({ username: made, password: 'password1' })).id;
      // Back to the schema before the migration, make the clashes the old code allowed, migrate again.
      await ALL_MIGRATIONS[MIGRATION]!.down!(o.db.kysely);
      for (const [made, name] of names) {
        // Distinct creation times make "the oldest of a name" well defined.
        await o.db.kysely.updateTable('users').set({ username: name, created_at: t++ }).where('id', '=', ids[made]!).execute();
        ids[name] = ids[made]!;
      }
      await ALL_MIGRATIONS[MIGRATION]!.up(o.db.kysely);
    });
    after(async () => {
      await dispose?.();
    });

    test('new accounts are unique whatever the case: 409 username_taken', async () => {
      for (const name of ['ALICE', 'Alice', 'bOb']) {
        await assert.rejects(p.users.create({ username: name, password: 'password1' }), (e: unknown) => e instanceof AppError && e.code === 'username_taken' && e.status === 409, name);
      }
      assert.ok(await p.users.create({ username: 'carol', password: 'password1' }));
    });

    test('two creations racing for one name in two cases: the index lets one through', async () => {
      const results = await Promise.allSettled([p.users.create({ username: 'dave', password: 'password1' }), p.users.create({ username: 'Dave', password: 'password1' })]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status)));
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.equal((refused.reason as AppError).code, 'username_taken');
    });

    test('accounts that clashed before keep working and are listed, oldest first', async () => {
      for (const n of ['bob', 'Bob', 'BOB']) assert.equal((await p.users.verifyPassword(n, 'password1'))?.id, ids[n], n);
      const clashes = await p.users.caseClashes();
      assert.deepEqual(clashes.map((c) => ({ name: c.name, users: c.accounts.map((a) => a.username) })), [{ name: 'bob', users: ['bob', 'Bob', 'BOB'] }]);
    });

    test('onair user clashes lists them, one JSON line per name', async () => {
      const r = await runOnair(['user', 'clashes'], { ONAIR_DATABASE_URL: url, ONAIR_LOG_LEVEL: 'silent' });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => ({ name: l.name, users: l.accounts.map((a: { username: string }) => a.username) })), [{ name: 'bob', users: ['bob', 'Bob', 'BOB'] }]);
    });

    test('names resolve exactly first, then a unique other-case match, else ambiguous', async () => {
      assert.equal((await p.users.resolveName('Bob'))?.id, ids.Bob);
      assert.equal((await p.users.resolveName('bob'))?.id, ids.bob);
      assert.equal(await p.users.resolveName('boB'), null);
      assert.equal((await p.users.resolveName('ALICE'))?.id, ids.alice);
      assert.equal(await p.users.resolveName('nobody'), undefined);
    });

    test('a ban on "Bob" bans Bob, not bob; "boB" is refused as ambiguous', async () => {
      const { channel } = await p.channels.create({ name: 'room', ownerId: ids.owner });
      const engine = new ModerationEngine({ platform: p, store: new ModerationStore(p.db), state: new MemoryModerationState(), settings: {}, registry: new Registry() });
      engine.start();
      try {
        await engine.executeText({ id: ids.owner! }, channel.name, '/ban Bob');
        const banned = (await engine.overview(channel.name)).restrictions.map((r) => r.userId);
        assert.deepEqual(banned, [ids.Bob]);
        await assert.rejects(engine.executeText({ id: ids.owner! }, channel.name, '/ban boB'), (e: any) => e.code === ModerationCodes.targetAmbiguous && /exactly/.test(e.message));
        await engine.executeText({ id: ids.owner! }, channel.name, '/ban ALICE');
        assert.ok((await engine.overview(channel.name)).restrictions.some((r) => r.userId === ids.alice), 'a unique other-case match is used');
      } finally {
        await engine.stop();
      }
    });
  });
}
