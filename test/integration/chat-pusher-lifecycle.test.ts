// Connection lifecycle: server pings after activity_timeout, 4201 without a pong, user-wide
// unsubscribe and disconnect (what a moderation ban sends) reach Pusher presence members,
// shutdown closes with 4200 (pusher-js reconnects).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { waitFor } from '../../testkit/chat-server.js';
import { channelAuth } from '../../src/chat/pusher/auth.js';
import { APP_KEY, APP_SECRET, startPusherChat, type PusherChatServer } from './helpers/chat-pusher.js';

async function raw(s: PusherChatServer): Promise<{ ws: WebSocket; msgs: any[]; closed: Promise<number>; socketId: string; send(o: unknown): void }> {
  const ws = new WebSocket(s.wsUrl);
  const msgs: any[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await waitFor(() => msgs.length > 0, 3000, 'connection_established');
  return { ws, msgs, closed, socketId: JSON.parse(msgs[0].data).socket_id, send: (o) => ws.send(JSON.stringify(o)) };
}

test('activity: a silent connection gets pusher:ping; answering keeps it, silence closes it with 4201', async () => {
  const s = await startPusherChat({ pusher: { activityTimeoutSeconds: 1, pongTimeoutSeconds: 1 }, pusherOptions: { activityCheckMs: 100 } });
  try {
    const answering = await raw(s);
    answering.ws.on('message', (d) => {
      if (JSON.parse(d.toString()).event === 'pusher:ping') answering.send({ event: 'pusher:pong', data: {} });
    });
    const silent = await raw(s);
    assert.equal(JSON.parse(silent.msgs[0].data).activity_timeout, 1);
    await waitFor(() => silent.msgs.some((m) => m.event === 'pusher:ping'), 3000, 'server ping');
    assert.equal(await silent.closed, 4201);
    assert.ok(answering.msgs.filter((m) => m.event === 'pusher:ping').length >= 1);
    assert.equal(answering.ws.readyState, WebSocket.OPEN);
    answering.ws.close();
  } finally {
    await s.close();
  }
});

test('user-wide unsubscribe and disconnect (ban) reach presence members; shutdown closes with 4200', async () => {
  const s = await startPusherChat();
  try {
    const r = await raw(s);
    const channelData = JSON.stringify({ user_id: 'mallory' });
    r.send({ event: 'pusher:subscribe', data: { channel: 'presence-chat-l1', auth: channelAuth(APP_KEY, APP_SECRET, r.socketId, 'presence-chat-l1', channelData), channel_data: channelData } });
    await waitFor(() => r.msgs.some((m) => m.event === 'pusher_internal:subscription_succeeded'), 3000, 'subscribed');
    await s.chat.publisher.unsubscribeUser!('mallory', 'chat:l1');
    await waitFor(() => r.msgs.some((m) => m.event === 'pusher:subscription_error' && m.channel === 'presence-chat-l1'), 3000, 'server unsubscribe');
    await waitFor(async () => Object.keys(await s.chat.node.presence.presence('chat:l1')).length === 0, 3000, 'presence cleared');
    // Messages to the channel no longer reach it.
    await s.chat.publisher.publish('chat:l1', { text: 'after' });
    r.send({ event: 'pusher:subscribe', data: { channel: 'presence-chat-l1', auth: channelAuth(APP_KEY, APP_SECRET, r.socketId, 'presence-chat-l1', channelData), channel_data: channelData } });
    await waitFor(() => r.msgs.filter((m) => m.event === 'pusher_internal:subscription_succeeded').length === 2, 3000, 'subscribed again');
    await s.chat.publisher.disconnectUser!('mallory', 3100, 'banned');
    assert.equal(await r.closed, 4009);
    assert.ok(!r.msgs.some((m) => m.event === 'message'));

    const other = await raw(s);
    await s.pusher.stop();
    assert.equal(await other.closed, 4200);
  } finally {
    await s.close();
  }
});

test('over capacity: connections past chat.pusher.maxConnections are closed with 4100', async () => {
  const s = await startPusherChat({ pusher: { maxConnections: 2 } });
  try {
    const a = await raw(s);
    const b = await raw(s);
    const ws = new WebSocket(s.wsUrl);
    const msgs: any[] = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    const code = await new Promise<number>((r) => ws.on('close', (c) => r(c)));
    assert.equal(code, 4100);
    assert.equal(msgs[0].data.code, 4100);
    a.ws.close();
    await a.closed;
    await waitFor(() => s.pusher.server.numConnections === 1, 3000, 'a forgotten');
    const c = await raw(s);
    assert.equal(c.msgs[0].event, 'pusher:connection_established');
    b.ws.close();
    c.ws.close();
  } finally {
    await s.close();
  }
});
