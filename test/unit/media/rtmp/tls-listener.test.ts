// media.rtmps configuration and start errors name the key at fault; handshake failures map to
// their metric reason; the listener's start/stop leaves nothing open.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig, ConfigError } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { createMediaService } from '../../../../src/media/index.js';
import { handshakeFailureReason, loadKeyPair } from '../../../../src/media/rtmp/tls-listener.js';
import { makeCerts, opensslMissing, type TestCerts } from '../../../../testkit/tls-certs.js';

const skip = await opensslMissing();

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('no error');
}

test('config: rtmps is off by default on 1936; enabled without a certificate or key names the missing key', () => {
  const d = loadConfig({ env: {}, file: '/dev/null' }).media.rtmps;
  assert.deepEqual(d, { enabled: false, port: 1936, minVersion: 'TLSv1.2', handshakeTimeoutSeconds: 10, reloadIntervalSeconds: 60 });
  const noCert = configError(() => loadConfig({ env: {}, file: '/dev/null', overrides: { 'media.rtmps.enabled': true, 'media.rtmps.keyFile': '/k.pem' } }));
  assert.equal(noCert.key, 'media.rtmps.certFile');
  assert.match(noCert.message, /ONAIR_MEDIA_RTMPS_CERT_FILE/);
  const noKey = configError(() => loadConfig({ env: { ONAIR_MEDIA_RTMPS_ENABLED: 'true', ONAIR_MEDIA_RTMPS_CERT_FILE: '/c.pem' }, file: '/dev/null' }));
  assert.equal(noKey.key, 'media.rtmps.keyFile');
  const badVersion = configError(() => loadConfig({ env: {}, file: '/dev/null', overrides: { 'media.rtmps.minVersion': 'TLSv1' } }));
  assert.equal(badVersion.key, 'media.rtmps.minVersion');
  const env = loadConfig({ env: { ONAIR_MEDIA_RTMPS_PORT: '2936' }, file: '/dev/null' }).media.rtmps;
  assert.equal(env.port, 2936);
});

test('handshakeFailureReason: timeout, not TLS (plain RTMP, HTTP), other TLS errors', () => {
  const e = (code: string, message: string) => Object.assign(new Error(message), { code });
  assert.equal(handshakeFailureReason(e('ERR_TLS_HANDSHAKE_TIMEOUT', 'TLS handshake timeout')), 'timeout');
  assert.equal(handshakeFailureReason(e('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number')), 'not_tls');
  assert.equal(handshakeFailureReason(e('ERR_SSL_HTTP_REQUEST', 'http request')), 'not_tls');
  assert.equal(handshakeFailureReason(e('ECONNRESET', 'socket hang up')), 'tls');
  assert.equal(handshakeFailureReason(e('ERR_SSL_NO_SHARED_CIPHER', 'no shared cipher')), 'tls');
});

describe('key pair loading', { skip: skip ?? false }, () => {
  let certs: TestCerts;
  let dir: string;
  const f = (n: string) => join(certs.dir, n);

  before(async () => {
    certs = await makeCerts();
    dir = mkdtempSync(join(tmpdir(), 'onair-rtmps-unit-'));
    writeFileSync(join(dir, 'junk.pem'), 'not a pem\n');
  });
  after(() => {
    certs?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a matching pair loads; unreadable, non-PEM and mismatched files name the key at fault', () => {
    const ok = loadKeyPair(f('server.pem'), f('server.key'), 'TLSv1.2');
    assert.equal(ok.minVersion, 'TLSv1.2');
    const missingCert = configError(() => loadKeyPair(join(dir, 'nope.pem'), f('server.key'), 'TLSv1.2'));
    assert.equal(missingCert.key, 'media.rtmps.certFile');
    assert.match(missingCert.message, /cannot read .*nope\.pem \(ENOENT\)/);
    const missingKey = configError(() => loadKeyPair(f('server.pem'), join(dir, 'nope.key'), 'TLSv1.2'));
    assert.equal(missingKey.key, 'media.rtmps.keyFile');
    assert.equal(configError(() => loadKeyPair(join(dir, 'junk.pem'), f('server.key'), 'TLSv1.2')).key, 'media.rtmps.certFile');
    assert.equal(configError(() => loadKeyPair(f('server.pem'), join(dir, 'junk.pem'), 'TLSv1.2')).key, 'media.rtmps.keyFile');
    // certificate and key swapped
    assert.equal(configError(() => loadKeyPair(f('server.key'), f('server.pem'), 'TLSv1.2')).key, 'media.rtmps.certFile');
    const mismatch = configError(() => loadKeyPair(f('server.pem'), f('other.key'), 'TLSv1.2'));
    assert.equal(mismatch.key, 'media.rtmps.keyFile');
    assert.match(mismatch.message, /other\.key does not match the certificate in .*server\.pem/);
  });

  test('the media service refuses to start on a bad pair (naming the key) and leaves no listener or metric behind', async () => {
    const config = loadConfig({ env: {}, file: '/dev/null', overrides: {
      host: '127.0.0.1', 'rtmp.port': 0, 'media.rtmps.enabled': true, 'media.rtmps.port': 0,
      'media.rtmps.certFile': f('server.pem'), 'media.rtmps.keyFile': f('other.key'),
    } });
    const registry = new Registry();
    const media = createMediaService({ config, logger: silentLogger(), registry, streamKeys: { resolve: async () => null } });
    await assert.rejects(media.start(), (err: unknown) => err instanceof ConfigError && err.key === 'media.rtmps.keyFile');
    assert.equal(media.rtmps?.port, null);
    await media.stop();
    assert.equal(registry.getSingleMetric('onair_rtmps_handshake_failures_total'), undefined);

    const good = createMediaService({
      config: { ...config, media: { ...config.media, rtmps: { ...config.media.rtmps, keyFile: f('server.key') } } },
      logger: silentLogger(), registry, streamKeys: { resolve: async () => null },
    });
    const ports = await good.start();
    assert.ok(ports.rtmpsPort! > 0);
    assert.equal(good.rtmps!.port, ports.rtmpsPort);
    assert.ok(registry.getSingleMetric('onair_rtmps_cert_reloads_total'));
    await good.stop();
    assert.equal(good.rtmps!.port, null);
    assert.equal(registry.getSingleMetric('onair_rtmps_cert_reloads_total'), undefined);
  });
});
