// Start/stop symmetry, shutdown code, metrics, and a bounded live fuzz against a running server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startChat, waitFor, SECRET } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';

function resources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
}

test('stop closes connections with 3001 shutdown and leaves no handles; metrics are exported', async () => {
  const baseline = resources().length;
  const s = await startChat();
  const ws = new WebSocket(s.wsUrl);
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  const got: string[] = [];
  ws.on('message', (d) => got.push(d.toString()));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ id: 1, connect: { token: await signConnectionToken(SECRET, { sub: 'm' }, 60) } }));
  ws.send(JSON.stringify({ id: 2, subscribe: { channel: 'chat:m' } }));
  await waitFor(() => got.some((g) => g.includes('"id":2')), 3000, 'subscribed');
  await s.chat.publisher.publish('chat:m', { x: 1 });
  await waitFor(() => got.some((g) => g.includes('"pub"')), 3000, 'pub');
  const text = await s.registry.metrics();
  for (const name of ['onair_chat_connections 1', 'onair_chat_subscriptions 1', 'onair_chat_messages_in_total{method="connect"} 1', 'onair_chat_messages_out_total', 'onair_chat_broker_publish_seconds_bucket']) {
    assert.ok(text.includes(name), name);
  }
  await s.close();
  assert.equal(await closed, 3001);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(resources().length <= baseline, `resources left: ${resources().join(',')}`);
});

test('live fuzz: mutated frames get replies or a 3501 close, and the server keeps serving', async () => {
  const s = await startChat();
  try {
    const token = await signConnectionToken(SECRET, { sub: 'fz' }, 60);
    const valid = [
      `{"id":2,"subscribe":{"channel":"chat:f"}}`,
      `{"id":3,"publish":{"channel":"chat:f","data":{"t":"x"}}}`,
      `{"id":4,"history":{"channel":"chat:f","limit":5,"since":{"offset":1,"epoch":"x"}}}`,
      `{"id":5,"presence":{"channel":"chat:f"}}`,
      `{"id":6,"rpc":{"method":"m","data":[1]}}`,
      `{"id":7,"unsubscribe":{"channel":"chat:f"}}`,
    ];
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const junk = '{}[]":,0123456789-abc\n';
    for (let round = 0; round < 40; round++) {
      const ws = new WebSocket(s.wsUrl);
      const closed = new Promise<number>((r) => ws.on('close', (c) => r(c)));
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ id: 1, connect: { token } }));
      for (let i = 0; i < 10; i++) {
        const chars = [...valid[Math.floor(rand() * valid.length)]!];
        for (let e = 0; e < 1 + Math.floor(rand() * 3); e++) chars[Math.floor(rand() * chars.length)] = junk[Math.floor(rand() * junk.length)]!;
        ws.send(chars.join(''));
      }
      ws.send('{"id":99,"ping":{}}');
      const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(0), 300))]);
      assert.ok(code === 0 || code === 3501 || code === 1005 || code === 1006, `unexpected close ${code}`);
      if (code === 0) ws.close();
    }
    // Still serving normally.
    const ws = new WebSocket(s.wsUrl);
    const got: string[] = [];
    ws.on('message', (d) => got.push(d.toString()));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ id: 1, connect: { token } }));
    await waitFor(() => got.some((g) => g.includes('"connect"')), 3000, 'connect after fuzz');
    ws.close();
  } finally {
    await s.close();
  }
});

test('a connection that never sends connect is closed with 3502 stale', async () => {
  const s = await startChat({ options: { staleCloseDelayMs: 300 } });
  try {
    const ws = new WebSocket(s.wsUrl);
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.once('open', r));
    assert.equal(await closed, 3502);
  } finally {
    await s.close();
  }
});

