// The whole onair server with chat.proxy set: the chat role builds the proxies from config
// (no wiring), the Cookie of the upgrade request reaches the backend, the metrics endpoint
// shows the calls, and stopping the server closes the backend connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startTestServer } from '../../testkit/server.js';
import { Backend } from '../../testkit/chat-proxy-backend.js';
import { waitFor } from '../../testkit/chat-server.js';

test('whole server: connect and rpc proxies from config; metrics; backend connections closed on stop', async () => {
  const backend = new Backend();
  await backend.start();
  backend.handlers.set('/connect', (_body, headers) => ({ result: { user: String(headers.cookie).replace('sid=', ''), info: { name: 'Olga' } } }));
  backend.handlers.set('/rpc', (body) => ({ result: { data: { sum: (body.data as number[]).reduce((a, b) => a + b, 0), user: body.user } } }));
  const s = await startTestServer({
    'chat.proxy': { connect: { endpoint: backend.url('/connect') }, rpc: { endpoint: backend.url('/rpc') }, httpHeaders: ['Cookie'] },
  });
  let ws: WebSocket | undefined;
  try {
    ws = new WebSocket(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, { headers: { Cookie: 'sid=olga' } });
    await new Promise<void>((resolve, reject) => {
      ws!.once('open', () => resolve());
      ws!.once('error', reject);
    });
    const replies: any[] = [];
    ws.on('message', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim() !== '' && line !== '{}') replies.push(JSON.parse(line));
    });
    ws.send(JSON.stringify({ id: 1, connect: {} }) + '\n' + JSON.stringify({ id: 2, rpc: { method: 'sum', data: [1, 2, 3] } }));
    await waitFor(() => replies.length >= 2, 5000, 'connect and rpc replies');
    assert.ok(replies[0].connect?.client, JSON.stringify(replies[0]));
    assert.deepEqual(replies[1], { id: 2, rpc: { data: { sum: 6, user: 'olga' } } });
    assert.equal(backend.callsTo('/connect')[0]!.headers.cookie, 'sid=olga');

    const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    assert.match(metrics, /onair_chat_proxy_call_seconds_count\{kind="connect",outcome="result"\} 1/);
    assert.match(metrics, /onair_chat_proxy_call_seconds_count\{kind="rpc",outcome="result"\} 1/);
    assert.ok(backend.openConnections >= 1);
  } finally {
    ws?.terminate();
    await s.close();
    await waitFor(() => backend.openConnections === 0, 3000, 'backend connections closed').finally(() => backend.close());
  }
});
