// A flood of POST /emulation requests (chat.emulationRate): refused with 429 per session and per
// address, the session and an SDK client on the same address carry on once the flood stops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import { startChat, waitFor, sleep, SECRET, type ChatServer } from '../../testkit/chat-server.js';
import { signConnectionToken } from '../../src/chat/index.js';

let s: ChatServer;
before(async () => {
  s = await startChat({ chat: { emulationRate: { perSessionPerSecond: 5, perSessionBurst: 10, perIpPerSecond: 5, perIpBurst: 60, maxTracked: 1000 } } });
});
after(async () => {
  await s.close();
});

/** openStream opens a raw http_stream session and collects its replies (JSON lines). */
async function openStream(user: string) {
  const ctrl = new AbortController();
  const token = await signConnectionToken(SECRET, { sub: user }, 3600);
  const res = await fetch(`${s.httpUrl}/connection/http_stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 1, connect: { token } }),
    signal: ctrl.signal,
  });
  const replies: any[] = [];
  let text = '';
  const reader = res.body!.getReader();
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done || value === undefined) return;
      text += Buffer.from(value).toString();
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      for (const l of lines) if (l !== '') replies.push(JSON.parse(l));
    }
  })();
  await waitFor(() => replies.some((r) => r.connect), 3000, 'connect reply');
  const { session, node } = replies[0].connect as { session: string; node: string };
  return { replies, session, node, close: async () => (ctrl.abort(), await pump) };
}

function post(body: unknown): Promise<number> {
  return fetch(`${s.httpUrl}/emulation`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });
}

test('one session flooding: 429 beyond its bucket, the session keeps working', async () => {
  const st = await openStream('flooder');
  const statuses: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 40; i++) statuses.push(await post({ session: st.session, node: st.node, data: JSON.stringify({ id: 100 + i, presence_stats: { channel: 'chat:x' } }) }));
  const ok = statuses.filter((c) => c === 200).length;
  const refused = statuses.filter((c) => c === 429).length;
  assert.equal(ok + refused, 40, `only 200 and 429: ${statuses.join(',')}`);
  // The burst (10) and what refilled (5/s) while the flood ran got through; nothing more.
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(ok >= 10 && ok <= 10 + Math.ceil(5 * seconds) + 1, `${ok} taken in ${seconds.toFixed(2)} s`);
  assert.ok(refused > 0);
  // The taken ones were answered on the stream; the refused ones never reached the session.
  await waitFor(() => st.replies.filter((r) => r.id >= 100).length === ok, 3000, 'replies of the taken requests');
  await sleep(1100);
  assert.equal(await post({ session: st.session, node: st.node, data: JSON.stringify({ id: 999, ping: {} }) }), 200, 'the bucket refilled');
  await waitFor(() => st.replies.some((r) => r.id === 999), 3000, 'reply after the flood');
  await st.close();
});

test('one address flooding with forged sessions: 429 before the session is even checked; an SDK client of that address survives', async () => {
  await sleep(2000); // the address's bucket gets some tokens back after the previous test
  const sdk = new Centrifuge([{ transport: 'http_stream', endpoint: `${s.httpUrl}/connection/http_stream` }], {
    fetch: globalThis.fetch,
    readableStream: globalThis.ReadableStream,
    emulationEndpoint: `${s.httpUrl}/emulation`,
    getToken: async () => signConnectionToken(SECRET, { sub: 'bystander' }, 3600),
    timeout: 1000,
  });
  let disconnects = 0;
  sdk.on('disconnected', () => disconnects++);
  await new Promise<void>((r) => {
    sdk.once('connected', () => r());
    sdk.connect();
  });
  const sub = sdk.newSubscription('chat:flood');
  sub.subscribe();
  await sub.ready(3000);

  const t0 = performance.now();
  const statuses = await Promise.all(Array.from({ length: 150 }, (_, i) => post({ session: `forged${i}.AAAA`, node: 'n', data: '{}' })));
  const notFound = statuses.filter((c) => c === 404).length;
  const refused = statuses.filter((c) => c === 429).length;
  assert.equal(notFound + refused, 150, statuses.join(','));
  // Forged ids are 404 only while the address has tokens: at most the burst (60) and the refill (5/s).
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(refused > 0 && notFound <= 60 + Math.ceil(5 * seconds) + 1, `${notFound} checked, ${refused} refused in ${seconds.toFixed(2)} s`);
  // During the flood the SDK's command may be refused (it times out); after it, commands go through again.
  await sub.publish({ during: true }).catch(() => undefined);
  await sleep(1500); // a few tokens back for the address
  const stats = await sub.presenceStats();
  assert.deepEqual(stats, { numClients: 1, numUsers: 1 });
  assert.equal(disconnects, 0, 'the SDK kept its connection');
  sdk.disconnect();
  await waitFor(() => s.chat.stats().clients === 0, 3000, 'closed');
});
