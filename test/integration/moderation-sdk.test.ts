// Moderation through the whole server with the official centrifuge SDK over WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ModerationCodes as C } from '../../src/chat/moderation/codes.js';
import { connectUser, rejectsWith, sleep, waitFor, type ChatUser } from './helpers/moderation.js';

let s: TestServer;
const ids: Record<string, string> = {};
const sessions: Record<string, string> = {};
const u: Record<string, ChatUser> = {};
let channelId = '';

before(async () => {
  s = await startTestServer({ 'moderation.rateLimitMessages': 12, 'moderation.rateLimitWindowSeconds': 2 });
  const p = s.platform;
  for (const n of ['owner', 'mgr', 'viewer', 'viewer2', 'subber', 'spammer']) {
    ids[n] = (await p.users.create({ username: n, password: 'password1' })).id;
    sessions[n] = (await p.sessions.create(ids[n])).token;
  }
  const { channel } = await p.channels.create({ name: 'room', ownerId: ids.owner });
  channelId = channel.id;
  await p.channels.grantManager(channel.id, ids.mgr!, ids.owner!);
  await p.social.subscribe(ids.subber!, channel.id, 30);
  const ws = `ws://127.0.0.1:${s.httpPort}/connection/websocket`;
  for (const n of Object.keys(ids)) u[n] = await connectUser(ws, s.secrets.chatTokenSecret, p, ids[n]!, 'room');
});

after(async () => {
  for (const c of Object.values(u)) c.close();
  await s?.close();
});

/** seen waits until the owner's client received a publication matching pred. */
const seen = (pred: (d: any) => boolean, what: string) => waitFor(() => u.owner!.pubs.some(pred), 3000, what);

test('a message is stamped by the server and delivered; forged fields are replaced', async () => {
  await u.viewer!.sub.publish({ type: 'message', text: 'hello room', id: 'forged', user: { id: ids.owner, badges: ['owner'] } });
  await seen((d) => d.text === 'hello room', 'hello room');
  const m = u.owner!.pubs.find((d) => d.text === 'hello room');
  assert.equal(m.type, 'message');
  assert.notEqual(m.id, 'forged');
  assert.equal(m.user.id, ids.viewer);
  assert.equal(m.user.username, 'viewer');
  assert.deepEqual(m.user.badges, []);
  await u.owner!.say('owner speaking');
  await seen((d) => d.text === 'owner speaking' && d.user.badges.includes('owner'), 'owner badge');
});

test('unknown and unauthorised commands: error to the sender only, never published', async () => {
  const before = u.owner!.pubs.length;
  await rejectsWith(u.viewer!.say('/frobnicate now'), C.unknownCommand);
  await rejectsWith(u.viewer!.say('/ban viewer2'), C.notAllowed);
  await rejectsWith(u.viewer!.say('/slow 5'), C.notAllowed);
  await rejectsWith(u.mgr!.say('/mod viewer'), C.notAllowed);
  await rejectsWith(u.mgr!.say('/ban owner'), C.targetProtected);
  await rejectsWith(u.mgr!.say('/ban ghost-user'), C.targetNotFound);
  await u.viewer!.say('marker after refusals');
  await seen((d) => d.text === 'marker after refusals', 'marker');
  const published = u.owner!.pubs.slice(before);
  assert.deepEqual(published.map((d) => d.text), ['marker after refusals']);
});

test('slow mode: announced, refused with remaining time, managers exempt, then off', async () => {
  await u.mgr!.say('/slow 3');
  await seen((d) => d.type === 'system' && d.event === 'mode' && d.modes?.slowSeconds === 3, 'slow announcement');
  await u.viewer!.say('slow one');
  const msg = await rejectsWith(u.viewer!.say('slow two'), C.slowMode);
  assert.match(msg, /you can chat again in \ds/);
  await u.mgr!.say('manager 1');
  await u.mgr!.say('manager 2');
  await u.mgr!.say('/slow off');
  await u.viewer!.say('slow three');
});

test('subscriber-only, follower-only, emote-only, unique chat, links, duplicates', async () => {
  await u.owner!.say('/subonly');
  await rejectsWith(u.viewer!.say('not a sub'), C.subscribersOnly);
  await u.subber!.say('i am a sub');
  await u.owner!.say('/subonly off');

  await u.owner!.say('/followonly');
  await rejectsWith(u.viewer!.say('not following'), C.followersOnly);
  await s.platform.social.follow(ids.viewer!, channelId);
  await sleep(1_100); // a "not following" answer is re-read at most once a second
  await u.viewer!.say('following now');
  await u.owner!.say('/followonly off');

  await u.owner!.say('/emoteonly');
  await rejectsWith(u.viewer2!.say('plain words'), C.emoteOnly);
  await u.viewer2!.say(':kekw: 😀');
  await u.owner!.say('/emoteonly off');

  await u.owner!.say('/uniquechat');
  await u.viewer!.say('same line for everyone');
  await rejectsWith(u.viewer2!.say('Same line   for everyone'), C.uniqueChat);
  await u.owner!.say('/uniquechat off');

  await u.owner!.say('/blocklinks');
  await rejectsWith(u.viewer!.say('see naver.com'), C.linkBlocked);
  await u.owner!.say('/blocklinks off');

  await u.viewer2!.say('say it twice');
  await rejectsWith(u.viewer2!.say('say it twice'), C.duplicate);
});

