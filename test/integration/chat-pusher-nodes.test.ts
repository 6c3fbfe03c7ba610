// Two onair nodes on one Redis (a redis-server started here): Pusher clients on node A get
// what is triggered, published or sent as client events on node B, presence spans both.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge } from 'centrifuge';
import { startRedis, waitFor, sleep, SECRET } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';
import { client, connected, sdk, startPusherChat, subscribed, type PusherChatServer, type PusherClient } from './helpers/chat-pusher.js';

let redis: Awaited<ReturnType<typeof startRedis>>;
let a: PusherChatServer;
let b: PusherChatServer;
const open: { disconnect(): void }[] = [];

before(async () => {
  redis = await startRedis();
  a = await startPusherChat({ redisUrl: redis.url, nodeName: 'A' });
  b = await startPusherChat({ redisUrl: redis.url, nodeName: 'B' });
});
after(async () => {
  for (const c of open) c.disconnect();
  await a?.close();
  await b?.close();
  await redis?.stop();
});

function pusher(s: PusherChatServer, opts: Parameters<typeof client>[1] = {}): PusherClient {
  const p = client(s, opts);
  open.push(p);
  return p;
}

test('HTTP API on B, Centrifugo publish on B and client events from B reach a pusher-js client on A; socket_id exclusion holds across nodes', async () => {
  const pa = pusher(a, { user: { user_id: 'on-a' } });
  const pb = pusher(b, { user: { user_id: 'on-b' } });
  await connected(pa);
  await connected(pb);
  const { channel: ca } = await subscribed(pa, 'private-chat-n1');
  const { channel: cb } = await subscribed(pb, 'private-chat-n1');
  const got: { ev: string; d: unknown }[] = [];
  for (const ev of ['news', 'message', 'client-hi']) ca.bind(ev, (d: unknown) => got.push({ ev, d }));
  const gotB: unknown[] = [];
  cb.bind('news', (d: unknown) => gotB.push(d));

  await sdk(b).trigger('private-chat-n1', 'news', { from: 'B' });
  await waitFor(() => got.length === 1, 5000, 'news on A');
  // Excluding A's socket through B's HTTP API: B's client gets it, A's does not.
  await sdk(b).trigger('chat-n1', 'news', { skip: 'A' }, { socket_id: pa.connection.socket_id });
  await waitFor(() => gotB.length === 2, 5000, 'both news on B');

  const c = new Centrifuge(`ws://127.0.0.1:${b.port}/connection/websocket`, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: 'cb' }, 3600),
  });
  open.push(c);
  c.connect();
  const sub = c.newSubscription('chat:n1');
  sub.subscribe();
  await sub.ready(5000);
  await sub.publish({ text: 'centrifuge on B' });
  cb.trigger('client-hi', { from: 'pusher on B' });
  await waitFor(() => got.length === 3, 5000, 'message and client event on A');
  await sleep(200);
  assert.deepEqual(
    got.sort((x, y) => x.ev.localeCompare(y.ev)),
    [
      { ev: 'client-hi', d: { from: 'pusher on B' } },
      { ev: 'message', d: { text: 'centrifuge on B' } },
      { ev: 'news', d: { from: 'B' } },
    ],
  );
});

test('presence spans nodes: members of B in the list on A, member_added / member_removed across nodes, HTTP API users on either node', async () => {
  const pa = pusher(a, { user: { user_id: 'ann' } });
  await connected(pa);
  const { channel: ca } = await subscribed(pa, 'presence-chat-n2');
  const added: string[] = [];
  const removed: string[] = [];
  ca.bind('pusher:member_added', (m: { id: string }) => added.push(m.id));
  ca.bind('pusher:member_removed', (m: { id: string }) => removed.push(m.id));
  const pb = pusher(b, { user: { user_id: 'bob' } });
  await connected(pb);
  const { data } = await subscribed(pb, 'presence-chat-n2');
  assert.deepEqual(Object.keys(data.members).sort(), ['ann', 'bob']);
  await waitFor(() => added.includes('bob'), 5000, 'member_added bob on A');
  for (const s of [a, b]) {
    const users = (await (await sdk(s).get({ path: '/channels/presence-chat-n2/users', params: {} })).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['ann', 'bob']);
  }
  pb.disconnect();
  await waitFor(() => removed.includes('bob'), 5000, 'member_removed bob on A');
});
