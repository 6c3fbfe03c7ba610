// The owner reads the stream key again (issue 23): the key `onair channel create` printed is the one
// GET /api/v1/channels/{name}/stream-key returns to the owner and admins; managers and others get 403.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { runOnair } from '../../testkit/cli.js';

let s: TestServer;
const tokens: Record<string, string> = {};

before(async () => {
  s = await startTestServer({ roles: ['api'] });
  for (const name of ['yuna', 'helper', 'stranger']) {
    const r = await s.api('POST', '/api/v1/auth/register', { username: name, password: 'hunter2hunter2' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    tokens[name] = r.body.token as string;
  }
});
after(async () => s.close());

test('the key the CLI printed is what the owner and an admin read; a manager, a stranger and nobody may not', async () => {
  // The CLI shares the server's data dir: its database and secrets.json (streamKey.secret).
  const c = await runOnair(['channel', 'create', 'yuna', '--owner', 'yuna'], { ONAIR_DATA_DIR: s.dataDir });
  assert.equal(c.code, 0, c.stderr);
  const printed = JSON.parse(c.stdout).streamKey as string;
  assert.match(printed, /^live_/);

  const owner = await s.api('GET', '/api/v1/channels/yuna/stream-key', undefined, tokens.yuna);
  assert.equal(owner.status, 200, JSON.stringify(owner.body));
  assert.deepEqual(owner.body, { streamKey: printed });
  assert.equal(owner.headers.get('cache-control'), 'no-store');
  const admin = await s.api('GET', '/api/v1/channels/yuna/stream-key', undefined, s.secrets.adminToken);
  assert.deepEqual(admin.body, { streamKey: printed });

  assert.equal((await s.api('PUT', '/api/v1/channels/yuna/managers/helper', undefined, tokens.yuna)).status, 200);
  const manager = await s.api('GET', '/api/v1/channels/yuna/stream-key', undefined, tokens.helper);
  assert.equal(manager.status, 403);
  assert.equal(manager.body.error.code, 'forbidden');
  assert.ok(!JSON.stringify(manager.body).includes(printed));
  assert.equal((await s.api('GET', '/api/v1/channels/yuna/stream-key', undefined, tokens.stranger)).status, 403);
  assert.equal((await s.api('GET', '/api/v1/channels/yuna/stream-key')).status, 401);
  assert.equal((await s.api('GET', '/api/v1/channels/nobody-here/stream-key', undefined, s.secrets.adminToken)).status, 404);
});

test('the demo key of the first start can be read by an admin, and a rotated key replaces it', async () => {
  assert.ok(s.demoStreamKey);
  assert.deepEqual((await s.api('GET', '/api/v1/channels/demo/stream-key', undefined, s.secrets.adminToken)).body, { streamKey: s.demoStreamKey });
  const rotated = await s.api('POST', '/api/v1/channels/demo/stream-key/rotate', undefined, s.secrets.adminToken);
  assert.equal(rotated.status, 200);
  assert.deepEqual((await s.api('GET', '/api/v1/channels/demo/stream-key', undefined, s.secrets.adminToken)).body, { streamKey: rotated.body.streamKey });
});

test('a key made before keys were sealed answers 409 stream_key_not_recoverable until rotated', async () => {
  const r = await s.api('POST', '/api/v1/channels', { name: 'oldkey' }, tokens.yuna);
  assert.equal(r.status, 201);
  // As a channel made by an older version: the hash only.
  await s.platform.db.kysely.updateTable('channels').set({ stream_key_sealed: null }).where('name', '=', 'oldkey').execute();
  const before = await s.api('GET', '/api/v1/channels/oldkey/stream-key', undefined, tokens.yuna);
  assert.equal(before.status, 409);
  assert.equal(before.body.error.code, 'stream_key_not_recoverable');
  // The old key still publishes: only showing it is impossible.
  assert.equal((await s.platform.channels.resolveStreamKey(r.body.streamKey))?.name, 'oldkey');
  const rotated = await s.api('POST', '/api/v1/channels/oldkey/stream-key/rotate', undefined, tokens.yuna);
  assert.deepEqual((await s.api('GET', '/api/v1/channels/oldkey/stream-key', undefined, tokens.yuna)).body, { streamKey: rotated.body.streamKey });
});