test('word filter: evasions blocked or masked for everyone watching', async () => {
  await u.mgr!.say('/filter add 시발 block');
  await u.mgr!.say('/filter add 바보 mask');
  await rejectsWith(u.viewer!.say('ㅅㅂ 뭐야'), C.wordBlocked);
  await rejectsWith(u.viewer!.say('씨1발'), C.wordBlocked);
  await u.viewer!.say('너 바 보 야');
  await seen((d) => d.text === '너 *** 야', 'masked text');
  await u.viewer!.say('시발점에서 출발');
  await seen((d) => d.text === '시발점에서 출발', 'exception passes');
});

test('rate limit per user', async () => {
  let refusedAt = -1;
  for (let i = 0; i < 15; i++) {
    try {
      await u.spammer!.say(`spam ${i}`);
    } catch (e) {
      assert.equal((e as { code: number }).code, C.rateLimited);
      refusedAt = i;
      break;
    }
  }
  assert.equal(refusedAt, 12);
});

test('ban: the subscription is removed, recent messages deleted, publishes refused; unban restores', async () => {
  await u.viewer2!.say('soon to be banned');
  await seen((d) => d.text === 'soon to be banned', 'viewer2 message');
  const mine = u.owner!.pubs.filter((d) => d.type === 'message' && d.user.id === ids.viewer2).map((d) => d.id);
  await u.mgr!.say('/ban viewer2 spam');
  await waitFor(() => u.viewer2!.unsubscribed.length > 0, 3000, 'viewer2 unsubscribed');
  assert.equal(u.viewer2!.unsubscribed[0]!.code, 2000);
  await seen((d) => d.type === 'delete' && d.user === ids.viewer2, 'delete event');
  const del = u.owner!.pubs.find((d) => d.type === 'delete' && d.user === ids.viewer2);
  for (const id of mine) assert.ok(del.ids.includes(id), 'deleted ' + id);
  await seen((d) => d.type === 'system' && d.event === 'ban' && d.user === ids.viewer2, 'ban notice');
  // Subscribing again is allowed (reading), publishing is not.
  u.viewer2!.sub.subscribe();
  await u.viewer2!.sub.ready(3000);
  const m = await rejectsWith(u.viewer2!.say('can I talk?'), C.banned);
  assert.match(m, /banned.*spam/);
  await u.mgr!.say('/unban viewer2');
  await u.viewer2!.say('thanks for unbanning');
});

test('timeout with remaining time, then it expires', async () => {
  await u.mgr!.say('/timeout viewer 2');
  await waitFor(() => u.viewer!.unsubscribed.length > 0, 3000, 'viewer unsubscribed');
  u.viewer!.sub.subscribe();
  await u.viewer!.sub.ready(3000);
  const m = await rejectsWith(u.viewer!.say('timed out?'), C.timedOut);
  assert.match(m, /timed out .* more/);
  await sleep(2_100);
  await u.viewer!.say('timeout over');
});

test('/clear, /delete and manager appointment through chat', async () => {
  await u.viewer!.say('delete this one');
  await seen((d) => d.text === 'delete this one', 'to delete');
  const target = u.owner!.pubs.find((d) => d.text === 'delete this one');
  await u.mgr!.say(`/delete ${target.id}`);
  await seen((d) => d.type === 'delete' && d.ids.length === 1 && d.ids[0] === target.id, 'delete event');
  await u.mgr!.say('/clear');
  await seen((d) => d.type === 'clear', 'clear event');
  await u.owner!.say('/mod viewer');
  await seen((d) => d.type === 'system' && d.event === 'mod', 'mod notice');
  await u.viewer!.say('/slow 2'); // a manager now
  await u.viewer!.say('/slow off');
  await rejectsWith(u.viewer!.say('/ban mgr'), C.targetProtected);
  await u.owner!.say('/unmod viewer');
  await rejectsWith(u.viewer!.say('/slow 2'), C.notAllowed);
});

test('a manager appointed or removed over REST gets or loses rights in chat at once', async () => {
  // Warm the role cache with "viewer2 is not a manager", then change it through the REST API.
  await rejectsWith(u.viewer2!.say('/slow 3'), C.notAllowed);
  const put = await s.api('PUT', '/api/v1/channels/room/managers/viewer2', undefined, sessions.owner);
  assert.equal(put.status, 200, JSON.stringify(put.body));
  await u.viewer2!.say('/slow 3'); // well inside roleCacheSeconds: the cache was invalidated
  await u.viewer2!.say('/slow off');
  const del = await s.api('DELETE', '/api/v1/channels/room/managers/viewer2', undefined, sessions.owner);
  assert.equal(del.status, 200, JSON.stringify(del.body));
  await rejectsWith(u.viewer2!.say('/slow 3'), C.notAllowed);
});

