// Write coalescing (chat.writeBatchMs): publications of one window reach a subscriber in one
// frame and one write, a quiet channel's publication goes out at once, replies are not held
// back, the official SDK reads batched frames, and the slow-client limit still holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type PublicationContext } from 'centrifuge';
import { startChat, api, waitFor, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';

interface Frame {
  at: number;
  lines: any[];
}

/** rawSubscriber connects a raw WebSocket client, subscribes and records every frame it gets. */
async function rawSubscriber(s: ChatServer, channel: string, user = 'u1') {
  const ws = new WebSocket(s.wsUrl);
  const frames: Frame[] = [];
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('message', (d) => {
    const lines = d
      .toString()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
    if (lines.length === 1 && Object.keys(lines[0]).length === 0) {
      ws.send('{}'); // pong
      return;
    }
    frames.push({ at: Date.now(), lines });
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  const token = await signConnectionToken(SECRET, { sub: user }, 3600);
  ws.send(JSON.stringify({ id: 1, connect: { token } }) + '\n' + JSON.stringify({ id: 2, subscribe: { channel } }));
  const all = () => frames.flatMap((f) => f.lines);
  await waitFor(() => all().some((l) => l.id === 2), 3000, 'subscribe reply');
  const pubs = () => all().filter((l) => l.push?.pub).map((l) => l.push.pub.data);
  const pubFrames = () => frames.filter((f) => f.lines.some((l) => l.push?.pub));
  return { ws, frames, closed, all, pubs, pubFrames };
}

test('writeBatchMs: a quiet channel publishes at once, a burst within the window comes in one frame, in order', async () => {
  // A long window so that a loaded test machine cannot stretch the burst across it.
  const s = await startChat({ chat: { writeBatchMs: 1000 } });
  try {
    const sub = await rawSubscriber(s, 'chat:batch');
    // Quiet channel: the first publication is written in the next event-loop turn, alone.
    await api(s, 'publish', { channel: 'chat:batch', data: { n: 0 } });
    await waitFor(() => sub.pubs().length === 1, 3000, 'first publication');
    // A burst right after it falls into the next window: one frame, newline-joined pushes.
    await Promise.all(Array.from({ length: 10 }, (_, i) => api(s, 'publish', { channel: 'chat:batch', data: { n: i + 1 } })));
    await waitFor(() => sub.pubs().length === 11, 5000, 'the burst');
    assert.deepEqual(new Set(sub.pubs().map((d) => d.n)), new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const frames = sub.pubFrames();
    assert.equal(frames[0]!.lines.length, 1, 'the first publication was not held back for later ones');
    assert.equal(frames.length, 2, `the burst came in one frame, got ${frames.length - 1}`);
    // Offsets (history on in the chat namespace) stay consecutive and in order across batching.
    const offsets = sub.all().filter((l) => l.push?.pub).map((l) => l.push.pub.offset);
    assert.deepEqual(offsets, offsets.map((_, i) => offsets[0] + i));
    sub.ws.close();
  } finally {
    await s.close();
  }
});

test('writeBatchMs: replies are not held back behind a publication window', async () => {
  const s = await startChat({ chat: { writeBatchMs: 1000 } });
  try {
    const sub = await rawSubscriber(s, 'chat:replies');
    await api(s, 'publish', { channel: 'chat:replies', data: { n: 0 } });
    await waitFor(() => sub.pubs().length === 1, 3000, 'first publication');
    // The next publication waits for its window; a command reply in the meantime does not.
    await api(s, 'publish', { channel: 'chat:replies', data: { n: 1 } });
    sub.ws.send(JSON.stringify({ id: 3, presence_stats: { channel: 'chat:replies' } }));
    await waitFor(() => sub.all().some((l) => l.id === 3), 3000, 'presence_stats reply');
    const idxReply = sub.all().findIndex((l) => l.id === 3);
    const idxPub1 = sub.all().findIndex((l) => l.push?.pub?.data?.n === 1);
    assert.ok(idxPub1 === -1 || idxPub1 > idxReply, 'reply written before the held publication');
    await waitFor(() => sub.pubs().length === 2, 3000, 'held publication');
    sub.ws.close();
  } finally {
    await s.close();
  }
});

test('writeBatchMs: the official SDK gets every batched publication in order', async () => {
  const s = await startChat({ chat: { writeBatchMs: 100 } });
  const c = new Centrifuge(s.wsUrl, {
    websocket: WebSocket,
    getToken: async () => signConnectionToken(SECRET, { sub: 'sdk' }, 3600),
  });
  try {
    await new Promise<void>((r) => {
      c.once('connected', () => r());
      c.connect();
    });
    const sub = c.newSubscription('chat:sdkbatch');
    const got: PublicationContext[] = [];
    sub.on('publication', (ctx) => got.push(ctx));
    sub.subscribe();
    await sub.ready(3000);
    await Promise.all(Array.from({ length: 40 }, (_, n) => api(s, 'publish', { channel: 'chat:sdkbatch', data: { n } })));
    await waitFor(() => got.length === 40, 5000, 'all publications through the SDK');
    // Offsets are in order even though the API calls ran concurrently.
    const offsets = got.map((g) => Number(g.offset));
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
    assert.deepEqual(new Set(got.map((g) => (g.data as { n: number }).n)).size, 40);
  } finally {
    c.disconnect();
    await s.close();
  }
});

test('writeBatchMs: a slow client is still disconnected with 3008 and a fast one gets everything', async () => {
  const s = await startChat({ chat: { writeBatchMs: 20, writeQueueMaxBytes: 256 * 1024 } });
  try {
    const slow = await rawSubscriber(s, 'chat:flood', 'slow');
    const fast = await rawSubscriber(s, 'chat:flood', 'fast');
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = 'y'.repeat(16 * 1024);
    const before = s.chat.stats().clients;
    let sent = 0;
    for (let i = 0; i < 1500 && s.chat.stats().clients === before; i++) {
      await api(s, 'publish', { channel: 'chat:flood', data: { i, payload } });
      sent++;
    }
    await waitFor(() => s.chat.stats().clients === before - 1, 5000, 'slow client dropped');
    assert.match(await s.registry.getSingleMetricAsString('onair_chat_disconnects_total'), /code="3008"\} 1/);
    await waitFor(() => fast.pubs().length === sent, 10000, 'fast client got everything');
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    assert.equal(await slow.closed, 3008);
    fast.ws.close();
  } finally {
    await s.close();
  }
});
