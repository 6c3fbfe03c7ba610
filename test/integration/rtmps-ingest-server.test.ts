// RTMPS on a whole server: media.rtmps turns on the TLS port beside RTMP, its port is in
// ports.rtmps, ffmpeg publishes the demo channel over rtmps:// with its stream key, and
// GET /api/v1/streams names the publisher's protocol "rtmps". Stopping the server closes the port.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { run, killAll } from './helpers/media-harness.js';
import { makeCerts, opensslMissing, type TestCerts } from '../../testkit/tls-certs.js';
import { until } from '../../testkit/wait.js';

const FIXTURE = new URL('../fixtures/media/h264-aac-640x360.flv', import.meta.url).pathname;
const skip = await opensslMissing();

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });

describe('RTMPS on the whole server', { skip: skip ?? false }, () => {
  let certs: TestCerts;
  let s: TestServer;
  let closed = false;

  before(async () => {
    certs = await makeCerts();
    s = await startTestServer({
      'media.rtmps.enabled': true,
      'media.rtmps.port': 0,
      'media.rtmps.certFile': join(certs.dir, 'server.pem'),
      'media.rtmps.keyFile': join(certs.dir, 'server.key'),
    });
  });

  after(async () => {
    killAll();
    if (!closed) await s?.close();
    certs?.remove();
  });

  test('ffmpeg publishes the demo channel over rtmps://; /api/v1/streams says rtmps; stop closes the port', async () => {
    const port = s.ports.rtmps!;
    assert.ok(port > 0 && port !== s.rtmpPort, `rtmps port ${port}`);
    assert.ok(s.demoStreamKey);
    const ff = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', FIXTURE, '-c', 'copy', '-t', '20', '-f', 'flv', `rtmps://127.0.0.1:${port}/live/${s.demoStreamKey}`]);
    const streams = await until(async () => {
      const r = await s.api('GET', '/api/v1/streams', undefined, s.secrets.adminToken);
      return r.body?.streams?.find((x: { channel: string }) => x.channel === 'demo');
    }, 15_000, 'demo listed live');
    assert.equal(streams.publisher.protocol, 'rtmps');
    assert.equal(s.app.media!.connections().rtmps, 1);
    ff.kill('SIGKILL');
    await until(() => !s.app.media!.hub.isLive('demo'), 10_000, 'demo offline');
    closed = true;
    await s.close();
    assert.equal(await refused(port), true, 'rtmps port closed after stop');
  });
});
