import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPathPattern, validatePathPattern } from '../../../../src/media/record/path-pattern.js';

const at = Date.UTC(2026, 10, 26, 21, 5, 9, 42); // 2026-11-26T21:05:09.042Z

test('path pattern expands SRS dvr_path-like variables in UTC', () => {
  const v = { channel: 'demo', startedAt: at, id: 'abc' };
  assert.equal(renderPathPattern('[channel]/[timestamp]', v), `demo/${at}`);
  assert.equal(renderPathPattern('[channel]/[date]/[time]', v), 'demo/2026-11-26/21-05-09');
  assert.equal(renderPathPattern('[year]/[month]/[day]/[stream]-[hour][minute][second].[ms]-[id]', v), '2026/11/26/demo-210509.042-abc');
  assert.equal(renderPathPattern('[channel]//./[timestamp]/', v), `demo/${at}`);
});

test('path pattern rejects unknown variables, escapes and patterns that would reuse a directory', () => {
  assert.throws(() => validatePathPattern('[channel]/[app]/[timestamp]'), /unknown variable \[app\]/);
  assert.throws(() => validatePathPattern('../[timestamp]'), /must not contain/);
  assert.throws(() => validatePathPattern('/abs/[timestamp]'), /relative/);
  assert.throws(() => validatePathPattern('[channel]'), /per-recording variable/);
  // Unsafe characters from values never create new path segments.
  assert.equal(renderPathPattern('[channel]/[timestamp]', { channel: 'a b\\c', startedAt: 1, id: 'x' }), 'a_b_c/1');
});
