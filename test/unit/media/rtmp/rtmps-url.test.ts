// parseRtmpUrl for rtmp:// and rtmps:// (ports, tcUrl, IPv6, the stream part) and the
// media.tlsCaFile loader's errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRtmpUrl, RTMP_DEFAULT_PORT, RTMPS_DEFAULT_PORT } from '../../../../src/media/rtmp/client.js';
import { loadTlsCaFile } from '../../../../src/media/relay/manager.js';
import { ConfigError } from '../../../../src/config/index.js';

test('rtmp:// defaults to port 1935, no TLS; tcUrl names the port', () => {
  assert.equal(RTMP_DEFAULT_PORT, 1935);
  assert.deepEqual(parseRtmpUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh'), {
    host: 'a.rtmp.youtube.com', port: 1935, app: 'live2', stream: 'abcd-efgh', tcUrl: 'rtmp://a.rtmp.youtube.com:1935/live2', tls: false,
  });
  assert.equal(parseRtmpUrl('rtmp://h:1936/app/k').port, 1936);
});

test('rtmps:// defaults to port 443, TLS on; tcUrl keeps the rtmps scheme', () => {
  assert.equal(RTMPS_DEFAULT_PORT, 443);
  assert.deepEqual(parseRtmpUrl('rtmps://live-api-s.facebook.com:443/rtmp/FB-123-abc'), {
    host: 'live-api-s.facebook.com', port: 443, app: 'rtmp', stream: 'FB-123-abc', tcUrl: 'rtmps://live-api-s.facebook.com:443/rtmp', tls: true,
  });
  const yt = parseRtmpUrl('rtmps://a.rtmps.youtube.com/live2/key?backup=1');
  assert.equal(yt.port, 443);
  assert.equal(yt.stream, 'key?backup=1', 'the query stays with the stream name');
  assert.equal(yt.tcUrl, 'rtmps://a.rtmps.youtube.com:443/live2');
  const custom = parseRtmpUrl('RTMPS://Ingest.Example:8443/app/sub/key');
  assert.equal(custom.tls, true);
  assert.equal(custom.port, 8443);
  assert.equal(custom.host, 'Ingest.Example', 'the host as given (rtmp is not a special URL scheme)');
  assert.equal(custom.stream, 'sub/key');
  assert.equal(custom.tcUrl, 'rtmps://Ingest.Example:8443/app');
});

test('IPv6 literals: no brackets in host (what connect takes), brackets in tcUrl', () => {
  const u = parseRtmpUrl('rtmps://[2001:db8::1]/live/k');
  assert.equal(u.host, '2001:db8::1');
  assert.equal(u.port, 443);
  assert.equal(u.tcUrl, 'rtmps://[2001:db8::1]:443/live');
  assert.equal(parseRtmpUrl('rtmp://[::1]:1935/live/k').host, '::1');
});

test('other schemes and URLs without app/stream are refused', () => {
  assert.throws(() => parseRtmpUrl('rtmpt://h/app/k'), /not an rtmp:\/\/ or rtmps:\/\/ URL/);
  assert.throws(() => parseRtmpUrl('https://h/app/k'), /not an rtmp/);
  assert.throws(() => parseRtmpUrl('rtmps://h/app'), /needs \/app\/stream/);
  assert.throws(() => parseRtmpUrl('rtmps://h/'), /needs \/app\/stream/);
});

test('loadTlsCaFile: missing, empty or certificate-less files are config errors naming media.tlsCaFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-tlsca-'));
  try {
    const missing = join(dir, 'nope.pem');
    assert.throws(() => loadTlsCaFile(missing), (e: Error) => e instanceof ConfigError && e.key === 'media.tlsCaFile' && e.message.includes('ENOENT') && e.message.includes(missing));
    assert.throws(() => loadTlsCaFile(dir), (e: Error) => e instanceof ConfigError && /EISDIR/.test(e.message));
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
    assert.throws(() => loadTlsCaFile(join(dir, 'junk.pem')), (e: Error) => e instanceof ConfigError && /no PEM certificate/.test(e.message));
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    writeFileSync(join(dir, 'ca.pem'), pem);
    assert.equal(loadTlsCaFile(join(dir, 'ca.pem')), pem);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
