import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterSecretMatches } from '../../../../src/media/cluster/secret.js';

const SECRET = 'a-cluster-secret-0123456789';

test('the cluster secret matches only itself', () => {
  assert.equal(clusterSecretMatches(SECRET, SECRET), true);
  assert.equal(clusterSecretMatches(SECRET + 'x', SECRET), false);
  assert.equal(clusterSecretMatches(SECRET.slice(1), SECRET), false);
  assert.equal(clusterSecretMatches('', SECRET), false);
  assert.equal(clusterSecretMatches(undefined, SECRET), false);
  assert.equal(clusterSecretMatches([SECRET], SECRET), false);
});

test('with no secret configured nothing matches, not even an empty header', () => {
  assert.equal(clusterSecretMatches('', undefined), false);
  assert.equal(clusterSecretMatches('anything', undefined), false);
  assert.equal(clusterSecretMatches('anything', ''), false);
});
