import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { basicAuthorization, digestResponse, isStale, maskUrl, parseWwwAuthenticate, pickChallenge, RtspAuthenticator, splitUrlCredentials } from '../../../../src/media/rtsp/auth.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

test('digest: the RFC 2617 3.5 example (qop=auth) gives 6629fae49393a05397450978507c4ef1', () => {
  const r = digestResponse({
    username: 'Mufasa', password: 'Circle Of Life', realm: 'testrealm@host.com', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    method: 'GET', uri: '/dir/index.html', qop: 'auth', nc: '00000001', cnonce: '0a4f113b',
  });
  assert.equal(r, '6629fae49393a05397450978507c4ef1');
});

test('digest: no qop is H(HA1:nonce:HA2) (RFC 2069), MD5-sess folds nonce and cnonce into HA1', () => {
  const base = { username: 'admin', password: 'p@ss:w', realm: 'IP Camera', nonce: 'abc123', method: 'DESCRIBE', uri: 'rtsp://10.0.0.2:554/stream1' };
  const ha1 = md5('admin:IP Camera:p@ss:w');
  const ha2 = md5('DESCRIBE:rtsp://10.0.0.2:554/stream1');
  assert.equal(digestResponse(base), md5(`${ha1}:abc123:${ha2}`));
  const sess = md5(`${ha1}:abc123:cn`);
  assert.equal(digestResponse({ ...base, algorithm: 'MD5-sess', qop: 'auth', nc: '00000002', cnonce: 'cn' }), md5(`${sess}:abc123:00000002:cn:auth:${ha2}`));
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  assert.equal(digestResponse({ ...base, algorithm: 'SHA-256' }), sha(`${sha('admin:IP Camera:p@ss:w')}:abc123:${sha('DESCRIBE:rtsp://10.0.0.2:554/stream1')}`));
  assert.throws(() => digestResponse({ ...base, algorithm: 'SHA-512-256' }), /not supported/);
});

test('WWW-Authenticate: several challenges in one value (joined headers), quoted commas and escapes', () => {
  const c = parseWwwAuthenticate('Digest realm="a, b", nonce="n\\"1", qop="auth,auth-int", stale=TRUE, Basic realm="cam"');
  assert.equal(c.length, 2);
  assert.deepEqual(c[0], { scheme: 'digest', params: { realm: 'a, b', nonce: 'n"1', qop: 'auth,auth-int', stale: 'TRUE' } });
  assert.deepEqual(c[1], { scheme: 'basic', params: { realm: 'cam' } });
  assert.equal(isStale(c[0]), true);
  assert.equal(pickChallenge(c)?.scheme, 'digest');
  // auth-int only, or an unknown algorithm: Basic is taken instead.
  assert.equal(pickChallenge(parseWwwAuthenticate('Digest realm="r", nonce="n", qop="auth-int", Basic realm="r"'))?.scheme, 'basic');
  assert.equal(pickChallenge(parseWwwAuthenticate('Digest realm="r", nonce="n", algorithm=FOO')), null);
  assert.deepEqual(parseWwwAuthenticate(''), []);
});

test('authenticator: Digest header fields, nc counts up, opaque and algorithm echoed; Basic is base64(user:pass)', () => {
  const [ch] = parseWwwAuthenticate('Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  const a = new RtspAuthenticator(ch!, { username: 'Mufasa', password: 'Circle Of Life' }, () => '0a4f113b');
  const h = a.authorization('GET', '/dir/index.html');
  assert.equal(h, 'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  assert.match(a.authorization('GET', '/dir/index.html'), /nc=00000002/);
  assert.equal(basicAuthorization({ username: 'Aladdin', password: 'open sesame' }), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  const b = new RtspAuthenticator({ scheme: 'basic', params: {} }, { username: 'Aladdin', password: 'open sesame' });
  assert.equal(b.authorization('DESCRIBE', 'rtsp://x/'), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
});

test('URL credentials are percent-decoded and taken out; masking hides them (also with an @ in the password)', () => {
  const s = splitUrlCredentials('rtsp://ad%40min:p%3As%20w@cam.local:554/Streaming/Channels/101?transport=tcp');
  assert.deepEqual(s.credentials, { username: 'ad@min', password: 'p:s w' });
  assert.equal(s.url, 'rtsp://cam.local:554/Streaming/Channels/101?transport=tcp');
  assert.deepEqual(splitUrlCredentials('rtsp://cam/x'), { url: 'rtsp://cam/x' });
  assert.equal(maskUrl('rtsp://user:secret@cam:554/s'), 'rtsp://***@cam:554/s');
  assert.equal(maskUrl('rtsp://user:se@cret@cam/s'), 'rtsp://***@cam/s');
  assert.equal(maskUrl('rtsp://cam/s?a=b@c'), 'rtsp://cam/s?a=b@c');
});
