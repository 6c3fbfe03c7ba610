// Restreaming on a whole server with a real second RTMP server: ffmpeg publishes to onair,
// onair pushes the channel to nginx-rtmp (an independent implementation) per enabled target,
// and ffprobe reads it back from nginx: H.264 + AAC with advancing timestamps. Targets added,
// disabled, re-enabled and removed while live take effect at once; ending the stream stops
// every push. Also the REST errors of the target routes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';
import { startNginxRtmp, type NginxRtmp } from '../../testkit/nginx-rtmp.js';

const execFileP = promisify(execFile);
const FIXTURE = new URL('../fixtures/media/h264-aac-640x360.flv', import.meta.url).pathname;
const children = new Set<ChildProcess>();

function run(cmd: string, args: string[]): ChildProcess {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return p;
}



/** probe reads ~3 s of a stream: codecs and the decode times of its packets. */
async function probe(url: string): Promise<{ codecs: string[]; video: number[]; audio: number[] }> {
  const { stdout } = await execFileP('ffprobe', ['-v', 'error', '-rw_timeout', '8000000', '-read_intervals', '%+3', '-show_entries', 'stream=codec_name,codec_type:packet=codec_type,dts_time', '-of', 'json', url], { timeout: 20_000 });
  const j = JSON.parse(stdout);
  const times = (kind: string) => (j.packets ?? []).filter((p: any) => p.codec_type === kind && p.dts_time !== undefined).map((p: any) => Number(p.dts_time));
  return { codecs: (j.streams ?? []).map((x: any) => x.codec_name).sort(), video: times('video'), audio: times('audio') };
}

function assertAdvancing(times: number[], what: string): void {
  assert.ok(times.length > 10, `${what}: ${times.length} packets`);
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `${what}: decode times go back at ${i}: ${times[i - 1]} → ${times[i]}`);
  assert.ok(times.at(-1)! - times[0]! >= 1.5, `${what}: timestamps advance ${times[0]} → ${times.at(-1)}`);
}

/** gone: nginx (idle_streams off) drops players of a stream nobody publishes, so ffprobe fails fast. */
async function gone(url: string): Promise<boolean> {
  try {
    await execFileP('ffprobe', ['-v', 'error', '-rw_timeout', '3000000', '-read_intervals', '%+0.5', '-show_entries', 'stream=codec_name', '-of', 'json', url], { timeout: 8000 });
    return false;
  } catch {
    return true;
  }
}

