// Publication tags filters: the documented operators on one set of tags, bad filters refused with 107.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchTags, parseTagsFilter, filterKey, TAGS_FILTER_LIMITS } from '../../../src/chat/tags-filter.js';
import { ChatError } from '../../../src/chat/protocol/codes.js';

const TAGS = { ticker: 'AAPL', source: 'NASDAQ', price: '150.25', category: 'tech', volume: '1000', name: '삼성전자' };

/** Filters and whether they match TAGS. */
const CASES: { name: string; tf: unknown; want: boolean }[] = [
  { name: 'eq', tf: { key: 'ticker', cmp: 'eq', val: 'AAPL' }, want: true },
  { name: 'eq other value', tf: { key: 'ticker', cmp: 'eq', val: 'MSFT' }, want: false },
  { name: 'eq missing key', tf: { key: 'nope', cmp: 'eq', val: 'AAPL' }, want: false },
  { name: 'neq', tf: { key: 'source', cmp: 'neq', val: 'TEST' }, want: true },
  { name: 'neq missing key', tf: { key: 'nope', cmp: 'neq', val: 'x' }, want: true },
  { name: 'in', tf: { key: 'category', cmp: 'in', vals: ['tech', 'finance'] }, want: true },
  { name: 'in, not listed', tf: { key: 'category', cmp: 'in', vals: ['finance'] }, want: false },
  { name: 'nin', tf: { key: 'ticker', cmp: 'nin', vals: ['MSFT', 'GOOGL'] }, want: true },
  { name: 'ex', tf: { key: 'price', cmp: 'ex' }, want: true },
  { name: 'nex', tf: { key: 'internal_id', cmp: 'nex' }, want: true },
  { name: 'sw', tf: { key: 'ticker', cmp: 'sw', val: 'AA' }, want: true },
  { name: 'ew', tf: { key: 'source', cmp: 'ew', val: 'DAQ' }, want: true },
  { name: 'ct', tf: { key: 'category', cmp: 'ct', val: 'ec' }, want: true },
  { name: 'ct Korean', tf: { key: 'name', cmp: 'ct', val: '전자' }, want: true },
  { name: 'gt decimal', tf: { key: 'price', cmp: 'gt', val: '100' }, want: true },
  { name: 'gte equal', tf: { key: 'volume', cmp: 'gte', val: '1000' }, want: true },
  { name: 'lt', tf: { key: 'price', cmp: 'lt', val: '200' }, want: true },
  { name: 'lte equal', tf: { key: 'volume', cmp: 'lte', val: '1000' }, want: true },
  { name: 'gt on a non-numeric tag is false', tf: { key: 'ticker', cmp: 'gt', val: '1' }, want: false },
  { name: 'lt with a non-numeric val is false', tf: { key: 'price', cmp: 'lt', val: 'abc' }, want: false },
  { name: 'lt on a missing tag is false', tf: { key: 'nope', cmp: 'lt', val: '1' }, want: false },
  { name: 'and', tf: { op: 'and', nodes: [{ key: 'ticker', cmp: 'eq', val: 'AAPL' }, { key: 'category', cmp: 'eq', val: 'tech' }] }, want: true },
  { name: 'and, one false', tf: { op: 'and', nodes: [{ key: 'ticker', cmp: 'eq', val: 'AAPL' }, { key: 'category', cmp: 'eq', val: 'x' }] }, want: false },
  { name: 'or', tf: { op: 'or', nodes: [{ key: 'ticker', cmp: 'eq', val: 'MSFT' }, { key: 'category', cmp: 'eq', val: 'tech' }] }, want: true },
  { name: 'not', tf: { op: 'not', nodes: [{ key: 'source', cmp: 'eq', val: 'NYSE' }] }, want: true },
  {
    name: 'nested',
    tf: { op: 'and', nodes: [{ key: 'ticker', cmp: 'eq', val: 'AAPL' }, { op: 'or', nodes: [{ key: 'price', cmp: 'gte', val: '1e2' }, { key: 'x', cmp: 'ex' }] }] },
    want: true,
  },
];

