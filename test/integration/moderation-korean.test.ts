// Korean-first chat through the whole server with the official centrifuge SDK: the default word
// list on a fresh install's chat:demo, the review queue over REST, coded system messages and
// effect emoji typed in chat (issue 22).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Centrifuge, type PublicationContext } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { signChatToken, chatInfoFor } from '../../src/platform/chat-tokens.js';
import { ModerationCodes as C } from '../../src/chat/moderation/codes.js';
import { connectUser, rejectsWith, waitFor, type ChatUser } from './helpers/moderation.js';

let s: TestServer;
const ids: Record<string, string> = {};
const sessions: Record<string, string> = {};
const u: Record<string, ChatUser> = {};

before(async () => {
  s = await startTestServer();
  const p = s.platform;
  for (const n of ['boss', 'viewer', 'fan']) {
    ids[n] = (await p.users.create({ username: n, password: 'password1' })).id;
    sessions[n] = (await p.sessions.create(ids[n])).token;
  }
  // The fresh install's demo channel (made at start); boss becomes its manager.
  const demo = await p.channels.require('demo');
  await p.channels.grantManager(demo.id, ids.boss!, null);
  const ws = `ws://127.0.0.1:${s.httpPort}/connection/websocket`;
  for (const n of Object.keys(ids)) u[n] = await connectUser(ws, s.secrets.chatTokenSecret, p, ids[n]!, 'demo');
});

after(async () => {
  for (const c of Object.values(u)) c.close();
  await s?.close();
});

const seen = (pred: (d: any) => boolean, what: string) => waitFor(() => u.boss!.pubs.some(pred), 3000, what);

test('fresh install: "시발 뭐야" in chat:demo is masked by the default list, "시발점에서 만나" passes', async () => {
  await u.viewer!.say('시발 뭐야');
  await u.viewer!.say('시발점에서 만나');
  await seen((d) => d.text === '시발점에서 만나', 'the ordinary sentence');
  await seen((d) => d.text === '*** 뭐야', 'the masked one');
  assert.ok(!u.boss!.pubs.some((d) => typeof d.text === 'string' && d.text.includes('시발 ')), 'never shown unmasked');
});

test('hold: the message waits in the review queue until a manager approves it over REST', async () => {
  assert.equal((await s.api('POST', '/api/v1/channels/demo/moderation/filters', { word: '도배', action: 'hold' }, sessions.boss)).status, 200);
  await rejectsWith(u.viewer!.say('도배 갑니다'), C.messageHeld);
  await u.viewer!.say('다음 메시지');
  await seen((d) => d.text === '다음 메시지', 'a later message');
  assert.ok(!u.boss!.pubs.some((d) => d.text === '도배 갑니다'), 'held out of the room');
  assert.equal((await s.api('GET', '/api/v1/channels/demo/moderation/held', undefined, sessions.viewer)).status, 403);
  const list = await s.api('GET', '/api/v1/channels/demo/moderation/held', undefined, sessions.boss);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.messages.map((m: any) => [m.word, m.message.text, m.userId]), [['도배', '도배 갑니다', ids.viewer]]);
  const id = list.body.messages[0].id as string;
  const ok = await s.api('POST', `/api/v1/channels/demo/moderation/held/${id}/approve`, undefined, sessions.boss);
  assert.deepEqual([ok.status, ok.body.code], [200, 'held_approved']);
  await seen((d) => d.text === '도배 갑니다' && d.id === id, 'the approved message');
  assert.equal((await s.api('POST', `/api/v1/channels/demo/moderation/held/${id}/reject`, undefined, sessions.boss)).status, 404);
  const audit = await s.api('GET', '/api/v1/channels/demo/moderation/audit?action=held_approve', undefined, sessions.boss);
  assert.equal(audit.body.entries[0]?.targetName, 'viewer');
  await s.api('DELETE', `/api/v1/channels/demo/moderation/filters/${encodeURIComponent('도배')}`, undefined, sessions.boss);
});

test('/slow 10 publishes a coded system message; /slow again toggles it off; /help answers over RPC', async () => {
  await u.boss!.say('/slow 10');
  await seen((d) => d.type === 'system' && d.code === 'slow_mode_on' && d.params?.seconds === 10 && d.event === 'mode' && /10s/.test(d.text), 'slow_mode_on');
  await u.boss!.say('/slow');
  await seen((d) => d.type === 'system' && d.code === 'slow_mode_off', 'slow_mode_off');
  const help = await u.viewer!.rpc('mod.command', { channel: 'demo', command: '/help' });
  assert.deepEqual([help.code, help.data.commands], ['help', ['help']]);
  const bossHelp = await u.boss!.rpc('mod.command', { channel: 'demo', command: '/help' });
  assert.ok(bossHelp.data.commands.includes('ban'));
});

test('"🎉🎉" typed in chat publishes on effects:demo within 2 s', async () => {
  const client = new Centrifuge(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, {
    websocket: WebSocket,
    getToken: async () => (await signChatToken(s.secrets.chatTokenSecret, ids.fan!, await chatInfoFor(s.platform, ids.fan!), 3600)).token,
  });
  const got: any[] = [];
  client.connect();
  const sub = client.newSubscription('effects:demo');
  sub.on('publication', (ctx: PublicationContext) => got.push(ctx.data));
  sub.subscribe();
  await sub.ready(5000);
  try {
    const sent = Date.now();
    await u.fan!.say('🎉🎉');
    await waitFor(() => got.some((d) => d.type === 'effects' && d.counts?.party >= 2), 2000, 'an effects publication');
    assert.ok(Date.now() - sent <= 2000);
    await seen((d) => d.text === '🎉🎉', 'the message itself');
  } finally {
    client.disconnect();
  }
});
