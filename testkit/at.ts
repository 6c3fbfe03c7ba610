import assert from 'node:assert/strict';

/**
 * at reads item i of an array, typed array or Buffer, failing the test with the index and the
 * length when it is missing, where `list[i]!` would only pretend it is there.
 */
export function at<T>(list: ArrayLike<T>, i: number): T {
  const v = list[i];
  assert.ok(v !== undefined, `expected an item at index ${i}, but the length is ${list.length}`);
  return v;
}
