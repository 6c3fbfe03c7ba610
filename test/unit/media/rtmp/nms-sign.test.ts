// Node-Media-Server's signed publish paths: a sign made with the secret for the path verifies
// until it expires; anything else — another path, a changed hash, an expired time, junk — does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { nmsSign, signQueryOf, verifyNmsSign } from '../../../../src/media/rtmp/nms-sign.js';
import { checkImportedKey } from '../../../../src/platform/channels.js';

const SECRET = 'nms-secret-0123456789abcdef';
const NOW = 1_800_000_000;

test('the sign is NMS\'s: hex MD5 of "/live/NAME-EXPIRES-SECRET" after the expiry', () => {
  const hash = createHash('md5').update(`/live/sora-${NOW + 60}-${SECRET}`).digest('hex');
  assert.equal(nmsSign('/live/sora', NOW + 60, SECRET), `${NOW + 60}-${hash}`);
});

test('a valid sign verifies until its expiry, and only for its path and secret', () => {
  const sign = nmsSign('/live/sora', NOW + 60, SECRET);
  assert.equal(verifyNmsSign('/live/sora', sign, SECRET, NOW), true);
  assert.equal(verifyNmsSign('/live/sora', sign, SECRET, NOW + 60), true);
  assert.equal(verifyNmsSign('/live/sora', sign, SECRET, NOW + 61), false, 'expired');
  assert.equal(verifyNmsSign('/live/other', sign, SECRET, NOW), false, 'another channel');
  assert.equal(verifyNmsSign('/live/sora', sign, 'another-secret-0123456789', NOW), false, 'another secret');
  assert.equal(verifyNmsSign('/live/sora', sign, '', NOW), false, 'no secret');
  const flipped = sign.slice(0, -1) + (sign.endsWith('0') ? '1' : '0');
  assert.equal(verifyNmsSign('/live/sora', flipped, SECRET, NOW), false, 'changed hash');
  // A later expiry with the old hash is not the same sign.
  assert.equal(verifyNmsSign('/live/sora', `${NOW + 600}${sign.slice(String(NOW + 60).length)}`, SECRET, NOW), false);
  for (const junk of ['', '-', `${NOW}`, `${NOW}-`, `x-${'a'.repeat(32)}`, `${NOW}-${'A'.repeat(32)}`, `${NOW}-${'a'.repeat(31)}`, `${'9'.repeat(20)}-${'a'.repeat(32)}`, `${sign}-x`]) {
    assert.equal(verifyNmsSign('/live/sora', junk, SECRET, NOW), false, JSON.stringify(junk));
  }
});

test('signQueryOf reads sign from the publish name\'s query', () => {
  assert.equal(signQueryOf('sora?sign=1-abc'), '1-abc');
  assert.equal(signQueryOf('sora?x=1&sign=2-def&y'), '2-def');
  assert.equal(signQueryOf('sora'), undefined);
  assert.equal(signQueryOf('sora?x=1'), undefined);
  assert.equal(signQueryOf(42), undefined);
});

test('an imported stream key is 16–128 visible characters without "/", "?" or the channel name', () => {
  checkImportedKey('sora', 'nms-key-0123456789');
  for (const bad of ['short', 'a'.repeat(129), 'has space 0123456789', 'slash/0123456789abc', 'query?0123456789abc', 'x-sora-0123456789', 'SORA-0123456789abcdef', 'tab\t0123456789abcdef', '한국어키0123456789abcdef']) {
    assert.throws(() => checkImportedKey('sora', bad), /streamKey/, bad);
  }
});
