// test-runs-alone: promotion and fencing deadlines are measured against cluster.heartbeatTimeoutMs
//
// Hot standby across two media nodes on one Redis (our own, on a free port kept for the file, so it can be stopped and restarted)
// and one database: node A is an `onair serve` process (so it can be killed with SIGKILL), node B
// runs in this process. ffmpeg publishes the same key to both: A is the primary, B holds the
// backup; a backup with other codecs is refused; forged and replayed notices change nothing;
// kill -9 A promotes B within heartbeatTimeoutMs + 1 s and a new viewer on B gets media; Redis
// stopped for 10 s leaves local viewers playing, never has two nodes recording, and heals to one
// primary; live/end ends both publishers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { onairCommand } from '../../testkit/cli.js';
import { sleep, until } from '../../testkit/wait.js';
import { exited, LoopPublishers, LOOP_FIXTURE } from '../../testkit/ffmpeg-loop.js';
import { run } from '../../testkit/record.js';
import { NoticeSigner } from '../../src/media/cluster/notices.js';
import { freePort } from '../../testkit/ports.js';
import { STANDBY_EVENT_BACKUP_REFUSED, type BackupRefusal } from '../../src/media/cluster/standby.js';

/** One free port for the whole file: the partition test stops Redis and starts it again on the same port. */
const REDIS_PORT = await freePort();
const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
const SECRET = 'standby-test-cluster-secret-0123456789';
const ADMIN = 'standby-test-admin-token-0123456789';
const HEARTBEAT_MS = 1000;
const NOTICES = 'onair:control:cluster:notices';
const publishers = new LoopPublishers();
const procs = new Set<ChildProcess>();

let redisProc: ChildProcess | undefined;
let dbDir: string;
let B: TestServer;
let A: { proc: ChildProcess; httpPort: number; rtmpPort: number; dataDir: string } | undefined;
let key: string;

/** startOwnRedis runs redis-server on REDIS_PORT (no persistence: a restart comes back empty, like a lost node). */
async function startOwnRedis(): Promise<void> {
  const p = spawn('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  redisProc = p;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('redis-server did not start')), 10_000);
    p.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    });
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`redis-server exited with ${code}`)); });
  });
}

