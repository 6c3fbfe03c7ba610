import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform, type Platform } from '../../../../src/platform/index.js';
import { ModerationEngine, type ModerationSettings } from '../../../../src/chat/moderation/engine.js';
import { ModerationStore } from '../../../../src/chat/moderation/db.js';
import { MemoryModerationState } from '../../../../src/chat/moderation/state.js';
import { ModerationCodes as C } from '../../../../src/chat/moderation/codes.js';
import { MESSAGE_ID_PATTERN } from '../../../../src/chat/moderation/message.js';
import type { PublishDecision, ServerPublisher } from '../../../../src/chat/hooks.js';

class FakePublisher implements ServerPublisher {
  pubs: { channel: string; data: any }[] = [];
  unsubs: { user: string; channel: string }[] = [];
  async publish(channel: string, data: unknown) { this.pubs.push({ channel, data }); return {}; }
  async unsubscribeUser(user: string, channel: string) { this.unsubs.push({ user, channel }); }
  last(type: string) { return [...this.pubs].reverse().find((p) => p.data?.type === type)?.data; }
}

for (const eng of engines()) {
  describe(`moderation engine on ${eng.engine}`, { skip: eng.skip }, () => {
    let p: Platform;
    let dispose: () => Promise<void>;
    let clock = Date.now();
    const ids: Record<string, string> = {};
    let state: MemoryModerationState;
    let publisher: FakePublisher;
    let engine: ModerationEngine;
    let registry: Registry;
    const make = (settings: Partial<ModerationSettings> = {}, st = new MemoryModerationState(), pub = new FakePublisher()) => {
      const e = new ModerationEngine({ platform: p, store: new ModerationStore(p.db), state: st, publisher: pub, settings: { rateLimitMessages: 1000, ...settings }, registry, now: () => clock });
      e.start();
      return e;
    };
    const send = (who: string, text: unknown, e = engine, channel = 'chat:room'): Promise<PublishDecision> =>
      e.onPublish({ channel, clientId: 'c-' + who, user: who ? ids[who]! : '', info: { name: who.toUpperCase(), roles: { room: who === 'sub' ? ['subscriber'] : [] } }, data: typeof text === 'string' ? { text } : text });
    const ok = async (who: string, text: string, e = engine) => {
      const d = await send(who, text, e);
      assert.equal(d.action, 'allow', `${who}: ${text} → ${JSON.stringify(d)}`);
      return (d as { data: any }).data;
    };
    const refused = async (who: string, text: unknown, code: number, e = engine, match?: RegExp) => {
      const d = await send(who, text, e);
      assert.equal(d.action, 'reject', `${who}: ${JSON.stringify(text)} → ${JSON.stringify(d)}`);
      assert.equal((d as { code: number }).code, code, `${who}: ${JSON.stringify(text)} → ${JSON.stringify(d)}`);
      if (match) assert.match((d as { message: string }).message, match);
      return d as { code: number; message: string };
    };
    const cmd = async (who: string, line: string, e = engine) => {
      const d = await send(who, line, e);
      assert.equal(d.action, 'handled', `${who}: ${line} → ${JSON.stringify(d)}`);
      return (d as { reply: { result: any } }).reply.result;
    };
    const tick = (ms: number) => { clock += ms; };
    const fresh = () => tick(3_600_000); // past every window and cache

    before(async () => {
      const o = await eng.open();
      dispose = o.dispose;
      p = createPlatform(o.db, TEST_STREAM_KEY_SECRET);
      for (const n of ['owner', 'mgr', 'mgr2', 'viewer', 'viewer2', 'sub', 'fol', 'site']) {
        ids[n] = (await p.users.create({ username: n, password: 'password1', admin: n === 'site' })).id;
      }
      const { channel } = await p.channels.create({ name: 'room', ownerId: ids.owner });
      await p.channels.grantManager(channel.id, ids.mgr!, ids.owner!);
      await p.channels.grantManager(channel.id, ids.mgr2!, ids.owner!);
      await p.social.subscribe(ids.sub!, channel.id, 30);
      await p.social.follow(ids.fol!, channel.id);
      registry = new Registry();
      state = new MemoryModerationState();
      publisher = new FakePublisher();
      engine = make({}, state, publisher);
    });
    after(async () => { await engine?.stop(); await dispose?.(); });

    test('messages are stamped on the server; the client cannot forge user or id', async () => {
      const m = await ok('owner', '  hello  ');
      assert.equal(m.type, 'message');
      assert.match(m.id, MESSAGE_ID_PATTERN);
      assert.equal(m.text, 'hello');
      assert.deepEqual(m.user, { id: ids.owner, username: 'owner', name: 'OWNER', badges: ['owner'] });
      assert.equal(m.ts, clock);
      const forged = await ok('viewer', { type: 'message', text: 'hi', id: 'x', user: { id: ids.owner, badges: ['owner'] } } as never);
      assert.equal(forged.user.id, ids.viewer);
      assert.deepEqual(forged.user.badges, []);
      assert.notEqual(forged.id, 'x');
      assert.deepEqual((await ok('sub', 'sub here')).user.badges, ['subscriber']);
      assert.deepEqual((await ok('site', 'admin here')).user.badges, ['admin']);
      // Other namespaces pass through untouched.
      assert.deepEqual(await send('viewer', { anything: 1 }, engine, 'effects:room'), { action: 'allow' });
    });

    test('bad shapes, anonymous users and long messages are refused', async () => {
      await refused('viewer', { foo: 1 }, C.badMessage);
      await refused('viewer', '   ', C.badMessage);
      await refused('viewer', 42, C.badMessage);
      await refused('', 'hi', C.loginRequired);
      await refused('viewer', 'x'.repeat(501), C.tooLong, engine, /500/);
      // Code points, not UTF-16 units: 500 emoji are fine.
      await ok('viewer', '😀'.repeat(500));
    });

    test('unknown and unauthorised commands get an error reply and are never published', async () => {
      const before = publisher.pubs.length;
      await refused('viewer', '/frobnicate', C.unknownCommand);
      await refused('viewer', '/ban viewer2', C.notAllowed);
      await refused('viewer', '/slow 10', C.notAllowed);
      await refused('mgr', '/mod viewer', C.notAllowed);
      await refused('mgr', '/ban owner', C.targetProtected);
      await refused('mgr', '/ban mgr2', C.targetProtected);
      await refused('mgr', '/timeout mgr', C.targetProtected);
      await refused('owner', '/ban site', C.targetProtected);
      await refused('mgr', '/ban nobody', C.targetNotFound);
      await refused('mgr', '/timeout viewer 99d', C.badArguments);
      assert.equal(publisher.pubs.length, before);
      // /help lists what the caller may use.
      const viewerHelp = await cmd('viewer', '/help');
      assert.deepEqual(viewerHelp.data.commands, ['help']);
      assert.equal(viewerHelp.code, 'help');
      const mgrHelp = await cmd('mgr', '/help');
      assert.match(mgrHelp.message, /\/ban USER/);
      assert.ok(mgrHelp.data.commands.includes('slow') && !mgrHelp.data.commands.includes('mod'), mgrHelp.data.commands.join());
      assert.ok((await cmd('owner', '/help')).data.commands.includes('mod'));
    });

    test('ban: refused with 403, unsubscribed everywhere, recent messages deleted, announced; unban lifts it', async () => {
      fresh();
      const m1 = await ok('viewer', 'first message');
      const m2 = await ok('viewer', 'second message');
      const r = await cmd('mgr', '/ban viewer being rude');
      assert.equal(r.action, 'ban');
      assert.deepEqual(publisher.unsubs.at(-1), { user: ids.viewer, channel: 'chat:room' });
      const del = publisher.last('delete');
      assert.deepEqual(new Set(del.ids), new Set([m1.id, m2.id]));
      assert.equal(del.user, ids.viewer);
      const sys = publisher.last('system');
      assert.equal(sys.event, 'ban');
      assert.equal(sys.user, ids.viewer);
      await refused('viewer', 'let me in', C.banned, engine, /banned.*being rude/);
      await cmd('mgr', '/unban viewer');
      await ok('viewer', 'thanks');
      await refused('mgr', '/unban viewer', C.badArguments);
    });

    test('timed ban and timeout: remaining time in the message; expired ones no longer apply', async () => {
      fresh();
      await cmd('owner', '/timeout viewer 90 calm down');
      const d = await refused('viewer', 'hello?', C.timedOut, engine, /1m 30s more \(calm down\)/);
      assert.ok(d.message.includes('timed out'));
      tick(60_000);
      await refused('viewer', 'hello??', C.timedOut, engine, /30s more/);
      tick(31_000);
      await ok('viewer', 'back again');
      await cmd('owner', '/ban viewer2 2h');
      await refused('viewer2', 'hi', C.banned, engine, /2h more/);
      tick(2 * 3_600_000 + 1);
      await ok('viewer2', 'free');
      await cmd('owner', '/timeout viewer 1h');
      await cmd('mgr', '/untimeout viewer');
      await ok('viewer', 'untimed');
      // The owner may act on managers.
      await cmd('owner', '/timeout mgr2 60');
      await refused('mgr2', 'hmm', C.timedOut);
      await cmd('owner', '/untimeout mgr2');
    });

    test('slow mode: per user with remaining seconds; owner and managers exempt; announced', async () => {
      fresh();
      await cmd('mgr', '/slow 10');
      assert.equal(publisher.last('system').event, 'mode');
      assert.equal(publisher.last('system').modes.slowSeconds, 10);
      await ok('viewer', 'one');
      await refused('viewer', 'two', C.slowMode, engine, /10s/);
      await ok('viewer2', 'other user is independent');
      await ok('mgr', 'a');
      await ok('mgr', 'b');
      tick(4_000);
      await refused('viewer', 'three', C.slowMode, engine, /6s/);
      tick(6_000);
      await ok('viewer', 'four');
      await cmd('mgr', '/slow off');
      await ok('viewer', 'five');
    });

    test('subscriber-only and follower-only (with minimum follow age)', async () => {
      fresh();
      await cmd('owner', '/subonly');
      await refused('viewer', 'hi subs', C.subscribersOnly);
      await ok('sub', 'i am subbed');
      await ok('mgr', 'managers are exempt');
      await cmd('owner', '/subonly off');
      // fol followed "just now" on the test clock.
      await p.db.kysely.updateTable('follows').set({ created_at: clock }).where('user_id', '=', ids.fol!).execute();
      await cmd('owner', '/followonly 10');
      await refused('viewer', 'not following', C.followersOnly, engine, /follow/);
      await refused('fol', 'new follower', C.followersOnly, engine, /you can chat in/);
      tick(11 * 60_000);
      await ok('fol', 'old enough now');
      await cmd('owner', '/followonly off');
      await ok('viewer', 'open again');
    });

    test('emote-only, unique chat, duplicates, links', async () => {
      fresh();
      await cmd('mgr', '/emoteonly');
      await refused('viewer', 'words', C.emoteOnly);
      await ok('viewer', ':kekw: 😀');
      await ok('mgr', 'managers may type');
      await cmd('mgr', '/emoteonly off');
      await cmd('mgr', '/uniquechat');
      await ok('viewer', 'same text');
      await refused('viewer2', 'Same   TEXT', C.uniqueChat);
      await cmd('mgr', '/uniquechat off');
      fresh();
      await ok('viewer', 'repeat me');
      await refused('viewer', 'repeat me', C.duplicate, engine, /same message/);
      await ok('viewer2', 'repeat me');
      await cmd('mgr', '/blocklinks');
      await refused('viewer', 'visit naver.com now', C.linkBlocked);
      await ok('mgr', 'see https://example.com');
      await cmd('mgr', '/blocklinks off');
      await ok('viewer', 'visit naver.com now');
    });

    test('rate limit per user (managers get more)', async () => {
      fresh();
      const e = make({ rateLimitMessages: 3, rateLimitWindowSeconds: 10 }, state, publisher);
      for (let i = 0; i < 3; i++) await ok('viewer', `msg ${i}`, e);
      await refused('viewer', 'msg 3', C.rateLimited, e, /too fast/);
      for (let i = 0; i < 6; i++) await ok('mgr', `mgr ${i}`, e);
      tick(10_001);
      await ok('viewer', 'msg 4', e);
      await e.stop();
    });

    test('word filter: channel list, global list, mask and block, exceptions', async () => {
      fresh();
      await cmd('mgr', '/filter add 시발 block');
      await cmd('mgr', '/filter add 병신 mask');
      await refused('viewer', 'ㅅㅂ 진짜', C.wordBlocked);
      await refused('viewer', '씨 발', C.wordBlocked);
      assert.equal((await ok('viewer', '이 병1신아')).text, '이 ***아');
      await ok('viewer', '시발점으로 돌아가자');
      assert.match((await cmd('mgr', '/filter list')).message, /병신 \(mask\), 시발 \(block\)/);
      await engine.globalFilterAdd({ id: '', admin: true }, 'fuck', 'mask');
      assert.equal((await ok('viewer', 'what the f.u.c.k')).text, 'what the ***');
      await cmd('mgr', '/filter add fuck block');
      await refused('viewer', 'fuuuck', C.wordBlocked);
      await cmd('mgr', '/filter remove fuck');
      assert.equal((await ok('viewer', 'fuuuck')).text, '***');
      assert.equal(await engine.globalFilterRemove({ id: '', admin: true }, 'fuck'), true);
      // Still masked by the default list until the owner turns it off.
      assert.equal((await ok('viewer', 'fuck it')).text, '*** it');
      const off = await cmd('owner', '/defaultfilter off');
      assert.deepEqual([off.code, off.data.modes.defaultFilter], ['default_filter_off', false]);
      assert.equal((await ok('viewer', 'fuck it all')).text, 'fuck it all');
      await cmd('owner', '/defaultfilter');
      assert.equal((await ok('viewer', 'fuck that')).text, '*** that');
      await refused('mgr', '/filter remove nothere', C.badArguments);
      // Other features (super chats) reuse the channel's compiled filter.
      assert.deepEqual(await engine.filterText('room', 'ㅅ ㅂ'), { action: 'block', word: '시발' });
      assert.equal((await engine.filterText('room', '병신')).action, 'mask');
    });

    test('/mod and /unmod: only the owner; the new manager is exempt at once', async () => {
      fresh();
      await cmd('owner', '/slow 30');
      await ok('viewer2', 'before mod');
      await refused('viewer2', 'before mod 2', C.slowMode);
      await cmd('owner', '/mod viewer2');
      await ok('viewer2', 'now a manager');
      await ok('viewer2', 'and exempt');
      assert.match((await cmd('mgr', '/mods')).message, /viewer2/);
      await cmd('owner', '/unmod viewer2');
      tick(31_000); // past the slot of "before mod"
      await ok('viewer2', 'one more');
      await refused('viewer2', 'slowed again', C.slowMode);
      await refused('owner', '/unmod viewer2', C.badArguments);
      await cmd('owner', '/slow off');
    });

    test('/clear and /delete publish events', async () => {
      await cmd('mgr', '/clear');
      assert.equal(publisher.pubs.some((x) => x.data.type === 'clear' && x.channel === 'chat:room'), true);
      const m = await ok('viewer', 'delete me please');
      await cmd('mgr', `/delete ${m.id}`);
      assert.deepEqual(publisher.last('delete').ids, [m.id]);
      await refused('mgr', '/delete not-an-id!', C.badArguments);
    });

    test('changes reach another node at once through the shared state; a new node after restart sees persisted rules', async () => {
      fresh();
      const pubB = new FakePublisher();
      const nodeB = make({}, state, pubB);
      await ok('viewer', 'warm B cache', nodeB);
      await cmd('mgr', '/ban viewer');
      await refused('viewer', 'on node B', C.banned, nodeB);
      await cmd('owner', '/timeout viewer2 600');
      await cmd('owner', '/timeout fol 5');
      await cmd('owner', '/emoteonly');
      await cmd('owner', '/filter add 바보 block');
      await nodeB.stop();
      // "Restart": a new engine with empty caches and empty short-lived state, on the same database.
      const restarted = make({}, new MemoryModerationState(), new FakePublisher());
      tick(10_000);
      await refused('viewer', '😀', C.banned, restarted);
      await refused('viewer2', '😀', C.timedOut, restarted);
      await ok('fol', '😀', restarted); // its 5 s timeout expired
      await refused('sub', 'words', C.emoteOnly, restarted);
      await cmd('owner', '/emoteonly off', restarted);
      await refused('sub', '바 보', C.wordBlocked, restarted);
      await restarted.stop();
      await cmd('owner', '/unban viewer');
      await cmd('owner', '/untimeout viewer2');
    });

    test('audit log: every action with actor, target, reason and details; metrics count actions and refusals', async () => {
      const ch = await p.channels.require('room');
      const log = await engine.store.auditLog(ch.id, { limit: 500 });
      const actions = new Set(log.map((e) => e.action));
      for (const a of ['ban', 'unban', 'timeout', 'untimeout', 'slow', 'subonly', 'followonly', 'emoteonly', 'uniquechat', 'blocklinks', 'clear', 'delete', 'mod', 'unmod', 'filter_add', 'filter_remove']) assert.ok(actions.has(a), a);
      const ban = log.find((e) => e.action === 'ban' && e.reason === 'being rude')!;
      assert.equal(ban.actorName, 'mgr');
      assert.equal(ban.targetName, 'viewer');
      assert.equal(ban.targetId, ids.viewer);
      const timed = log.find((e) => e.action === 'ban' && e.details?.durationMs === 7_200_000);
      assert.ok(timed);
      assert.ok(log[0]!.createdAt >= log.at(-1)!.createdAt);
      const page = await engine.store.auditLog(ch.id, { limit: 2, action: 'ban' });
      assert.equal(page.length, 2);
      const metrics = await registry.getMetricsAsJSON();
      const acts = metrics.find((m) => m.name === 'onair_moderation_actions_total')!;
      assert.ok((acts.values as { labels: { action?: string }; value: number }[]).some((v) => v.labels.action === 'ban' && v.value >= 2));
      const ref = metrics.find((m) => m.name === 'onair_moderation_refused_total')!;
      assert.ok((ref.values as { labels: { reason?: string }; value: number }[]).some((v) => v.labels.reason === 'slowMode' && v.value >= 1));
    });

    test('a new channel masks the default list at once; 시발점 passes', async () => {
      fresh();
      const { channel } = await p.channels.create({ name: 'fresh', ownerId: ids.owner! });
      assert.ok(channel.id);
      const m = (await send('viewer', '시발 뭐야', engine, 'chat:fresh')) as { action: string; data: { text: string } };
      assert.equal(m.action, 'allow');
      assert.equal(m.data.text, '*** 뭐야');
      const ok2 = (await send('viewer', '시발점에서 만나', engine, 'chat:fresh')) as { action: string; data: { text: string } };
      assert.equal(ok2.data.text, '시발점에서 만나');
      assert.equal(((await send('viewer2', 'ㅅㅂ 진짜', engine, 'chat:fresh')) as { data: { text: string } }).data.text, '*** 진짜');
    });

    test('hold: the message waits in the review queue; approve publishes it, reject drops it', async () => {
      fresh();
      await cmd('owner', '/filter add 광고 hold');
      const before = publisher.pubs.length;
      await refused('viewer', '광고 보세요', C.messageHeld, engine, /approval/);
      assert.equal(publisher.pubs.length, before, 'nothing reaches the room');
      await assert.rejects(engine.heldMessages({ id: ids.viewer! }, 'room'), (e: { code?: number }) => e.code === C.notAllowed);
      const queue = await engine.heldMessages({ id: ids.mgr! }, 'room');
      assert.deepEqual(queue.map((h) => [h.word, (h.message as { text: string }).text]), [['광고', '광고 보세요']]);
      const reply = { id: queue[0]!.id };
      const r = await engine.decideHeld({ id: ids.mgr! }, 'room', reply.id, true);
      assert.equal(r.code, 'held_approved');
      const pub = publisher.pubs.at(-1)!;
      assert.deepEqual([pub.channel, pub.data.id, pub.data.text, pub.data.user.id], ['chat:room', reply.id, '광고 보세요', ids.viewer]);
      await assert.rejects(engine.decideHeld({ id: ids.owner! }, 'room', reply.id, false), (e: { code?: number }) => e.code === C.targetNotFound);
      fresh();
      await refused('viewer', '광고 또', C.messageHeld);
      const [second] = await engine.heldMessages({ id: ids.owner! }, 'room');
      assert.equal((await engine.decideHeld({ id: ids.owner! }, 'room', second!.id, false)).code, 'held_rejected');
      assert.deepEqual(await engine.heldMessages({ id: ids.owner! }, 'room'), []);
      assert.ok(!publisher.pubs.some((x) => x.data?.text === '광고 또'));
      // Managers are exempt from the filter, as from every content rule.
      assert.equal((await ok('mgr', '광고 공지')).text, '광고 공지');
      // A super chat probe is refused, not queued: a paid message never waits.
      const sc = await engine.onPublish({ channel: 'chat:room', clientId: 'superchat:' + ids.viewer!, user: ids.viewer!, info: undefined, data: { text: '광고 후원' } });
      assert.equal((sc as { code: number }).code, C.heldForReview);
      assert.deepEqual(await engine.heldMessages({ id: ids.owner! }, 'room'), []);
      await cmd('owner', '/filter remove 광고');
    });

    test('toggles, Korean durations, default ban and slow; system messages carry code and params', async () => {
      fresh();
      const e = make({ banDefaultSeconds: 3600, slowDefaultSeconds: 10 }, state, publisher);
      const on = await cmd('owner', '/subonly', e);
      assert.equal(on.data.modes.subOnly, true);
      const offAgain = await cmd('owner', '/subonly', e);
      assert.equal(offAgain.data.modes.subOnly, false);
      assert.deepEqual([publisher.last('system').code, publisher.last('system').params], ['sub_only_off', {}]);
      const slow = await cmd('owner', '/slow', e);
      assert.equal(slow.data.modes.slowSeconds, 10);
      assert.equal(slow.announced, true, 'published as a system message too');
      assert.equal((await cmd('owner', '/mods', e)).announced, false);
      const sys = publisher.last('system');
      assert.deepEqual([sys.type, sys.event, sys.code, sys.params, sys.text], ['system', 'mode', 'slow_mode_on', { seconds: 10 }, 'slow mode is on: one message every 10s']);
      assert.equal((await cmd('owner', '/slow', e)).data.modes.slowSeconds, 0);
      assert.equal((await cmd('owner', '/slow 2분', e)).data.modes.slowSeconds, 120);
      await cmd('owner', '/slow off', e);
      const t = await cmd('mgr', '/timeout viewer 10분', e);
      assert.deepEqual([t.code, t.params], ['user_timed_out', { user: 'viewer', seconds: 600 }]);
      await cmd('mgr', '/untimeout viewer', e);
      const ban = await cmd('mgr', '/ban viewer2', e);
      assert.deepEqual([ban.code, ban.params], ['user_banned_for', { user: 'viewer2', seconds: 3600 }]);
      assert.equal(ban.data.expiresAt, clock + 3_600_000);
      await refused('viewer2', 'hi', C.banned, e, /1h more/);
      const perm = await cmd('mgr', '/ban viewer2 영구', e);
      assert.deepEqual([perm.code, perm.data.expiresAt], ['user_banned', null]);
      await cmd('mgr', '/unban viewer2', e);
      const forever = make({ banDefaultSeconds: 0 }, state, publisher);
      assert.equal((await cmd('mgr', '/ban viewer2 1시간', forever)).data.expiresAt, clock + 3_600_000);
      assert.equal((await cmd('mgr', '/ban viewer2', forever)).data.expiresAt, null);
      await cmd('mgr', '/unban viewer2', forever);
      await e.stop();
      await forever.stop();
    });

    test('unknown platform channels get global rules only and refuse commands', async () => {
      const d = await send('viewer', 'hello', engine, 'chat:ghost');
      assert.equal(d.action, 'allow');
      const r = await engine.onPublish({ channel: 'chat:ghost', clientId: 'c', user: ids.owner!, info: undefined, data: { text: '/slow 5' } });
      assert.deepEqual(r, { action: 'reject', code: C.unknownChannel, message: 'no channel "ghost"' });
    });
  });
}
