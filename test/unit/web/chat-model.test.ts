/** The web app's chat model: publications of every feature become list changes; the list stays capped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatList, effectCounts, interpret, tierFor } from '../../../web/src/chat/model.js';

const info = { user: 'u1', client: 'c1', connInfo: { name: 'Victor', username: 'victor', roles: { cafe: ['manager'] } } };

test('a moderated chat message keeps the server-stamped id, sender and badges; username comes from the connection', () => {
  const ev = interpret({ type: 'message', id: 'm1', text: '<b>hi</b>', user: { id: 'u1', name: 'Victor', badges: ['subscriber', 'manager'] }, ts: 5 }, info, 'cafe', 7);
  assert.equal(ev.op, 'add');
  if (ev.op !== 'add') return;
  assert.deepEqual(ev.row, { id: 'm1', kind: 'message', userId: 'u1', username: 'victor', name: 'Victor', badges: ['manager', 'subscriber'], text: '<b>hi</b>', ts: 5 });
});

test('a plain client publication falls back to the connection info for name and roles', () => {
  const ev = interpret({ text: 'yo' }, info, 'cafe', 9);
  assert.ok(ev.op === 'add' && ev.row.name === 'Victor' && ev.row.id === 'o9' && ev.row.badges.join() === 'manager');
});

test('super chats: amount, tier colour and pin time from pinnedUntil', () => {
  const ev = interpret({ type: 'superchat', id: 's1', user: { id: 'u2', name: 'Fiona' }, amount: 10000, tier: { color: '#FFB300', pinSeconds: 300 }, message: 'hi', ts: 1000, pinnedUntil: 301000 }, undefined, 'cafe');
  assert.ok(ev.op === 'add');
  if (ev.op !== 'add') return;
  assert.equal(ev.row.kind, 'super');
  assert.equal(ev.row.amount, 10000);
  assert.equal(ev.row.color, '#FFB300');
  assert.equal(ev.row.pinMs, 300000);
  assert.equal(tierFor(100000).color, '#e62117');
});

test('moderation events: delete by ids, clear, ban removes the user\'s rows, slow mode from the modes object', () => {
  const list = new ChatList(3);
  for (let i = 0; i < 5; i++) list.apply(interpret({ type: 'message', id: `m${i}`, text: `t${i}`, user: { id: i % 2 ? 'bad' : 'ok', name: 'n' } }, undefined, 'cafe'));
  assert.deepEqual(list.rows.map((r) => r.id), ['m2', 'm3', 'm4'], 'capped to the newest 3');
  assert.equal(list.apply(interpret({ type: 'delete', ids: ['m4'] }, undefined, 'cafe')), true);
  assert.deepEqual(list.rows.map((r) => r.id), ['m2', 'm3']);
  list.apply(interpret({ type: 'system', id: 'x', event: 'ban', text: 'bad was banned', user: 'bad' }, undefined, 'cafe'));
  assert.deepEqual(list.rows.map((r) => r.id), ['m2', 'x']);
  const slow = interpret({ type: 'system', id: 'y', event: 'mode', text: 'slow mode is on: 30s', modes: { slowSeconds: 30 } }, undefined, 'cafe');
  assert.ok(slow.op === 'mode' && slow.slowSeconds === 30);
  list.apply({ op: 'clear' });
  assert.equal(list.rows.length, 0);
  assert.equal(interpret({ type: 'unknown-thing' }, undefined, 'cafe').op, 'ignore');
  assert.equal(list.apply(interpret({ type: 'message', id: 'dup', text: 'a' }, undefined, 'cafe')), true);
  assert.equal(list.apply(interpret({ type: 'message', id: 'dup', text: 'a' }, undefined, 'cafe')), false, 'redelivered publications are not shown twice');
});

test('effect publications: aggregated counts in every accepted shape', () => {
  assert.deepEqual(effectCounts({ type: 'effects', window_ms: 150, counts: { party: 3, hearts: 10 }, total: 13 }), { party: 3, hearts: 10 });
  assert.deepEqual(effectCounts({ effects: [{ effect: 'rocket', count: 2 }] }), { rocket: 2 });
  assert.deepEqual(effectCounts({ effect: 'clap' }), { clap: 1 });
  assert.deepEqual(effectCounts(null), {});
});
