// The delta forms of a channel's publications: built once, the variants each subscriber gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDeltaForms, variantPushes } from '../../../src/chat/delta.js';
import { encodePublication, encodePush, type Publication } from '../../../src/chat/protocol/codec.js';
import { applyFossilDelta } from '../../../src/chat/protocol/fossil.js';

const big = (n: number) => JSON.stringify({ rows: Array.from({ length: 30 }, (_, i) => `row ${i} value ${i === n ? 'changed' : 'same'}`) });

test('forms: full JSON as a string, deltas chained from the previous publication, fresh starts in full', () => {
  const pubs: Publication[] = [
    { data: big(1), offset: 5, deltaWanted: true },
    { data: big(2), offset: 6, deltaWanted: true },
  ];
  const normal = pubs.map((p) => encodePush('c', 'pub', encodePublication(p)));
  const { forms, last } = buildDeltaForms('c', pubs, normal, Buffer.from(big(0)));
  assert.equal(last?.toString(), big(2));
  const wrapped0 = JSON.parse(forms.wrapped[0] ?? '') as { pub: { data: string; offset: number } };
  assert.equal(wrapped0.pub.data, big(1), 'JSON full form: the data as a string');
  assert.equal(wrapped0.pub.offset, 5);
  // Each delta applies to the previous publication's text.
  let base = Buffer.from(big(0));
  for (let i = 0; i < 2; i++) {
    const d = JSON.parse(forms.deltas[i] ?? 'null') as { pub: { data: string; delta: boolean } };
    assert.equal(d.pub.delta, true);
    const out = applyFossilDelta(base, Buffer.from(d.pub.data));
    assert.equal(out.toString(), pubs[i]?.data);
    base = out;
  }
  assert.deepEqual(variantPushes(forms, 'json', true), [forms.wrapped[0], forms.deltas[1]]);
  assert.deepEqual(variantPushes(forms, 'json', false), [forms.deltas[0], forms.deltas[1]]);
  assert.deepEqual(variantPushes(forms, 'protobuf', true), [normal[0], forms.deltas[1]]);
});

test('no base, or a delta longer than the data: the full form goes instead', () => {
  const pubs: Publication[] = [
    { data: '{"a":1}', deltaWanted: true },
    { data: '{"b":2}', deltaWanted: true },
  ];
  const normal = pubs.map((p) => encodePush('c', 'pub', encodePublication(p)));
  const { forms } = buildDeltaForms('c', pubs, normal, null);
  assert.deepEqual(forms.deltas, [null, null]);
  assert.deepEqual(variantPushes(forms, 'json', false), forms.wrapped);
});

test('a publication that does not ask for delta goes in full, and is the base of the next delta', () => {
  const pubs: Publication[] = [{ data: big(1) }, { data: big(2), deltaWanted: true }];
  const normal = pubs.map((p) => encodePush('c', 'pub', encodePublication(p)));
  const { forms } = buildDeltaForms('c', pubs, normal, Buffer.from(big(0)));
  assert.equal(forms.deltas[0], null);
  const d = JSON.parse(forms.deltas[1] ?? 'null') as { pub: { data: string; delta: boolean } };
  assert.equal(applyFossilDelta(Buffer.from(big(1)), Buffer.from(d.pub.data)).toString(), big(2));
  assert.ok(!(forms.wrapped[0] ?? '').includes('deltaWanted'), 'the flag is not sent');
});
