// The assembled server hands the moderation engine to super chats: a banned user or a
// blocked word is refused before any charge, with nothing set up by the test itself.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';

describe('super chats pass channel moderation in the assembled server', () => {
  let s: TestServer;
  let owner: string;
  let fan: string;
  const balance = async () => (await s.api('GET', '/api/v1/wallet', undefined, fan)).body.balance;
  const superchat = (message: string, key: string) => s.api('POST', '/api/v1/channels/modded/superchats', { amount: 1000, message }, fan, { 'idempotency-key': key });

  before(async () => {
    s = await startTestServer();
    owner = (await s.api('POST', '/api/v1/auth/register', { username: 'boss', password: 'hunter2hunter2' })).body.token;
    fan = (await s.api('POST', '/api/v1/auth/register', { username: 'fan1', password: 'hunter2hunter2' })).body.token;
    assert.equal((await s.api('POST', '/api/v1/channels', { name: 'modded' }, owner)).status, 201);
    assert.equal((await s.api('POST', '/api/v1/wallet/credits', { username: 'fan1', amount: 10_000 }, s.secrets.adminToken)).status, 201);
  });
  after(async () => s?.close());

  test('an ordinary super chat is charged', async () => {
    const r = await superchat('응원합니다!', 'k1');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(await balance(), 9000);
  });

  test('a blocked word is refused and not charged', async () => {
    assert.equal((await s.api('POST', '/api/v1/channels/modded/moderation/filters', { word: '바보', action: 'block' }, owner)).status < 300, true);
    const r = await superchat('너는 바 보 야', 'k2');
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'forbidden');
    assert.equal(await balance(), 9000);
  });

  test('a banned user is refused and not charged', async () => {
    assert.ok((await s.api('POST', '/api/v1/channels/modded/moderation/bans', { username: 'fan1', reason: 'spam' }, owner)).status < 300);
    const r = await superchat('please unban me', 'k3');
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(await balance(), 9000);
  });
});
