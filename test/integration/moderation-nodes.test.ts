// Two whole servers sharing one Redis and one database: moderation on node A applies on node B
// within a second; after a restart bans, modes and filters still apply and expired timeouts do not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ModerationCodes as C } from '../../src/chat/moderation/codes.js';
import { startRedis, sleep } from '../unit/helpers/moderation.js';
import { connectUser, rejectsWith, waitFor, type ChatUser } from './helpers/moderation.js';

const SECRET = 'nodes-test-secret-0123456789abcdef';
let redis: { url: string; stop(): Promise<void> };
let dbDir: string;
let common: Record<string, unknown>;
let A: TestServer | undefined;
let B: TestServer | undefined;
const ids: Record<string, string> = {};
const clients: ChatUser[] = [];
const ws = (s: TestServer) => `ws://127.0.0.1:${s.httpPort}/connection/websocket`;
const join_ = async (s: TestServer, who: string) => {
  const c = await connectUser(ws(s), SECRET, s.platform, ids[who]!, 'room');
  clients.push(c);
  return c;
};

before(async () => {
  redis = await startRedis();
  dbDir = mkdtempSync(join(tmpdir(), 'onair-mod-nodes-'));
  common = {
    'database.url': `sqlite:${join(dbDir, 'shared.db')}`,
    'redis.url': redis.url,
    'chat.tokenSecret': SECRET,
    'chat.apiKey': 'nodes-test-api-key-0123456789',
    adminToken: 'nodes-test-admin-token-0123456789',
  };
  A = await startTestServer(common);
  B = await startTestServer(common);
  for (const n of ['owner', 'mgr', 'viewer', 'viewer2', 'viewer3']) ids[n] = (await A.platform.users.create({ username: n, password: 'password1' })).id;
  const { channel } = await A.platform.channels.create({ name: 'room', ownerId: ids.owner });
  await A.platform.channels.grantManager(channel.id, ids.mgr!, ids.owner!);
});

after(async () => {
  for (const c of clients) c.close();
  await A?.close();
  await B?.close();
  await redis?.stop();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('a ban issued on node A removes the subscription on node B and B refuses at once', async () => {
  const mgrA = await join_(A!, 'mgr');
  const viewerB = await join_(B!, 'viewer');
  await viewerB.say('hello from B'); // warms B's cached rules for the channel
  await waitFor(() => mgrA.pubs.some((d) => d.text === 'hello from B'), 3000, 'cross-node delivery');
  const t0 = Date.now();
  await mgrA.say('/ban viewer');
  await waitFor(() => viewerB.unsubscribed.length > 0, 1000, 'unsubscribe on node B within 1 s');
  assert.equal(viewerB.unsubscribed[0]!.code, 2000);
  viewerB.sub.subscribe();
  await viewerB.sub.ready(3000);
  await rejectsWith(viewerB.say('am I banned on B?'), C.banned);
  assert.ok(Date.now() - t0 < 1500, `enforced on B after ${Date.now() - t0} ms`);
  // The deletion of the user's recent messages reached A's subscribers too.
  await waitFor(() => mgrA.pubs.some((d) => d.type === 'delete' && d.user === ids.viewer), 3000, 'delete event');
  await mgrA.say('/unban viewer');
  // The unban reaches node B's cached rules over Redis a moment later (CI once published before it did).
  await waitFor(() => viewerB.say('unbanned on B').then(() => true, () => false), 3000, 'unban effective on node B');
});

test('slow mode, rate state and filters are shared between nodes', async () => {
  const mgrA = await join_(A!, 'mgr');
  const v2A = await join_(A!, 'viewer2');
  const v2B = await join_(B!, 'viewer2');
  await mgrA.say('/slow 5');
  await v2A.say('first on A');
  // Same user, other node: the slow-mode slot lives in Redis.
  const m = await rejectsWith(v2B.say('then on B'), C.slowMode);
  assert.match(m, /you can chat again in [45]s/);
  await mgrA.say('/slow off');
  await mgrA.say('/filter add 바보 block');
  await rejectsWith(v2B.say('바 보'), C.wordBlocked);
  await mgrA.say('/uniquechat');
  await v2B.say('unique line');
  const v3A = await join_(A!, 'viewer3');
  await rejectsWith(v3A.say('unique line'), C.uniqueChat);
  await mgrA.say('/uniquechat off');
});

test('restart: bans, timeouts, modes and filters survive; expired timeouts no longer apply', async () => {
  const mgrA = await join_(A!, 'mgr');
  await mgrA.say('/ban viewer3 nope');
  await mgrA.say('/timeout viewer2 2');
  await mgrA.say('/timeout viewer 600');
  await mgrA.say('/emoteonly');
  for (const c of clients.splice(0)) c.close();
  await A!.close();
  await B!.close();
  A = B = undefined;
  await sleep(2_100); // viewer2's timeout ends while the servers are down
  A = await startTestServer(common);
  const v3 = await join_(A, 'viewer3');
  const v2 = await join_(A, 'viewer2');
  const v1 = await join_(A, 'viewer');
  await rejectsWith(v3.say('😀'), C.banned);
  await rejectsWith(v1.say('😀'), C.timedOut);
  await v2.say('😀'); // expired timeout: allowed
  await rejectsWith(v2.say('words are not emotes'), C.emoteOnly);
  const mgr = await join_(A, 'mgr');
  await mgr.say('/emoteonly off');
  await rejectsWith(v2.say('바보'), C.wordBlocked);
  const audit = await A.api('GET', '/api/v1/channels/room/moderation/audit', undefined, 'nodes-test-admin-token-0123456789');
  assert.equal(audit.status, 200);
  assert.ok(audit.body.entries.filter((e: { action: string }) => e.action === 'ban').length >= 2);
});
