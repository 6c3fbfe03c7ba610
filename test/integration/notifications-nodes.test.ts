// Follow notifications across nodes: node A runs media only, node B chat and api; they share one
// database and Redis. ffmpeg publishes a followed channel to A; the follower's list on B shows the
// notice within 5 s and the follower's SDK, subscribed on B to notifications:#{userId}, receives
// it. A quick republish (same live session for followers) notifies nobody again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { Centrifuge } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { startRedis } from '../../testkit/redis.js';
import { sleep, until } from '../../testkit/wait.js';
import { exited, LoopPublishers } from '../../testkit/ffmpeg-loop.js';

const ADMIN = 'notifications-admin-token-0123456789';
const publishers = new LoopPublishers();
const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  publishers.killAll();
  for (const f of cleanup.reverse()) await f();
});

test('a followed channel going live on a media node notifies the follower: list and personal chat channel', async () => {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const dbDir = mkdtempSync(join(tmpdir(), 'onair-notify-nodes-'));
  cleanup.push(() => rmSync(dbDir, { recursive: true, force: true }));
  const common = { 'database.url': `sqlite:${join(dbDir, 'shared.db')}`, 'redis.url': redis.url, adminToken: ADMIN, 'hls.enabled': false, 'record.enabled': false };
  const B: TestServer = await startTestServer({ ...common, roles: ['chat', 'api'] });
  cleanup.push(() => B.close());
  const A: TestServer = await startTestServer({ ...common, roles: ['media'] });
  cleanup.push(() => A.close());

  for (const username of ['star', 'fan', 'other']) assert.equal((await B.api('POST', '/api/v1/users', { username, password: 'password123' }, ADMIN)).status, 201);
  const login = async (username: string) => (await B.api('POST', '/api/v1/auth/login', { username, password: 'password123' })).body.token as string;
  const star = await login('star');
  const fan = await login('fan');
  const other = await login('other');
  const created = await B.api('POST', '/api/v1/channels', { name: 'star', title: '첫 방송' }, star);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await B.api('POST', '/api/v1/channels/star/follow', undefined, fan)).status, 200);
  const fanId = (await B.api('GET', '/api/v1/me', undefined, fan)).body.user.id as string;

  // The follower's SDK on B, subscribed to their own channel.
  const { token } = (await B.api('POST', '/api/v1/chat/token', undefined, fan)).body as { token: string };
  const client = new Centrifuge(`ws://127.0.0.1:${B.httpPort}/connection/websocket`, { websocket: WebSocket, token });
  cleanup.push(() => client.disconnect());
  const pushed: any[] = [];
  const sub = client.newSubscription(`notifications:#${fanId}`);
  sub.on('publication', (ctx) => pushed.push(ctx.data));
  const subscribed = new Promise((resolve, reject) => { sub.once('subscribed', resolve); sub.once('error', (e) => reject(new Error(JSON.stringify(e.error)))); });
  sub.subscribe();
  client.connect();
  await subscribed;
  // Someone else's channel is refused.
  const otherSub = client.newSubscription('notifications:#someone-else');
  const refused = new Promise<{ code: number }>((resolve) => otherSub.once('unsubscribed', resolve));
  otherSub.subscribe();
  assert.equal((await refused).code, 103, "another user's notifications channel is refused: permission denied");

  const key = created.body.streamKey as string;
  const first = publishers.start(`rtmp://127.0.0.1:${A.rtmpPort}/live/${key}`);
  await until(() => A.app.hub?.isLive('star'), 15_000, 'star live on A');
  const liveAt = Date.now();
  const list = await until(async () => {
    const r = await B.api('GET', '/api/v1/me/notifications?limit=20', undefined, fan);
    return r.body.notifications?.length > 0 ? r.body : undefined;
  }, 5_000, 'the notice in the list');
  assert.ok(Date.now() - liveAt < 5_000);
  assert.equal(list.notifications.length, 1);
  assert.deepEqual({ ...list.notifications[0], id: 'x', createdAt: 0 }, { id: 'x', type: 'live', channel: 'star', title: '첫 방송', createdAt: 0, read: false });
  assert.equal(list.unread, 1);
  assert.equal(list.next, null);
  await until(() => pushed.length > 0, 5_000, 'the SDK gets the notice');
  assert.deepEqual(pushed[0], { type: 'notification', notification: list.notifications[0] });
  assert.deepEqual((await B.api('GET', '/api/v1/me/notifications', undefined, other)).body.notifications, [], 'not a follower');
  assert.equal((await B.api('GET', '/api/v1/me/notifications')).status, 401);
  assert.equal((await B.api('GET', '/api/v1/me/notifications?limit=0', undefined, fan)).status, 400);

  // A reconnect is the same session for followers: no second notice.
  first.kill('SIGKILL');
  await exited(first, 5_000);
  await until(() => !A.app.hub?.isLive('star'), 10_000, 'star offline');
  publishers.start(`rtmp://127.0.0.1:${A.rtmpPort}/live/${key}`);
  await until(() => A.app.hub?.isLive('star'), 15_000, 'star live again');
  await sleep(1_000);
  assert.equal((await B.api('GET', '/api/v1/me/notifications', undefined, fan)).body.notifications.length, 1);
  assert.equal(pushed.length, 1);

  // Read marks.
  const bad = await B.api('POST', '/api/v1/me/notifications/read', {}, fan);
  assert.equal(bad.status, 400);
  const read = await B.api('POST', '/api/v1/me/notifications/read', { ids: [list.notifications[0].id] }, fan);
  assert.deepEqual(read.body, { marked: 1, unread: 0 });
  assert.equal((await B.api('GET', '/api/v1/me/notifications', undefined, fan)).body.notifications[0].read, true);
});
