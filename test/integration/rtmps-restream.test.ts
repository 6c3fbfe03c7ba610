// Restream targets over rtmps:// on a whole server: onair pushes a live channel through a node:tls
// terminator (certificate from a throw-away CA, trusted through media.tlsCaFile) to nginx-rtmp,
// and ffprobe reads H.264 + AAC back from nginx. A target behind a self-signed certificate shows
// the certificate error in its status and is retried with backoff. A media.tlsCaFile that cannot
// be read stops the server's start with an error naming the key.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';
import { startNginxRtmp, type NginxRtmp } from '../../testkit/nginx-rtmp.js';
import { makeCerts, opensslMissing, startTlsTerminator, type TestCerts, type TlsTerminator } from '../../testkit/tls-certs.js';

const execFileP = promisify(execFile);
const FIXTURE = new URL('../fixtures/media/h264-aac-640x360.flv', import.meta.url).pathname;
const children = new Set<ChildProcess>();

const skip = (await opensslMissing()) ?? (await missing('nginx')) ?? (await missing('ffprobe'));

async function missing(cmd: string): Promise<string | null> {
  try {
    await execFileP(cmd, ['-v'], { timeout: 10_000 });
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd} not installed` : null;
  }
}

function run(cmd: string, args: string[]): ChildProcess {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return p;
}



describe('restream targets over rtmps://', { skip: skip ?? false }, () => {
  let s: TestServer;
  let certs: TestCerts;
  let nginx: NginxRtmp | undefined;
  let nginxPort: number;
  let trusted: TlsTerminator;
  let untrusted: TlsTerminator;
  let owner: string;
  let key: string;
  const targets = async () => (await s.api('GET', '/api/v1/channels/tlsmulti/restreams', undefined, owner)).body.restreams as any[];
  const statusOf = async (id: string) => (await targets()).find((t) => t.id === id)?.status;

  before(async () => {
    certs = await makeCerts();
    nginx = await startNginxRtmp();
    nginxPort = nginx.port;
    trusted = await startTlsTerminator(nginxPort, certs.serverKey, certs.serverCert);
    untrusted = await startTlsTerminator(nginxPort, certs.selfKey, certs.selfCert);
    s = await startTestServer({ 'media.restream.allowPrivateTargets': true, 'media.tlsCaFile': certs.caFile, 'record.enabled': false });
    owner = (await s.api('POST', '/api/v1/auth/register', { username: 'tlscaster', password: 'hunter2hunter2' })).body.token;
    key = (await s.api('POST', '/api/v1/channels', { name: 'tlsmulti' }, owner)).body.streamKey;
  });

  after(async () => {
    for (const p of children) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
    await s?.close();
    await trusted?.close();
    await untrusted?.close();
    await nginx?.stop();
    certs?.remove();
  });

  test('an rtmps:// target is stored with its port and pushed over TLS; an untrusted one shows the certificate error', async () => {
    const a = await s.api('POST', '/api/v1/channels/tlsmulti/restreams', { name: 'TLS', url: `rtmps://127.0.0.1:${trusted.port}/sink/tls-secret-stream-key` }, owner);
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.body.restream.url, `rtmps://127.0.0.1:${trusted.port}/sink`);
    assert.equal(a.body.restream.streamKey, '****-key');
    const b = await s.api('POST', '/api/v1/channels/tlsmulti/restreams', { name: 'Untrusted', url: `rtmps://127.0.0.1:${untrusted.port}/sink`, streamKey: 'untrusted-stream-key' }, owner);
    assert.equal(b.status, 201, JSON.stringify(b.body));
    const idA = a.body.restream.id;
    const idB = b.body.restream.id;
    // no port given: 443 is written out
    const c = await s.api('POST', '/api/v1/channels/tlsmulti/restreams', { name: 'Default port', url: 'rtmps://127.0.0.1/sink', streamKey: 'k443', enabled: false }, owner);
    assert.equal(c.body.restream.url, 'rtmps://127.0.0.1:443/sink');

    run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${key}`]);
    await until(async () => (await statusOf(idA))?.state === 'running', 20_000, 'TLS target running');
    assert.ok(trusted.sessions >= 1, 'the push went through the TLS terminator');

    const { stdout } = await execFileP('ffprobe', ['-v', 'error', '-rw_timeout', '8000000', '-read_intervals', '%+2', '-show_entries', 'stream=codec_name:packet=codec_type', '-of', 'json', `rtmp://127.0.0.1:${nginxPort}/sink/tls-secret-stream-key`], { timeout: 20_000 });
    const j = JSON.parse(stdout);
    assert.deepEqual((j.streams ?? []).map((x: any) => x.codec_name).sort(), ['aac', 'h264']);
    const packets = (j.packets ?? []) as { codec_type: string }[];
    assert.ok(packets.filter((p) => p.codec_type === 'video').length > 10, `video packets: ${packets.length}`);
    assert.ok(packets.filter((p) => p.codec_type === 'audio').length > 10, `audio packets: ${packets.length}`);

    const sb = await until(async () => {
      const st = await statusOf(idB);
      return st?.lastError ? st : undefined;
    }, 15_000, 'untrusted target error');
    assert.equal(sb.lastError, 'TLS certificate verify failed: self-signed certificate');
    assert.ok(['waiting', 'connecting'].includes(sb.state), sb.state);
    assert.equal(sb.connects, 0);
    assert.equal(sb.bytesSent, 0);
    assert.equal(untrusted.sessions, 0, 'no TLS session was completed with the untrusted server');
    // backoff: the relay retries after 0.5 s, 1 s, 2 s, ... (doubling), not in a tight loop
    await until(() => untrusted.attemptTimes.length >= 4, 15_000, 'four attempts at the untrusted target');
    const gaps = untrusted.attemptTimes.slice(1, 4).map((t, i) => t - untrusted.attemptTimes[i]!);
    assert.ok(gaps[0]! >= 450, `first retry after ${gaps[0]} ms`);
    for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! >= gaps[i - 1]! * 1.4, `retry gaps grow: ${gaps.join(', ')} ms`);
    assert.equal((await statusOf(idA))?.state, 'running', 'the trusted target goes on');
  });
});

test('a media.tlsCaFile that cannot be read stops the start, naming the key', async () => {
  const missingFile = join(tmpdir(), `onair-no-such-ca-${process.pid}.pem`);
  await assert.rejects(startTestServer({ 'media.tlsCaFile': missingFile, 'record.enabled': false }), (err: Error) => {
    assert.match(err.message, /^invalid config media\.tlsCaFile: cannot read .*onair-no-such-ca-\d+\.pem \(ENOENT\)$/);
    return true;
  });
});
