// Deleted and cleared chat messages leave history too: a later history call or a new
// subscriber never sees them again (official centrifuge SDK against the whole server).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Centrifuge, type Subscription } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';

describe('moderation removes messages from chat history', () => {
  let s: TestServer;
  let owner: string;
  let client: Centrifuge;
  let sub: Subscription;
  const seen: any[] = [];

  before(async () => {
    s = await startTestServer();
    owner = (await s.api('POST', '/api/v1/auth/register', { username: 'host', password: 'hunter2hunter2' })).body.token;
    assert.equal((await s.api('POST', '/api/v1/channels', { name: 'hist' }, owner)).status, 201);
    const chatToken = (await s.api('POST', '/api/v1/chat/token', undefined, owner)).body.token;
    client = new Centrifuge(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, { websocket: WebSocket, token: chatToken });
    sub = client.newSubscription('chat:hist');
    sub.on('publication', (ctx) => seen.push(ctx.data));
    const ready = new Promise((r) => sub.once('subscribed', r));
    sub.subscribe();
    client.connect();
    await ready;
  });
  after(async () => {
    client?.disconnect();
    await s?.close();
  });

  // user messages only (system notices such as 'chat was cleared' stay visible by design)
  const historyTexts = async () => (await sub.history({ limit: 50 })).publications.map((p) => p.data).filter((d) => d.type === 'message').map((d) => d.text);
  const waitFor = async (pred: () => boolean) => {
    for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(pred());
  };

  test('a deleted message is gone from history; others stay', async () => {
    await sub.publish({ text: 'first' });
    await sub.publish({ text: 'second' });
    await waitFor(() => seen.filter((d) => d.type === 'message').length === 2);
    assert.deepEqual(await historyTexts(), ['first', 'second']);
    const id = seen.find((d) => d.text === 'first').id;
    const del = await s.api('DELETE', `/api/v1/channels/hist/moderation/messages/${encodeURIComponent(id)}`, undefined, owner);
    assert.ok(del.status < 300, JSON.stringify(del.body));
    await waitFor(() => seen.some((d) => d.type === 'delete'));
    assert.deepEqual(await historyTexts(), ['second']);
    // limit windows are cut after filtering: the newest visible message is still returned
    assert.deepEqual((await sub.history({ limit: 1, reverse: true })).publications.map((p) => (p.data).type), ['delete']);
  });

  test('clear empties the visible history', async () => {
    const clr = await s.api('POST', '/api/v1/channels/hist/moderation/clear', undefined, owner);
    assert.ok(clr.status < 300, JSON.stringify(clr.body));
    await waitFor(() => seen.some((d) => d.type === 'clear'));
    assert.deepEqual(await historyTexts(), []);
    await sub.publish({ text: 'after' });
    await waitFor(() => seen.some((d) => d.text === 'after'));
    assert.deepEqual(await historyTexts(), ['after']);
  });
});
