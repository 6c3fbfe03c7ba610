// Server HTTP API (POST /api/{method}) and the unidirectional transports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startChat, api, waitFor, SECRET, API_KEY, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';

const execFileP = promisify(execFile);
let s: ChatServer;

before(async () => {
  s = await startChat();
});
after(async () => {
  await s.close();
});

/** uniWs connects a unidirectional WebSocket client and collects its pushes. */
async function uniWs(user: string, extra: Record<string, unknown> = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/connection/uni_websocket`);
  const pushes: any[] = [];
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('message', (d) => pushes.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ token: await signConnectionToken(SECRET, { sub: user, ...extra }, 3600) }));
  await waitFor(() => pushes.some((p) => p.connect), 3000, 'connect push');
  return { ws, pushes, closed };
}

test('wrong or missing key is refused with 401; Authorization: apikey works', async () => {
  assert.equal((await api(s, 'info', {}, 'wrong-key-0123456789')).status, 401);
  const res = await fetch(`${s.httpUrl}/api/info`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 401);
  const ok = await fetch(`${s.httpUrl}/api/info`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `apikey ${API_KEY}` }, body: '{}' });
  assert.equal(ok.status, 200);
  const body = await ok.json();
  assert.equal(body.result.nodes.length, 1);
  assert.equal(typeof body.result.nodes[0].uptime, 'number');
  const unknown = await api(s, 'frobnicate', {});
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 104);
});

test('the server API takes a JSON body whatever its content type, as Centrifugo does (curl -d); the rest stays JSON-only', async () => {
  // curl -d sends application/x-www-form-urlencoded: the acceptance line of the operators' kit issue.
  const { stdout } = await execFileP('curl', ['-sS', '-X', 'POST', '-H', `X-API-Key: ${API_KEY}`, '-d', '{"channel":"chat:curl","data":{"text":"hi"}}', `${s.httpUrl}/api/publish`]);
  const viaCurl = JSON.parse(stdout);
  assert.equal(viaCurl.result.offset, 1);
  for (const type of ['text/plain', 'application/octet-stream', undefined]) {
    const headers: Record<string, string> = { 'x-api-key': API_KEY };
    if (type) headers['content-type'] = type;
    const res = await fetch(`${s.httpUrl}/api/publish`, { method: 'POST', headers, body: new TextEncoder().encode('{"channel":"chat:curl","data":{"n":2}}') });
    assert.equal(res.status, 200, `content type ${type ?? '(none)'}`);
    assert.ok((await res.json()).result.offset > 1);
  }
  const junk = await fetch(`${s.httpUrl}/api/publish`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'text/plain' }, body: 'channel=chat:curl' });
  assert.equal(junk.status, 400);
  assert.match((await junk.json()).error.message, /not valid JSON/);
  const empty = await fetch(`${s.httpUrl}/api/info`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(empty.status, 200);
  // Outside /api/{method} a text body is still named as a client mistake.
  const other = await fetch(`${s.httpUrl}/connection/uni_http_stream`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
  assert.equal(other.status, 415);
});

test('publish, broadcast, history, history_remove', async () => {
  const p1 = await api(s, 'publish', { channel: 'chat:api', data: { n: 1 }, tags: { kind: 'x' } });
  assert.equal(p1.body.result.offset, 1);
  assert.ok(p1.body.result.epoch);
  const bad = await api(s, 'publish', { channel: 'nope:api', data: {} });
  assert.equal(bad.body.error.code, 102);
  const missing = await api(s, 'publish', { channel: 'chat:api' });
  assert.equal(missing.body.error.code, 107);
  const skip = await api(s, 'publish', { channel: 'chat:api', data: { n: 0 }, skip_history: true });
  assert.deepEqual(skip.body, { result: {} });
  const b = await api(s, 'broadcast', { channels: ['chat:api', 'chat:api2', 'bad:x'], data: { n: 2 } });
  assert.equal(b.body.result.responses.length, 3);
  assert.equal(b.body.result.responses[0].result.offset, 2);
  assert.equal(b.body.result.responses[1].result.offset, 1);
  assert.equal(b.body.result.responses[2].error.code, 102);
  const h = await api(s, 'history', { channel: 'chat:api', limit: 10 });
  assert.deepEqual(h.body.result.publications, [
    { data: { n: 1 }, offset: 1, tags: { kind: 'x' } },
    { data: { n: 2 }, offset: 2 },
  ]);
  assert.equal(h.body.result.offset, 2);
  const since = await api(s, 'history', { channel: 'chat:api', limit: 10, since: { offset: 1, epoch: h.body.result.epoch } });
  assert.equal(since.body.result.publications.length, 1);
  const rev = await api(s, 'history', { channel: 'chat:api', limit: 1, reverse: true });
  assert.deepEqual(rev.body.result.publications[0].data, { n: 2 });
  assert.equal((await api(s, 'history', { channel: 'effects:x' })).body.error.code, 108);
  assert.deepEqual((await api(s, 'history_remove', { channel: 'chat:api' })).body, { result: {} });
  const after = await api(s, 'history', { channel: 'chat:api', limit: 10 });
  assert.deepEqual(after.body.result.publications, []);
  assert.equal(after.body.result.offset, 2);
});

test('presence, presence_stats, channels, subscribe, unsubscribe, refresh, disconnect, batch (uni_websocket client)', async () => {
  const c = await uniWs('zed');
  const connect = c.pushes.find((p) => p.connect).connect;
  assert.ok(connect.client);
  await api(s, 'subscribe', { user: 'zed', channel: 'chat:uni' });
  await waitFor(() => c.pushes.some((p) => p.channel === 'chat:uni' && p.subscribe), 3000, 'subscribe push');
  const pr = await api(s, 'presence', { channel: 'chat:uni' });
  assert.deepEqual(Object.values(pr.body.result.presence), [{ user: 'zed', client: connect.client }]);
  assert.deepEqual((await api(s, 'presence_stats', { channel: 'chat:uni' })).body.result, { num_clients: 1, num_users: 1 });
  const ch = await api(s, 'channels', { pattern: 'chat:u*' });
  assert.deepEqual(ch.body.result.channels, { 'chat:uni': { num_clients: 1 } });
  await api(s, 'publish', { channel: 'chat:uni', data: { hello: 'uni' } });
  await waitFor(() => c.pushes.some((p) => p.pub), 3000, 'pub push');
  assert.deepEqual(c.pushes.find((p) => p.pub), { channel: 'chat:uni', pub: { data: { hello: 'uni' }, offset: 1 } });
  const batch = await api(s, 'batch', { commands: [{ publish: { channel: 'chat:uni', data: { b: 1 } } }, { presence_stats: { channel: 'chat:uni' } }, { nope: {} }] });
  assert.equal(batch.body.result.replies[0].publish.offset, 2);
  assert.deepEqual(batch.body.result.replies[1].presence_stats, { num_clients: 1, num_users: 1 });
  assert.equal(batch.body.result.replies[2].error.code, 104);
  await api(s, 'refresh', { user: 'zed', expire_at: Math.floor(Date.now() / 1000) + 600 });
  await waitFor(() => c.pushes.some((p) => p.refresh), 3000, 'refresh push');
  assert.equal(c.pushes.find((p) => p.refresh).refresh.expires, true);
  await api(s, 'unsubscribe', { user: 'zed', channel: 'chat:uni' });
  await waitFor(() => c.pushes.some((p) => p.unsubscribe), 3000, 'unsubscribe push');
  assert.equal(c.pushes.find((p) => p.unsubscribe).unsubscribe.code, 2000);
  await api(s, 'disconnect', { user: 'zed', disconnect: { code: 4501, reason: 'go away' } });
  const closed = await c.closed;
  assert.deepEqual(closed, { code: 4501, reason: 'go away' });
});

test('uni_sse and uni_http_stream deliver a connect push and publications; a bad token ends with a disconnect push', async () => {
  const token = await signConnectionToken(SECRET, { sub: 'sse', channels: ['events:live'] }, 3600);
  const ctrl = new AbortController();
  const res = await fetch(`${s.httpUrl}/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify({ token }))}`, { signal: ctrl.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  let text = '';
  const events = (): any[] =>
    text
      .split('\n\n')
      .map((e) => e.trim())
      .filter((e) => e.startsWith('data: '))
      .map((e) => JSON.parse(e.slice(6)));
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += Buffer.from(value!).toString();
    }
  })();
  await waitFor(() => events().some((e) => e.connect), 3000, 'sse connect');
  assert.ok(events()[0].connect.subs['events:live']);
  await api(s, 'publish', { channel: 'events:live', data: { live: true } });
  await waitFor(() => events().some((e) => e.pub), 3000, 'sse pub');
  assert.deepEqual(events().find((e) => e.pub), { channel: 'events:live', pub: { data: { live: true }, offset: 1 } });

  const ctrl2 = new AbortController();
  const res2 = await fetch(`${s.httpUrl}/connection/uni_http_stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: await signConnectionToken(SECRET, { sub: 'hs', channels: ['events:live'] }, 3600) }),
    signal: ctrl2.signal,
  });
  const r2 = res2.body!.getReader();
  let t2 = '';
  const lines = (): any[] => t2.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const pump2 = (async () => {
    for (;;) {
      const { value, done } = await r2.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      t2 += Buffer.from(value!).toString();
    }
  })();
  await waitFor(() => lines().some((l) => l.connect), 3000, 'http_stream connect');
  await api(s, 'publish', { channel: 'events:live', data: { n: 2 } });
  await waitFor(() => lines().some((l) => l.pub) && events().filter((e) => e.pub).length === 2, 3000, 'both got pub');
  assert.deepEqual(lines().find((l) => l.pub).pub.data, { n: 2 });

  // A bad token ends the stream with a disconnect push.
  const res3 = await fetch(`${s.httpUrl}/connection/uni_http_stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"nope"}' });
  const t3 = await res3.text();
  assert.deepEqual(JSON.parse(t3.trim()), { disconnect: { code: 3500, reason: 'invalid token', reconnect: false } });
  ctrl.abort();
  ctrl2.abort();
  await pump;
  await pump2;
  await waitFor(() => s.chat.stats().clients === 0, 3000, 'streams closed');
});