for (const c of CASES) {
  test(`match: ${c.name}`, () => {
    assert.equal(matchTags(parseTagsFilter(c.tf), TAGS), c.want);
  });
}

test('a publication without tags: eq false, nex true, neq true', () => {
  assert.equal(matchTags(parseTagsFilter({ key: 'a', cmp: 'eq', val: 'b' }), undefined), false);
  assert.equal(matchTags(parseTagsFilter({ key: 'a', cmp: 'nex' }), undefined), true);
  assert.equal(matchTags(parseTagsFilter({ key: 'a', cmp: 'neq', val: 'b' }), undefined), true);
});

test('a tag named __proto__ or toString is an ordinary key', () => {
  const f = parseTagsFilter({ key: 'toString', cmp: 'ex' });
  assert.equal(matchTags(f, {}), false);
  assert.equal(matchTags(f, { toString: 'x' }), true);
});

const BAD: { name: string; tf: unknown }[] = [
  { name: 'not an object', tf: 'ticker=AAPL' },
  { name: 'a list', tf: [] },
  { name: 'leaf without cmp', tf: { key: 'a', val: 'b' } },
  { name: 'unknown cmp', tf: { key: 'a', cmp: 'like', val: 'b' } },
  { name: 'unknown op', tf: { op: 'xor', nodes: [{ key: 'a', cmp: 'ex' }] } },
  { name: 'eq without val', tf: { key: 'a', cmp: 'eq' } },
  { name: 'eq with vals', tf: { key: 'a', cmp: 'eq', val: 'b', vals: ['c'] } },
  { name: 'in without vals', tf: { key: 'a', cmp: 'in', vals: [] } },
  { name: 'in with val', tf: { key: 'a', cmp: 'in', val: 'b', vals: ['c'] } },
  { name: 'in with a number', tf: { key: 'a', cmp: 'in', vals: [1] } },
  { name: 'ex with val', tf: { key: 'a', cmp: 'ex', val: 'b' } },
  { name: 'eq without key', tf: { cmp: 'eq', val: 'b' } },
  { name: 'and without nodes', tf: { op: 'and', nodes: [] } },
  { name: 'not with two nodes', tf: { op: 'not', nodes: [{ key: 'a', cmp: 'ex' }, { key: 'b', cmp: 'ex' }] } },
  { name: 'leaf with nodes', tf: { key: 'a', cmp: 'ex', nodes: [{ key: 'b', cmp: 'ex' }] } },
  { name: 'val not a string', tf: { key: 'a', cmp: 'eq', val: 5 } },
  { name: 'too long a value', tf: { key: 'a', cmp: 'eq', val: 'x'.repeat(TAGS_FILTER_LIMITS.chars + 1) } },
  { name: 'too many values', tf: { key: 'a', cmp: 'in', vals: Array.from({ length: TAGS_FILTER_LIMITS.vals + 1 }, (_, i) => String(i)) } },
  { name: 'too many nodes', tf: { op: 'or', nodes: Array.from({ length: TAGS_FILTER_LIMITS.nodes }, () => ({ key: 'a', cmp: 'ex' })) } },
];

/** nested builds a chain of `not` nodes n deep around a leaf. */
function nested(n: number): unknown {
  let f: unknown = { key: 'a', cmp: 'ex' };
  for (let i = 0; i < n; i++) f = { op: 'not', nodes: [f] };
  return f;
}
BAD.push({ name: 'too deep', tf: nested(TAGS_FILTER_LIMITS.depth) }, { name: 'very deep', tf: nested(100_000) });

for (const c of BAD) {
  test(`refused with 107: ${c.name}`, () => {
    assert.throws(
      () => parseTagsFilter(c.tf),
      (e: unknown) => e instanceof ChatError && e.code === 107,
    );
  });
}

test('at the limits a filter is taken; equal filters have equal keys', () => {
  assert.doesNotThrow(() => parseTagsFilter(nested(TAGS_FILTER_LIMITS.depth - 1)));
  const a = parseTagsFilter({ cmp: 'eq', key: 'k', val: 'v' });
  const b = parseTagsFilter({ val: 'v', key: 'k', cmp: 'eq', op: '' });
  assert.equal(filterKey(a), filterKey(b));
});