describe('restream targets pushed to nginx-rtmp', () => {
  let s: TestServer;
  let nginx: NginxRtmp;
  let port: number;
  let owner: string;
  let viewer: string;
  let key: string;
  const sink = (k: string) => `rtmp://127.0.0.1:${port}/sink/${k}`;
  const targets = async () => (await s.api('GET', '/api/v1/channels/multi/restreams', undefined, owner)).body.restreams as any[];
  const stateOf = async (id: string) => (await targets()).find((t) => t.id === id)?.status.state;

  before(async () => {
    s = await startTestServer({ 'media.restream.allowPrivateTargets': true, 'media.restream.maxTargetsPerChannel': 3, 'record.enabled': false });
    nginx = await startNginxRtmp();
    port = nginx.port;
    owner = (await s.api('POST', '/api/v1/auth/register', { username: 'caster', password: 'hunter2hunter2' })).body.token;
    viewer = (await s.api('POST', '/api/v1/auth/register', { username: 'watcher', password: 'hunter2hunter2' })).body.token;
    const c = await s.api('POST', '/api/v1/channels', { name: 'multi' }, owner);
    key = c.body.streamKey;
  });

  after(async () => {
    for (const p of children) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
    await s?.close();
    await nginx?.stop();
  });

  test('target routes: permissions, bad URLs, limit, unknown ids', async () => {
    const post = (body: unknown, tok = owner) => s.api('POST', '/api/v1/channels/multi/restreams', body, tok);
    assert.equal((await s.api('GET', '/api/v1/channels/multi/restreams')).status, 401);
    assert.equal((await s.api('GET', '/api/v1/channels/multi/restreams', undefined, viewer)).status, 403);
    assert.equal((await post({ name: 'x', url: sink('k') }, viewer)).status, 403);
    const otherOwner = (await s.api('POST', '/api/v1/auth/register', { username: 'rival', password: 'hunter2hunter2' })).body.token;
    assert.equal((await s.api('POST', '/api/v1/channels', { name: 'rivalch' }, otherOwner)).status, 201);
    assert.equal((await s.api('GET', '/api/v1/channels/multi/restreams', undefined, otherOwner)).status, 403);
    assert.equal((await post({ name: 'x', url: sink('k') }, otherOwner)).status, 403);
    const adminList = await s.api('GET', '/api/v1/channels/multi/restreams', undefined, s.secrets.adminToken);
    assert.deepEqual(adminList.body, { restreams: [], max: 3 });
    const codes: [unknown, number, string][] = [
      [{ name: 'x', url: 'http://127.0.0.1/live/k' }, 400, 'invalid_restream_url'],
      [{ name: 'x', url: 'rtmp://127.0.0.1/live' }, 400, 'invalid_restream_url'],
      [{ name: 'x', url: 'rtmps://127.0.0.1:443/rtmp' }, 400, 'invalid_restream_url'],
      [{ name: 'x', url: 'rtmp://127.0.0.1/live', streamKey: 'a b' }, 400, 'invalid_restream_url'],
      [{ name: 'x' }, 400, 'validation_failed'],
      [{ name: 'x', url: sink('k'), streamKey: 'k', what: 1 }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of codes) {
      const r = await post(body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.body.error.code, code, JSON.stringify(r.body));
    }
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await post({ name: `t${i}`, url: `rtmp://127.0.0.1:${port}/sink`, streamKey: `limit-key-${i}`, enabled: false });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      made.push(r.body.restream.id);
    }
    const over = await post({ name: 't3', url: sink('k3') });
    assert.equal(over.status, 400);
    assert.equal(over.body.error.code, 'too_many_restreams');
    const unknown = await s.api('PATCH', '/api/v1/channels/multi/restreams/nope', { enabled: true }, owner);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'restream_not_found');
    assert.equal((await s.api('DELETE', '/api/v1/channels/multi/restreams/nope', undefined, owner)).body.error.code, 'restream_not_found');
    assert.equal((await s.api('PATCH', `/api/v1/channels/multi/restreams/${made[0]}`, {}, owner)).status, 400, 'empty patch');
    assert.equal((await s.api('DELETE', `/api/v1/channels/multi/restreams/${made[0]}`, undefined, viewer)).status, 403);
    for (const id of made) assert.equal((await s.api('DELETE', `/api/v1/channels/multi/restreams/${id}`, undefined, owner)).status, 204);
    assert.deepEqual(await targets(), []);
  });

  test('live: each enabled target is pushed to nginx as H.264 + AAC with advancing timestamps; changes apply at once', async () => {
    const a = await s.api('POST', '/api/v1/channels/multi/restreams', { name: 'A', url: `rtmp://127.0.0.1:${port}/sink`, streamKey: 'a-secret-stream-key' }, owner);
    assert.equal(a.status, 201);
    assert.equal(a.body.restream.streamKey, '****-key');
    assert.equal(a.body.restream.url, `rtmp://127.0.0.1:${port}/sink`);
    assert.ok(!JSON.stringify(a.body).includes('a-secret-stream-key'), 'the key is never returned');
    assert.equal(a.body.restream.status.state, 'idle');
    const idA = a.body.restream.id;

    run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${key}`]);
    await until(async () => (await stateOf(idA)) === 'running', 20_000, 'target A running');
    const pa = await probe(sink('a-secret-stream-key'));
    assert.deepEqual(pa.codecs, ['aac', 'h264']);
    assertAdvancing(pa.video, 'A video');
    assertAdvancing(pa.audio, 'A audio');

    // the operators' list shows the active target
    const streams = (await s.api('GET', '/api/v1/streams', undefined, s.secrets.adminToken)).body.streams;
    const multi = streams.find((x: any) => x.channel === 'multi');
    assert.deepEqual(multi.restreams.map((r: any) => [r.name, r.status.state]), [['A', 'running']]);

    // added while live: starts at once (the key given inside the URL this time)
    const b = await s.api('POST', '/api/v1/channels/multi/restreams', { name: 'B', url: sink('b-key-given-in-url') }, owner);
    assert.equal(b.status, 201);
    assert.ok(['connecting', 'running'].includes(b.body.restream.status.state), b.body.restream.status.state);
    assert.equal(b.body.restream.streamKey, '****-url');
    const idB = b.body.restream.id;
    await until(async () => (await stateOf(idB)) === 'running', 15_000, 'target B running');
    assert.deepEqual((await probe(sink('b-key-given-in-url'))).codecs, ['aac', 'h264']);

    // disabled while live: its push stops and nginx drops the stream; B goes on
    const off = await s.api('PATCH', `/api/v1/channels/multi/restreams/${idA}`, { enabled: false }, owner);
    assert.equal(off.body.restream.status.state, 'stopped');
    assert.equal(off.body.restream.enabled, false);
    await until(() => gone(sink('a-secret-stream-key')), 15_000, 'A gone from nginx');
    assert.equal(await stateOf(idB), 'running');
    assert.equal(s.app.media!.listRelays().length, 1);

    // enabled again: back at once
    await s.api('PATCH', `/api/v1/channels/multi/restreams/${idA}`, { enabled: true }, owner);
    await until(async () => (await stateOf(idA)) === 'running', 15_000, 'A running again');
    assertAdvancing((await probe(sink('a-secret-stream-key'))).video, 'A video after re-enable');

    // removed while live
    assert.equal((await s.api('DELETE', `/api/v1/channels/multi/restreams/${idB}`, undefined, owner)).status, 204);
    await until(() => gone(sink('b-key-given-in-url')), 15_000, 'B gone from nginx');
    assert.deepEqual(s.app.media!.listRelays().map((r) => r.channel), ['multi']);

    // the stream ends (through the API): every push stops, figures of the last stream stay
    const end = await s.api('POST', '/api/v1/channels/multi/live/end', {}, owner);
    assert.equal(end.body.ended, true);
    await until(() => s.app.media!.listRelays().length === 0, 5000, 'relays stopped');
    const [t] = await targets();
    assert.equal(t.status.state, 'idle');
    assert.ok(t.status.connects >= 1);
    assert.ok(t.status.bytesSent > 100_000, `bytes sent ${t.status.bytesSent}`);
    await until(() => gone(sink('a-secret-stream-key')), 15_000, 'A gone after the end');
    assert.equal(nginx.proc.exitCode, null, 'nginx still up');
  });
});