async function stopOwnRedis(): Promise<void> {
  const p = redisProc;
  redisProc = undefined;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

const clusterConfig = (nodeId: string) => ({
  'database.url': `sqlite:${join(dbDir, 'shared.db')}`,
  'redis.url': REDIS_URL,
  'cluster.secret': SECRET,
  'cluster.heartbeatTimeoutMs': HEARTBEAT_MS,
  'jobs.nodeId': nodeId,
  adminToken: ADMIN,
  'media.control.liveRefreshSeconds': 0.5,
  'media.control.liveTtlSeconds': 3,
});

/** serveA runs node A as its own `onair serve` process. */
function serveA(): Promise<NonNullable<typeof A>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-standby-a-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ONAIR_DATA_DIR: dataDir, ONAIR_HOST: '127.0.0.1', ONAIR_HTTP_PORT: '0', ONAIR_RTMP_PORT: '0', ONAIR_MEDIA_SRT_PORT: '0', ONAIR_MEDIA_RTSP_PORT: '0', ONAIR_LOG_LEVEL: 'info', ONAIR_ROLES: 'media' };
  for (const [k, v] of Object.entries(clusterConfig('node-a'))) env[`ONAIR_${k.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`] = String(v);
  const proc = spawn(process.execPath, [...onairCommand(), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node A did not start\n${out}`)), 90_000);
    proc.stderr.on('data', (d) => (out += d));
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /"httpPort":(\d+),"rtmpPort":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, httpPort: Number(m[1]), rtmpPort: Number(m[2]), dataDir });
      }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`node A exited ${code}\n${out.slice(-4000)}`)); });
  });
}

async function killA(): Promise<void> {
  const a = A;
  A = undefined;
  if (!a) return;
  if (a.proc.exitCode === null && a.proc.signalCode === null) {
    const gone = new Promise((r) => a.proc.once('exit', r));
    a.proc.kill('SIGKILL');
    await gone;
  }
  rmSync(a.dataDir, { recursive: true, force: true });
}

const rtmpOf = (port: number) => `rtmp://127.0.0.1:${port}/live/${key}`;
const hubB = () => B.app.media!.hub;
const standbyB = () => B.app.hotStandby!;

interface StreamEntry { channel: string; node: string; role: 'primary' | 'backup'; isolated?: true; video?: { codec: string }; audio?: { codec: string } }
async function streamsAt(port: number): Promise<{ node: string; streams: StreamEntry[] }> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/streams`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200);
  return (await r.json()) as { node: string; streams: StreamEntry[] };
}
/** ownRole is the role of the node's own entry for cam (undefined: it holds nothing). */
const ownRole = async (port: number) => {
  const v = await streamsAt(port);
  return v.streams.find((s) => s.channel === 'cam' && s.node === v.node)?.role;
};
const metricsAt = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
const metricOf = (text: string, name: string, labels = '') => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
};

/** mismatchedPublish sends the fixture with MP3 audio instead of AAC (same video). */
function mismatchedPublish(url: string): ChildProcess {
  const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', LOOP_FIXTURE, '-c:v', 'copy', '-c:a', 'libmp3lame', '-ar', '44100', '-f', 'flv', url], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.add(p);
  return p;
}

/** flvViewer reads HTTP-FLV from a node and counts bytes until stopped or the stream ends. */
function flvViewer(port: number) {
  const ac = new AbortController();
  const state = { bytes: 0, ended: false, status: 0 };
  const done = (async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/live/cam.flv`, { signal: ac.signal });
      state.status = res.status;
      const reader = res.body?.getReader();
      if (!reader) return;
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        state.bytes += value.length;
      }
    } catch {
      /* aborted */
    } finally {
      state.ended = true;
    }
  })();
  return { state, stop: async () => { ac.abort(); await done; } };
}