test('a gap in a channel stream makes positioned subscribers resubscribe (unsubscribe 2500)', async () => {
  const s = await startChat();
  try {
    const ws = new WebSocket(s.wsUrl);
    const got: any[] = [];
    ws.on('message', (d) => {
      for (const l of d.toString().split('\n')) got.push(JSON.parse(l));
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ id: 1, connect: { token: await signConnectionToken(SECRET, { sub: 'g' }, 60) } }));
    ws.send(JSON.stringify({ id: 2, subscribe: { channel: 'chat:gap', recoverable: true } }));
    ws.send(JSON.stringify({ id: 3, subscribe: { channel: 'effects:gap' } }));
    await waitFor(() => got.some((g) => g.id === 3), 3000, 'subscribed');
    const sub = got.find((g) => g.id === 2).subscribe;
    assert.equal(sub.recoverable, true);
    assert.equal(sub.positioned, true);
    await s.chat.publisher.publish('chat:gap', { n: 1 });
    await waitFor(() => got.some((g) => g.push?.pub), 3000, 'first pub');
    // Offset 3 arrives after 1: offset 2 was lost between broker and node.
    s.chat.node.onPublication('chat:gap', { data: '{"n":3}', offset: 3 }, got.find((g) => g.push?.pub) && sub.epoch);
    await waitFor(() => got.some((g) => g.push?.unsubscribe), 3000, 'unsubscribe push');
    assert.deepEqual(got.find((g) => g.push?.unsubscribe).push, { channel: 'chat:gap', unsubscribe: { code: 2500, reason: 'insufficient state' } });
    assert.equal(s.chat.stats().subscriptions, 1, 'non-positioned subscription kept');
    ws.close();
  } finally {
    await s.close();
  }
});

test('a publication to many subscribers is encoded once: every socket gets the same Buffer', async () => {
  const s = await startChat();
  try {
    const token = await signConnectionToken(SECRET, { sub: 'enc' }, 60);
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 5; i++) {
      const ws = new WebSocket(s.wsUrl);
      const got: string[] = [];
      ws.on('message', (d) => got.push(d.toString()));
      await new Promise((r) => ws.once('open', r));
      ws.send(`{"id":1,"connect":{"token":"${token}"}}\n{"id":2,"subscribe":{"channel":"chat:enc"}}`);
      await waitFor(() => got.join('').includes('"id":2'), 3000, 'subscribed');
      sockets.push(ws);
    }
    const entries: any[] = [...s.chat.node.hub.subscriptions()].filter((e) => e.channel === 'chat:enc');
    assert.equal(entries.length, 5);
    const written: Buffer[] = [];
    for (const e of entries) {
      const sock = e.client.transport.ws._socket;
      const orig = sock.write.bind(sock);
      sock.write = (b: Buffer, ...rest: unknown[]) => {
        written.push(b);
        return orig(b, ...rest);
      };
    }
    await s.chat.publisher.publish('chat:enc', { text: 'once' });
    await waitFor(() => written.length === 5, 3000, 'writes');
    assert.ok(written.every((b) => b === written[0]), 'same Buffer object for every subscriber');
    assert.match(written[0]!.subarray(2).toString(), /^\{"push":\{"channel":"chat:enc","pub":\{"data":\{"text":"once"\},"offset":1\}\}\}$/);
    for (const ws of sockets) ws.close();
  } finally {
    await s.close();
  }
});

test('presence entries are refreshed by the node while the client stays subscribed, and expire once it stops', async () => {
  const s = await startChat({ options: { presenceTtlSeconds: 1, presenceRefreshMs: 250 } });
  try {
    const ws = new WebSocket(s.wsUrl);
    const got: string[] = [];
    ws.on('message', (d) => got.push(d.toString()));
    await new Promise((r) => ws.once('open', r));
    ws.send(`{"id":1,"connect":{"token":"${await signConnectionToken(SECRET, { sub: 'p' }, 60)}"}}\n{"id":2,"subscribe":{"channel":"chat:pres"}}`);
    await waitFor(() => got.join('').includes('"id":2'), 3000, 'subscribed');
    await new Promise((r) => setTimeout(r, 2000));
    const p = await s.chat.node.presence.presence('chat:pres');
    assert.equal(Object.keys(p).length, 1, 'still present after twice the TTL');
    // Without refreshes (the node forgets it, as a crashed node would) the entry expires.
    await s.chat.node.presence.addPresence('chat:pres', 'ghost', { user: 'x', client: 'ghost' }, 1);
    await new Promise((r) => setTimeout(r, 1300));
    assert.deepEqual(Object.keys(await s.chat.node.presence.presence('chat:pres')).length, 1);
    ws.close();
  } finally {
    await s.close();
  }
});
