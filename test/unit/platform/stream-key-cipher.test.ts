import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamKeyCipher } from '../../../src/platform/stream-key-cipher.js';

const SECRET = 'a-stream-key-secret-for-tests';

test('a sealed key opens for its channel, and the sealed text does not contain it', () => {
  const c = new StreamKeyCipher(SECRET);
  const sealed = c.seal('channel-1', 'live_abcdefghijklmnop');
  assert.match(sealed, /^v1\.[A-Za-z0-9_-]+$/);
  assert.ok(!sealed.includes('abcdefghijklmnop'));
  assert.equal(c.open('channel-1', sealed), 'live_abcdefghijklmnop');
  // A fresh nonce each time: sealing twice gives two texts that both open.
  const again = c.seal('channel-1', 'live_abcdefghijklmnop');
  assert.notEqual(again, sealed);
  assert.equal(c.open('channel-1', again), 'live_abcdefghijklmnop');
});

test('a key does not open under another secret, for another channel, or when damaged', () => {
  const c = new StreamKeyCipher(SECRET);
  const sealed = c.seal('channel-1', 'live_key_0123456789');
  assert.equal(new StreamKeyCipher('another-secret-of-16+chars').open('channel-1', sealed), undefined);
  assert.equal(c.open('channel-2', sealed), undefined, 'the channel id is bound as associated data');
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
  assert.equal(c.open('channel-1', 'v1.' + raw.toString('base64url')), undefined, 'a flipped bit fails authentication');
  assert.equal(c.open('channel-1', 'v2.' + sealed.slice(3)), undefined, 'an unknown version');
  assert.equal(c.open('channel-1', 'v1.'), undefined, 'too short');
});

test('a short secret is refused with the key name', () => {
  assert.throws(() => new StreamKeyCipher('short'), /streamKey\.secret/);
});
