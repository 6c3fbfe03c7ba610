// Chat replay storage on SQLite and PostgreSQL: publications of a recorded channel stored at their
// offset, deletions/clears/refunds applied, the per-recording cap, pages by offset and cursor, and a
// clip's slice relative to the clip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../../../../testkit/db.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { chatReplayDb } from '../../../../src/community/replay/db.js';
import { ReplayReader } from '../../../../src/community/replay/reader.js';
import { ReplayRecorder, parseOp } from '../../../../src/community/replay/recorder.js';

const STARTED = 1_000_000;

test('parseOp: messages and super chats are kept; deletes, refunds and clears remove; the rest is ignored', () => {
  assert.deepEqual(parseOp('chat:a', JSON.stringify({ type: 'message', id: 'm1', text: 'hi' }), 5), { kind: 'add', channel: 'a', at: 5, id: 'm1', type: 'message', data: '{"type":"message","id":"m1","text":"hi"}' });
  assert.deepEqual(parseOp('chat:a', JSON.stringify({ type: 'delete', ids: ['m1', 3] }), 5), { kind: 'delete', channel: 'a', ids: ['m1'] });
  assert.deepEqual(parseOp('chat:a', JSON.stringify({ type: 'superchat.refunded', id: 's1' }), 5), { kind: 'delete', channel: 'a', ids: ['s1'] });
  assert.deepEqual(parseOp('chat:a', JSON.stringify({ type: 'clear', ts: 1 }), 9), { kind: 'clear', channel: 'a', at: 9 });
  const ignored: [string, string][] = [['effects:a', '{"type":"message","id":"x"}'], ['chat:a', '{"type":"system","id":"x"}'], ['chat:a', 'not json'], ['chat:a', '"text"'], ['chat:a', '{"type":"message"}']];
  for (const [ch, data] of ignored) {
    assert.equal(parseOp(ch, data, 1), null, `${ch} ${data}`);
  }
});

for (const e of engines()) {
  test(`chat replay store (${e.engine})`, { skip: e.skip }, async (t) => {
    const h = await e.open();
    t.after(() => h.dispose());
    const k = chatReplayDb(h.db);
    const rec = { node_id: 'n', dir: 'd', part: 0, ended_at: null, duration_ms: 0, size_bytes: 0, width: 0, height: 0, video_codec: null, audio_codec: null, renditions: '[]', poster: null, thumbnails: null, captions: '[]', error: null, created_at: 0, updated_at: 0 };
    await k.insertInto('recordings').values({ ...rec, id: 'old', channel_id: null, channel_name: 'stage', state: 'ready', started_at: 1 }).execute();
    await k.insertInto('recordings').values({ ...rec, id: 'vod1', channel_id: null, channel_name: 'stage', state: 'recording', started_at: STARTED }).execute();
    let now = STARTED;
    const recorder = new ReplayRecorder({ db: h.db, maxPerRecording: 6, logger: silentLogger(), now: () => now });
    const say = (id: string, at: number, extra: Record<string, unknown> = {}) => {
      now = at;
      recorder.listener('chat:stage', JSON.stringify({ type: 'message', id, text: `text ${id}`, user: { id: 'u', name: '팬' }, ...extra }));
    };
    say('a', STARTED + 1000);
    say('b', STARTED + 2000);
    recorder.listener('chat:offline', JSON.stringify({ type: 'message', id: 'z', text: 'no recording' }));
    now = STARTED + 2500;
    recorder.listener('chat:stage', JSON.stringify({ type: 'superchat', id: 's1', amount: 5000, message: '응원해요', user: { id: 'u', name: '팬' } }));
    say('c', STARTED + 3000);
    recorder.listener('chat:stage', JSON.stringify({ type: 'delete', ids: ['b'] }));
    await recorder.flush();
    const reader = new ReplayReader(h.db);
    const all = await reader.forRecording('vod1', { limit: 100 });
    assert.deepEqual(all?.messages.map((m) => [m.id, m.type, m.offsetMs]), [['a', 'message', 1000], ['s1', 'superchat', 2500], ['c', 'message', 3000]], 'b was deleted');
    assert.equal(all?.messages[1]?.amount, 5000, 'the super chat as published');
    assert.equal(all?.messages[0]?.text, 'text a');
    assert.equal(await reader.forRecording('nope', { limit: 1 }), null);

    await t.test('pages by offset range and cursor', async () => {
      const p1 = await reader.forRecording('vod1', { fromMs: 1000, toMs: 3000, limit: 1 });
      assert.deepEqual(p1?.messages.map((m) => m.id), ['a']);
      assert.ok(p1?.next);
      const p2 = await reader.forRecording('vod1', { fromMs: 1000, toMs: 3000, limit: 1, cursor: p1.next });
      assert.deepEqual(p2?.messages.map((m) => m.id), ['s1']);
      assert.equal(p2?.next, null, 'c is outside [1000, 3000)');
      await assert.rejects(reader.forRecording('vod1', { limit: 1, cursor: 'x' }), RangeError);
    });

    await t.test("a clip's slice, offsets relative to the clip", async () => {
      await k.insertInto('clips').values({ id: 'clip1', channel_id: null, channel_name: 'stage', kind: 'vod', source_vod_id: 'vod1', created_by: 'u', title: '', start_ms: 2000, duration_ms: 1000, state: 'ready', error: null, file: null, poster: null, size_bytes: 0, node_id: 'n', created_at: 0, updated_at: 0 }).execute();
      const c = await reader.forClip('clip1', { limit: 10 });
      assert.deepEqual(c?.messages.map((m) => [m.id, m.offsetMs]), [['s1', 500]]);
      assert.equal(await reader.forClip('nope', { limit: 10 }), null);
    });

    await t.test('the cap per recording, then a clear removes what came before it', async () => {
      for (const id of ['d', 'e', 'f', 'g']) say(id, STARTED + 4000);
      await recorder.flush();
      const capped = await reader.forRecording('vod1', { limit: 100 });
      assert.equal(capped?.messages.length, 5, 'six taken (b counted before its deletion), one over the cap dropped');
      now = STARTED + 5000;
      recorder.listener('chat:stage', JSON.stringify({ type: 'clear', ts: now }));
      await recorder.stop();
      assert.deepEqual((await reader.forRecording('vod1', { limit: 100 }))?.messages, []);
    });
  });
}