test('RPC for the studio: mod.* methods with the same checks', async () => {
  const r = await u.mgr!.rpc('mod.slow', { channel: 'room', seconds: 4 });
  assert.equal(r.ok, true);
  assert.equal(r.data.modes.slowSeconds, 4);
  const settings = await u.mgr!.rpc('mod.settings', { channel: 'chat:room' });
  assert.equal(settings.modes.slowSeconds, 4);
  await u.mgr!.rpc('mod.command', { channel: 'room', command: '/slow off' });
  await rejectsWith(u.viewer!.rpc('mod.ban', { channel: 'room', user: 'viewer2' }), C.notAllowed);
  await rejectsWith(u.viewer!.rpc('mod.audit', { channel: 'room' }), C.notAllowed);
  const audit = await u.owner!.rpc('mod.audit', { channel: 'room', limit: 5 });
  assert.equal(audit.entries.length, 5);
});

test('REST: overview, modes, bans, filters and the audit log for owners and managers only', async () => {
  const base = '/api/v1/channels/room/moderation';
  assert.equal((await s.api('GET', base, undefined, sessions.viewer)).status, 403);
  assert.equal((await s.api('GET', base)).status, 401);
  const patched = await s.api('PATCH', `${base}/modes`, { slowSeconds: 7, emoteOnly: false }, sessions.mgr);
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.modes.slowSeconds, 7);
  assert.equal((await s.api('PATCH', `${base}/modes`, { slowSeconds: 99999 }, sessions.mgr)).status, 400);
  const kicksBefore = u.spammer!.unsubscribed.length;
  const ban = await s.api('POST', `${base}/bans`, { username: 'spammer', durationSeconds: 3600, reason: 'flood' }, sessions.mgr);
  assert.equal(ban.status, 200, JSON.stringify(ban.body));
  // The ban removes the subscription; the unsubscribe push may land before or after the REST reply,
  // so wait for it, then subscribe again (reading is allowed) and check that publishing is refused.
  await waitFor(() => u.spammer!.unsubscribed.length > kicksBefore, 3000, 'spammer unsubscribed');
  u.spammer!.sub.subscribe();
  await u.spammer!.sub.ready(3000);
  await rejectsWith(u.spammer!.say('still here?'), C.banned);
  const over = await s.api('GET', base, undefined, sessions.owner);
  assert.equal(over.body.modes.slowSeconds, 7);
  assert.ok(over.body.restrictions.some((r: any) => r.username === 'spammer' && r.kind === 'ban' && r.reason === 'flood'));
  assert.equal((await s.api('DELETE', `${base}/bans/spammer`, undefined, sessions.mgr)).status, 200);
  assert.equal((await s.api('DELETE', `${base}/bans/spammer`, undefined, sessions.mgr)).status, 400);
  const prot = await s.api('POST', `${base}/bans`, { username: 'owner' }, sessions.mgr);
  assert.equal(prot.status, 403);
  assert.equal(prot.body.error.details.moderationCode, C.targetProtected);
  assert.equal((await s.api('POST', `${base}/filters`, { word: '멍청이', action: 'block' }, sessions.mgr)).status, 200);
  const filters = await s.api('GET', `${base}/filters`, undefined, sessions.mgr);
  assert.ok(filters.body.entries.some((e: any) => e.word === '멍청이' && e.action === 'block'));
  await rejectsWith(u.subber!.say('멍 청 이'), C.wordBlocked);
  assert.equal((await s.api('DELETE', `${base}/filters/${encodeURIComponent('멍청이')}`, undefined, sessions.mgr)).status, 200);
  const audit = await s.api('GET', `${base}/audit?limit=200`, undefined, sessions.mgr);
  assert.equal(audit.status, 200);
  const actions = audit.body.entries.map((e: any) => e.action);
  for (const a of ['ban', 'unban', 'timeout', 'slow', 'subonly', 'followonly', 'emoteonly', 'uniquechat', 'blocklinks', 'filter_add', 'filter_remove', 'clear', 'delete', 'mod', 'unmod']) assert.ok(actions.includes(a), a);
  const b = audit.body.entries.find((e: any) => e.action === 'ban' && e.reason === 'flood');
  assert.equal(b.actorName, 'mgr');
  assert.equal(b.targetName, 'spammer');
  assert.equal((await s.api('GET', `${base}/audit`, undefined, sessions.viewer)).status, 403);
  // Global filter: admins only (the admin token here).
  assert.equal((await s.api('POST', '/api/v1/moderation/filters', { word: '쓰레기', action: 'block' }, sessions.owner)).status, 403);
  assert.equal((await s.api('POST', '/api/v1/moderation/filters', { word: '쓰레기', action: 'block' }, s.secrets.adminToken)).status, 201);
  await rejectsWith(u.subber!.say('이 쓰레기야'), C.wordBlocked);
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  assert.match(metrics, /onair_moderation_actions_total\{action="ban"\} \d+/);
  assert.match(metrics, /onair_moderation_refused_total\{reason="wordBlocked"\} \d+/);
});