before(async () => {
  await startOwnRedis();
  dbDir = mkdtempSync(join(tmpdir(), 'onair-standby-'));
  B = await startTestServer({ ...clusterConfig('node-b'), roles: ['media'] });
  const owner = await B.platform.users.create({ username: 'owner', password: 'password1' });
  key = (await B.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  A = await serveA();
});

after(async () => {
  publishers.killAll();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await killA();
  await B?.close();
  await stopOwnRedis();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('the same key on A and B: A is the primary, B holds the backup; a backup with other codecs or a second publish on one node is refused', { timeout: 60_000 }, async () => {
  const a = A!;
  publishers.start(rtmpOf(a.rtmpPort));
  await until(async () => (await streamsAt(a.httpPort)).streams.some((s) => s.channel === 'cam' && s.audio?.codec === 'aac'), 20_000, 'cam primary on A with its codecs listed');
  assert.equal(await ownRole(a.httpPort), 'primary');

  // MP3 audio where the primary has AAC: refused with the reason, the ffmpeg publisher is cut off.
  const refusal = new Promise<BackupRefusal>((resolve) => standbyB().once(STANDBY_EVENT_BACKUP_REFUSED, resolve));
  const mp3 = mismatchedPublish(rtmpOf(B.rtmpPort!));
  await exited(mp3, 15_000);
  assert.deepEqual(await refusal, { channel: 'cam', reason: 'the backup\'s audio codec (mp3) differs from the primary\'s (aac)' });
  const m = await metricsAt(B.httpPort);
  assert.equal(metricOf(m, 'onair_cluster_backups_refused_total'), 1);
  assert.equal(hubB().backups.size, 0);

  publishers.start(rtmpOf(B.rtmpPort!));
  await until(() => hubB().backupStats('cam')?.video, 15_000, 'backup with tracks on B');
  const listed = await until(async () => {
    const v = await streamsAt(B.httpPort);
    const cam = v.streams.filter((s) => s.channel === 'cam');
    return cam.length === 2 && cam;
  }, 10_000, 'both publishers listed on B');
  assert.deepEqual(listed.map((s) => [s.node, s.role]).sort(), [['node-a', 'primary'], ['node-b', 'backup']]);
  const onA = (await streamsAt(a.httpPort)).streams.filter((s) => s.channel === 'cam').map((s) => [s.node, s.role]).sort();
  assert.deepEqual(onA, [['node-a', 'primary'], ['node-b', 'backup']]);

  // The backup feeds nothing on B: not live there, no viewer attaches, nothing is recorded.
  assert.equal(hubB().isLive('cam'), false);
  assert.equal((await fetch(`http://127.0.0.1:${B.httpPort}/live/cam.flv`)).status, 404);
  assert.equal(metricOf(await metricsAt(B.httpPort), 'onair_recordings_active'), 0);

  // A second publish of the key on B stays refused (same node).
  const second = publishers.start(rtmpOf(B.rtmpPort!));
  await exited(second, 15_000);
  assert.equal(hubB().backups.size, 1, 'the first backup stays');
});

test('forged and replayed cluster notices are ignored', { timeout: 30_000 }, async () => {
  const raw = new Redis(REDIS_URL);
  // Connected before SUBSCRIBE: a subscribe racing ioredis's ready check (INFO) breaks the connection.
  const sub = new Redis(REDIS_URL, { lazyConnect: true });
  await sub.connect();
  try {
    const before = await metricsAt(B.httpPort);
    // A genuine notice of A (its heartbeat), captured and sent again.
    await sub.subscribe(NOTICES);
    const genuine = await new Promise<string>((resolve, reject) => {
      setTimeout(() => reject(new Error('no notice of node-a heard')), 10_000).unref();
      const take = (_c: string, msg: string) => {
        if (!msg.includes('"node":"node-a"')) return; // B's own heartbeats are not counted by B
        sub.off('message', take);
        resolve(msg);
      };
      sub.on('message', take);
    });
    await raw.publish(NOTICES, genuine);
    // A release of A's lease, signed with a wrong secret: B must not promote.
    await raw.publish(NOTICES, new NoticeSigner('not-the-cluster-secret-000000', 'node-a').sign({ type: 'lease-released', channel: 'cam', token: '1' }));
    // Unsigned JSON claiming the same.
    await raw.publish(NOTICES, JSON.stringify({ v: 1, type: 'lease-released', node: 'node-a', seq: Date.now() * 1000, at: Date.now(), channel: 'cam', token: '1' }));
    const after = await until(async () => {
      const m = await metricsAt(B.httpPort);
      return metricOf(m, 'onair_cluster_notices_total', '{result="bad_mac"}') >= metricOf(before, 'onair_cluster_notices_total', '{result="bad_mac"}') + 2
        && metricOf(m, 'onair_cluster_notices_total', '{result="replayed"}') > metricOf(before, 'onair_cluster_notices_total', '{result="replayed"}') && m;
    }, 5000, 'the forged and replayed notices counted');
    assert.ok(after);
    await sleep(HEARTBEAT_MS);
    assert.equal(hubB().isLive('cam'), false, 'still a backup');
    assert.equal(await ownRole(A!.httpPort), 'primary');
  } finally {
    raw.disconnect();
    sub.disconnect();
  }
});

test('kill -9 of A: B takes the lease within heartbeatTimeoutMs + 1 s and a new viewer on B gets media', { timeout: 60_000 }, async () => {
  const t0 = Date.now();
  await killA();
  await until(() => hubB().isLive('cam'), HEARTBEAT_MS + 1000, 'B promoted', 20);
  const ms = Date.now() - t0;
  assert.ok(ms <= HEARTBEAT_MS + 1000, `promoted after ${ms} ms`);
  assert.equal(standbyB().roleOf('cam'), 'primary');
  assert.equal(metricOf(await metricsAt(B.httpPort), 'onair_cluster_promotions_total'), 1);
  const probe = await run('ffprobe', ['-v', 'error', '-rw_timeout', '10000000', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `http://127.0.0.1:${B.httpPort}/live/cam.flv`], 30_000);
  assert.equal(probe.status, 0, probe.stderr);
  assert.deepEqual(probe.stdout.trim().split('\n').sort(), ['aac', 'h264']);
  assert.equal(await ownRole(B.httpPort), 'primary');
  // The promoted stream feeds B's outputs: its recording starts.
  await until(async () => metricOf(await metricsAt(B.httpPort), 'onair_recordings_active') === 1, 15_000, 'recording on B');
});

test('Redis stopped for 10 s: local viewers play on, never two nodes recording, one primary after it returns', { timeout: 120_000 }, async () => {
  // A comes back and takes the same key as the backup of B's primary.
  A = await serveA();
  const a = A;
  publishers.start(rtmpOf(a.rtmpPort));
  await until(async () => (await ownRole(a.httpPort)) === 'backup', 20_000, 'backup on A');
  const viewer = flvViewer(B.httpPort);
  await until(() => viewer.state.bytes > 0, 10_000, 'viewer on B gets bytes');

  const recordedBytes = async () => [metricOf(await metricsAt(a.httpPort), 'onair_recording_bytes_total'), metricOf(await metricsAt(B.httpPort), 'onair_recording_bytes_total')] as const;
  let last = await recordedBytes();
  let bothRecording = 0;
  const sample = async () => {
    const now = await recordedBytes();
    if (now[0] > last[0] && now[1] > last[1]) bothRecording++;
    last = now;
    return now;
  };

  await stopOwnRedis();
  const down = Date.now();
  let viewerBytes = viewer.state.bytes;
  let fencedAt = 0;
  while (Date.now() - down < 10_000) {
    await sleep(500);
    await sample();
    // The viewer on B gets bytes every half second throughout.
    assert.ok(viewer.state.bytes > viewerBytes, `viewer stalled ${Date.now() - down} ms after Redis stopped`);
    assert.equal(viewer.state.ended, false);
    viewerBytes = viewer.state.bytes;
    if (!fencedAt && hubB().isFenced('cam')) fencedAt = Date.now();
  }
  assert.ok(fencedAt > 0 && fencedAt - down <= HEARTBEAT_MS + 500, `B fenced ${fencedAt - down} ms after Redis stopped`);
  assert.equal(metricOf(await metricsAt(B.httpPort), 'onair_recordings_active'), 0, 'B stopped recording');
  const ownB = (await streamsAt(B.httpPort)).streams.find((x) => x.channel === 'cam' && x.node === 'node-b');
  assert.equal(ownB?.isolated, true, 'B lists its stream as isolated');
  assert.equal(await ownRole(a.httpPort), 'backup', 'A was not promoted without the lease');

  await startOwnRedis();
  const roles = await until(async () => {
    await sample();
    const r = [await ownRole(a.httpPort), await ownRole(B.httpPort)];
    return r.filter((x) => x === 'primary').length === 1 && r;
  }, 15_000, 'one primary after Redis returned', 250);
  // It stays that way.
  for (let i = 0; i < 6; i++) {
    await sleep(500);
    await sample();
    const r = [await ownRole(a.httpPort), await ownRole(B.httpPort)];
    assert.equal(r.filter((x) => x === 'primary').length, 1, JSON.stringify(r));
  }
  assert.equal(bothRecording, 0, 'never two nodes recording at once');
  await viewer.stop();
  assert.ok(roles.includes('primary'));
});

test('live/end ends both publishers and nobody takes over', { timeout: 60_000 }, async () => {
  const a = A!;
  // After the heal the loser may have ended: make sure both publishers are there again.
  if (!hubB().holds('cam')) publishers.start(rtmpOf(B.rtmpPort!));
  if ((await ownRole(a.httpPort)) === undefined) publishers.start(rtmpOf(a.rtmpPort));
  await until(async () => (await ownRole(a.httpPort)) !== undefined && hubB().holds('cam'), 20_000, 'both publishers');
  const running = [...publishers.running];
  const r = await B.api('POST', '/api/v1/channels/cam/live/end', {}, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.ended, true);
  await Promise.all(running.map((p) => exited(p, 15_000)));
  await sleep(HEARTBEAT_MS * 2);
  assert.equal(hubB().holds('cam'), false);
  assert.equal(await ownRole(a.httpPort), undefined);
});
