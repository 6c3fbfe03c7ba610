import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hideRemovedMessages } from '../../../../src/chat/moderation/tombstones.js';

const pub = (offset: number, data: unknown) => ({ offset, data: JSON.stringify(data) });
const ids = (pubs: { data: string }[]) => pubs.map((p) => JSON.parse(p.data).id ?? JSON.parse(p.data).type);

test('delete events hide the messages they name; clear hides everything before it', () => {
  const stream = [
    pub(1, { type: 'message', id: 'a' }),
    pub(2, { type: 'message', id: 'b' }),
    pub(3, { type: 'delete', ids: ['a'] }),
    pub(4, { type: 'message', id: 'c' }),
  ];
  assert.deepEqual(ids(hideRemovedMessages('chat:x', stream)), ['b', 'delete', 'c']);
  const cleared = [...stream, pub(5, { type: 'clear' }), pub(6, { type: 'message', id: 'd' }), pub(7, { type: 'delete', ids: ['d'] })];
  assert.deepEqual(ids(hideRemovedMessages('chat:x', cleared)), ['clear', 'delete']);
});

test('other namespaces, undeleted streams and non-JSON data pass unchanged', () => {
  const stream = [pub(1, { type: 'message', id: 'a' }), pub(2, { type: 'delete', ids: ['a'] })];
  assert.equal(hideRemovedMessages('events:x', stream), stream);
  const plain = [pub(1, { type: 'message', id: 'a' }), { offset: 2, data: 'not json' }];
  assert.equal(hideRemovedMessages('chat:x', plain), plain);
});
