// test-runs-alone: measures how soon bytes resume at players after kill -9 of the primary's node
//
// Seamless failover (issue 18, second half): three media nodes on one Redis and one database. Node
// A is an `onair serve` process (so it can be killed with SIGKILL); B and C run in this process.
// ffmpeg publishes the same key to A (primary) and B (backup). An HTTP-FLV viewer on edge C and
// one on B (whose player is fed by B's pull of A) watch, ffmpeg plays RTMP from B and a WHEP
// client (werift) plays WebRTC from B; then A is killed: B's backup is promoted,
// B's viewer continues on B's own stream and C's pull re-points to B, both on the same
// connection, bytes resuming within heartbeatTimeoutMs + 1 s, FLV timestamps never going back,
// and what each captured decodes cleanly with ffmpeg. The LL-HLS playlist read through C goes on
// from B's packager with the media sequence still growing and an EXT-X-DISCONTINUITY at the switch.
// Then without a backup: the broadcaster publishes to B after A died (OBS's backup URL), and the
// viewers on B and C, held by their edge pulls meanwhile, continue on B's new stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { onairCommand } from '../../testkit/cli.js';
import { freePort } from '../../testkit/ports.js';
import { sleep, until } from '../../testkit/wait.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { run } from '../../testkit/record.js';
import { Socket as UdpSocket } from 'node:dgram';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { FlvParser, FLV_TAG_AUDIO, FLV_TAG_VIDEO } from '../../src/formats/flv.js';

const SECRET = 'failover-test-cluster-secret-0123456789';
const HEARTBEAT_MS = 1000;
const publishers = new LoopPublishers();
const procs = new Set<ChildProcess>();
let redis: RedisServer;
let dbDir: string;
let A: { proc: ChildProcess; httpPort: number; rtmpPort: number; dataDir: string } | undefined;
let B: TestServer;
let C: TestServer;
let key: string;
let publisherOnB: ChildProcess | undefined;

const clusterConfig = (nodeId: string, httpPort: number) => ({
  'database.url': `sqlite:${join(dbDir, 'shared.db')}`,
  'redis.url': redis.url,
  'cluster.secret': SECRET,
  'cluster.heartbeatTimeoutMs': HEARTBEAT_MS,
  'cluster.edgeHoldSeconds': 5,
  'hls.enabled': true,
  'jobs.nodeId': nodeId,
  'media.control.advertiseUrl': `http://127.0.0.1:${httpPort}`,
  'media.control.liveRefreshSeconds': 0.5,
  'media.control.liveTtlSeconds': 3,
});

/** serveA runs node A as its own `onair serve` process. */
async function serveA(): Promise<NonNullable<typeof A>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-failover-a-'));
  const httpPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, ONAIR_DATA_DIR: dataDir, ONAIR_HOST: '127.0.0.1', ONAIR_HTTP_PORT: String(httpPort), ONAIR_RTMP_PORT: '0', ONAIR_MEDIA_SRT_PORT: '0', ONAIR_MEDIA_RTSP_PORT: '0', ONAIR_LOG_LEVEL: 'info', ONAIR_ROLES: 'media' };
  for (const [k, v] of Object.entries(clusterConfig('node-a', httpPort))) env[`ONAIR_${k.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`] = String(v);
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

/** FlvCapture is one HTTP-FLV player: every byte it got, and each audio/video tag with when it arrived. */
interface FlvCapture {
  tags: { type: number; dts: number; at: number }[];
  raw: Buffer[];
  closed: boolean;
  stop(): void;
}

function captureFlv(port: number): Promise<FlvCapture> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${port}/live/cam.flv`, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
      const cap: FlvCapture = { tags: [], raw: [], closed: false, stop: () => req.destroy() };
      const parser = new FlvParser({
        onTag: (t) => {
          if (t.type === FLV_TAG_AUDIO || t.type === FLV_TAG_VIDEO) cap.tags.push({ type: t.type, dts: t.timestamp, at: Date.now() });
        },
      });
      res.on('data', (d: Buffer) => {
        cap.raw.push(d);
        parser.push(d);
      });
      res.on('close', () => (cap.closed = true));
      res.on('error', () => undefined);
      resolve(cap);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Playlist is what the test reads of a media playlist: its sequence numbers and where the discontinuities are. */
interface Playlist {
  mediaSequence: number;
  discontinuitySequence: number;
  segments: { msn: number; discontinuity: boolean }[];
}

function parsePlaylist(text: string): Playlist {
  const pl: Playlist = { mediaSequence: 0, discontinuitySequence: 0, segments: [] };
  let discontinuity = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) pl.mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) pl.discontinuitySequence = Number(line.slice(30));
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line && !line.startsWith('#')) {
      pl.segments.push({ msn: pl.mediaSequence + pl.segments.length, discontinuity });
      discontinuity = false;
    }
  }
  return pl;
}

/** pollPlaylists reads C's LL-HLS media playlist every 200 ms (as a player reloading it) until stopped. */
function pollPlaylists(port: number) {
  const seen: Playlist[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/live/cam/source/playlist.m3u8`);
        if (r.status === 200) seen.push(parsePlaylist(await r.text()));
        else await r.arrayBuffer();
      } catch {
        /* the origin switching: try again */
      }
      await sleep(200);
    }
  })();
  return { seen, stop: async () => { on = false; await done; } };
}

/** rtmpPlayer copies RTMP play from a node into an FLV file with ffmpeg until told to stop. */
function rtmpPlayer(port: number, file: string) {
  const p = spawn('ffmpeg', ['-hide_banner', '-v', 'warning', '-rw_timeout', '10000000', '-i', `rtmp://127.0.0.1:${port}/live/cam`, '-c', 'copy', '-f', 'flv', '-y', file], { stdio: ['pipe', 'ignore', 'pipe'] });
  procs.add(p);
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  return {
    running: () => p.exitCode === null && p.signalCode === null,
    stderr: () => stderr,
    /** stop asks ffmpeg to finish its file (q on stdin) and waits for it. */
    stop: async () => {
      p.stdin.end('q');
      return exit;
    },
  };
}

/** The process's bound UDP sockets (werift leaves a connected client's open after close()). */
function udpSockets(): Set<UdpSocket> {
  const out = new Set<UdpSocket>();
  for (const h of (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()) if (h instanceof UdpSocket) out.add(h);
  return out;
}

/** WhepCapture is a WebRTC player: the video RTP it got (sequence number, timestamp, arrival). */
interface WhepCapture {
  pc: RTCPeerConnection;
  rtp: { seq: number; ts: number; at: number }[];
  close(): Promise<void>;
}

/** whepPlayer plays a node's channel over WHEP (video only), retrying once as a player would if media does not flow. */
async function whepPlayer(port: number, attempt = 1): Promise<WhepCapture> {
  const before = udpSockets();
  const pc = new RTCPeerConnection({
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1',
    codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90_000, payloadType: 102, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' })] },
  });
  const cap: WhepCapture = { pc, rtp: [], close: async () => undefined };
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((p) => cap.rtp.push({ seq: p.header.sequenceNumber, ts: p.header.timestamp, at: Date.now() })));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((r) => { if (pc.iceGatheringState === 'complete') r(); else pc.iceGatheringStateChange.subscribe((x) => { if (x === 'complete') r(); }); });
  const own = [...udpSockets()].filter((x) => !before.has(x));
  const res = await fetch(`http://127.0.0.1:${port}/live/cam/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription?.sdp });
  const answer = await res.text();
  assert.equal(res.status, 201, answer);
  const location = new URL(res.headers.get('location') ?? '', `http://127.0.0.1:${port}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  cap.close = async () => {
    await fetch(location, { method: 'DELETE' }).catch(() => undefined);
    await pc.close().catch(() => undefined);
    for (const x of own) try { x.close(); } catch { /* closed by werift */ }
  };
  try {
    await until(() => cap.rtp.length > 0, 10_000, 'WHEP media flowing');
    return cap;
  } catch (err) {
    await cap.close();
    if (attempt >= 2) throw err;
    return whepPlayer(port, attempt + 1);
  }
}

/** resumedAfter is how long after `t0` the first tag arrived that came after a pause (the switch). */
function resumedAfter(cap: FlvCapture, t0: number): number {
  // Bytes already on their way when A died arrive within a few ms; the switch comes later.
  const first = cap.tags.find((t) => t.at > t0 + 100);
  assert.ok(first, 'no media after the kill');
  return first.at - t0;
}

function assertMonotonic(cap: FlvCapture, who: string): void {
  for (const type of [FLV_TAG_VIDEO, FLV_TAG_AUDIO]) {
    let last = -1;
    for (const t of cap.tags) {
      if (t.type !== type) continue;
      assert.ok(t.dts >= last, `${who}: ${type === FLV_TAG_VIDEO ? 'video' : 'audio'} timestamp went back from ${last} to ${t.dts}`);
      last = t.dts;
    }
  }
}

/** cleanDecode decodes captured FLV bytes with ffmpeg and fails on any decoder complaint. */
async function cleanDecode(cap: FlvCapture, who: string): Promise<void> {
  const file = join(dbDir, `${who}.flv`);
  writeFileSync(file, Buffer.concat(cap.raw));
  const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-f', 'null', '-'], 60_000);
  assert.equal(r.status, 0, `${who}: ffmpeg failed: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `${who}: decode errors`);
}

before(async () => {
  redis = await startRedis();
  dbDir = mkdtempSync(join(tmpdir(), 'onair-failover-'));
  const bPort = await freePort();
  B = await startTestServer({ ...clusterConfig('node-b', bPort), 'http.port': bPort, roles: ['media'] });
  const cPort = await freePort();
  C = await startTestServer({ ...clusterConfig('node-c', cPort), 'http.port': cPort, roles: ['media'] });
  const owner = await B.platform.users.create({ username: 'owner', password: 'password1' });
  key = (await B.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  A = await serveA();
});

after(async () => {
  publishers.killAll();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await killA();
  await C?.close();
  await B?.close();
  await redis?.stop();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('kill -9 of the primary: viewers on the backup\'s node and on an edge stay connected, bytes resume, timestamps go on, the output decodes', { timeout: 120_000 }, async (t) => {
  const a = A!;
  publishers.start(`rtmp://127.0.0.1:${a.rtmpPort}/live/${key}`);
  await until(() => C.app.clusterLive?.view.remote('cam'), 20_000, 'cam live on A as seen from C');
  publisherOnB = publishers.start(`rtmp://127.0.0.1:${B.rtmpPort!}/live/${key}`);
  await until(() => B.app.media!.hub.backupStats('cam')?.video, 20_000, 'the backup on B with its tracks');

  const playlists = pollPlaylists(C.httpPort);
  const onC = await captureFlv(C.httpPort);
  const onB = await captureFlv(B.httpPort);
  const rtmpFile = join(dbDir, 'rtmp-b.flv');
  const rtmpOnB = rtmpPlayer(B.rtmpPort!, rtmpFile);
  const whepOnB = await whepPlayer(B.httpPort);
  assert.ok(B.app.media!.hub.edges.has('cam'), 'B plays the channel through its pull of A');
  // A few seconds of the primary's stream first.
  await until(() => onC.tags.length > 100 && onB.tags.length > 100, 15_000, 'both viewers get media');
  await until(() => (playlists.seen.at(-1)?.segments.length ?? 0) >= 2, 15_000, 'LL-HLS segments through C');
  await sleep(1000);
  const hlsBefore = playlists.seen.length;

  const t0 = Date.now();
  const lastBefore = { C: Math.max(...onC.tags.map((t) => t.dts)), B: Math.max(...onB.tags.map((t) => t.dts)) };
  await killA();
  await until(() => B.app.media!.hub.isLive('cam'), HEARTBEAT_MS * 3, 'B promoted', 20);
  await until(() => onC.tags.some((t) => t.at > t0 + 100) && onB.tags.some((t) => t.at > t0 + 100), HEARTBEAT_MS + 4000, 'media again on both viewers', 20);
  const resumed = { B: resumedAfter(onB, t0), C: resumedAfter(onC, t0) };
  t.diagnostic(`bytes resumed after the kill: B ${resumed.B} ms, C ${resumed.C} ms`);
  // Two more seconds of the new primary's stream.
  await sleep(2000);
  assert.equal(onB.closed, false, 'B\'s viewer is still connected');
  assert.equal(onC.closed, false, 'C\'s viewer is still connected');
  assert.ok(rtmpOnB.running(), `the RTMP player on B is still playing: ${rtmpOnB.stderr()}`);
  // WHEP on B: the same peer connection, RTP sequence numbers and timestamps going on.
  assert.equal(whepOnB.pc.connectionState, 'connected', 'the WHEP peer connection stayed up');
  const rtpBefore = whepOnB.rtp.filter((x) => x.at <= t0);
  const rtpAfter = whepOnB.rtp.filter((x) => x.at > t0 + 100);
  await whepOnB.close();
  const lastRtp = rtpBefore.at(-1);
  const firstRtp = rtpAfter[0];
  assert.ok(lastRtp && firstRtp && rtpAfter.length > 30, `WHEP media before (${rtpBefore.length}) and after (${rtpAfter.length}) the switch`);
  const seqStep = (firstRtp.seq - lastRtp.seq + 65536) % 65536;
  assert.ok(seqStep >= 1 && seqStep <= 50, `RTP sequence numbers go on (+${seqStep})`);
  const tsStep = (firstRtp.ts - lastRtp.ts + 2 ** 32) % 2 ** 32;
  assert.ok(tsStep > 0 && tsStep < 90_000 * 10, `RTP timestamps go on (+${tsStep} ticks)`);
  assert.equal(await rtmpOnB.stop(), 0, rtmpOnB.stderr());
  // The LL-HLS playlist through C: A's first, then B's, which carries A's sequence on.
  await until(() => playlists.seen.slice(hlsBefore).some((p) => p.segments.some((x) => x.discontinuity)), 10_000, 'a discontinuity in C\'s playlist');
  await playlists.stop();
  onB.stop();
  onC.stop();

  assert.ok(resumed.B <= HEARTBEAT_MS + 1000, `B's viewer resumed ${resumed.B} ms after the kill`);
  assert.ok(resumed.C <= HEARTBEAT_MS + 1000, `C's viewer resumed ${resumed.C} ms after the kill`);
  assert.equal(B.app.media!.hub.edges.has('cam'), false, 'B\'s pull ended: its players moved to the promoted stream');
  assert.equal(C.app.edge?.pulls.list()[0]?.origin, 'node-b', 'C pulls from B now');
  for (const [who, cap] of [['B', onB], ['C', onC]] as const) {
    assertMonotonic(cap, who);
    const after = cap.tags.filter((t) => t.at > t0 + 100);
    assert.ok(after.length > 50, `${who}: media goes on after the switch (${after.length} tags)`);
    assert.ok(after.every((t) => t.dts > lastBefore[who]), `${who}: every tag after the switch comes after the last one before`);
    await cleanDecode(cap, who);
  }
  // The RTMP player's copy: timestamps that ffmpeg found in order, and a clean decode.
  assert.doesNotMatch(rtmpOnB.stderr(), /non-monoton/i, 'RTMP play timestamps never went back');
  const rtmpCap: FlvCapture = { tags: [], raw: [readFileSync(rtmpFile)], closed: true, stop: () => undefined };
  new FlvParser({ onTag: (x) => { if (x.type === FLV_TAG_AUDIO || x.type === FLV_TAG_VIDEO) rtmpCap.tags.push({ type: x.type, dts: x.timestamp, at: 0 }); } }).push(rtmpCap.raw[0] ?? Buffer.alloc(0));
  assert.ok(rtmpCap.tags.length > 150, `the RTMP player got media through the switch (${rtmpCap.tags.length} tags)`);
  assertMonotonic(rtmpCap, 'RTMP on B');
  await cleanDecode(rtmpCap, 'rtmp-b');
  const lastOfA = Math.max(...playlists.seen.slice(0, hlsBefore).flatMap((p) => p.segments.map((x) => x.msn)));
  const switched = playlists.seen.slice(hlsBefore).find((p) => p.segments.some((x) => x.discontinuity));
  assert.ok(switched);
  const firstOfB = switched.segments.find((x) => x.discontinuity);
  assert.ok(firstOfB && firstOfB.msn > lastOfA, `B's first segment ${firstOfB?.msn} follows A's last ${lastOfA}`);
  assert.ok(firstOfB.msn <= lastOfA + 4, `the media sequence goes on (${lastOfA} → ${firstOfB.msn}), it does not start over or leap`);
  // Media sequence numbers never go back from one reload to the next.
  for (let i = 1; i < playlists.seen.length; i++) assert.ok((playlists.seen[i]?.mediaSequence ?? 0) >= (playlists.seen[i - 1]?.mediaSequence ?? 0), `reload ${i}: media sequence went back`);
  t.diagnostic(`LL-HLS via C: A's last segment ${lastOfA}, B's first ${firstOfB.msn} (discontinuity sequence ${switched.discontinuitySequence})`);
});

test('no backup: the broadcaster moves to B after A died; the viewers held on B and C continue on B\'s stream', { timeout: 120_000 }, async (t) => {
  // B's publisher from the first test leaves: the channel ends, its viewers are gone.
  publisherOnB?.kill('SIGKILL');
  await until(() => !B.app.media!.hub.holds('cam') && !C.app.media!.hub.playable('cam'), 15_000, 'the channel over on B and C');
  A = await serveA();
  const a = A;
  publishers.start(`rtmp://127.0.0.1:${a.rtmpPort}/live/${key}`);
  await until(() => C.app.clusterLive?.view.remote('cam')?.node === 'node-a' && B.app.clusterLive?.view.remote('cam')?.node === 'node-a', 20_000, 'cam live on A as seen from B and C');
  const onB = await captureFlv(B.httpPort);
  const onC = await captureFlv(C.httpPort);
  await until(() => onC.tags.length > 60 && onB.tags.length > 60, 15_000, 'both viewers get media from A');
  assert.equal(B.app.media!.hub.holds('cam'), false, 'no backup this time');

  const t0 = Date.now();
  const lastBefore = { B: Math.max(...onB.tags.map((x) => x.dts)), C: Math.max(...onC.tags.map((x) => x.dts)) };
  await killA();
  // The broadcaster's encoder notices and reconnects to its backup URL, node B, a moment later.
  await sleep(500);
  publishers.start(`rtmp://127.0.0.1:${B.rtmpPort!}/live/${key}`);
  await until(() => B.app.media!.hub.isLive('cam'), 15_000, 'the publish on B is the primary');
  await until(() => onC.tags.some((x) => x.at > t0 + 600) && onB.tags.some((x) => x.at > t0 + 600), 10_000, 'media again on both viewers', 20);
  const resumed = { B: resumedAfter(onB, t0), C: resumedAfter(onC, t0) };
  t.diagnostic(`bytes resumed after the kill (the publisher reconnected 500 ms after it): B ${resumed.B} ms, C ${resumed.C} ms`);
  await sleep(2000);
  assert.equal(onB.closed, false, 'B\'s viewer is still connected');
  assert.equal(onC.closed, false, 'C\'s viewer is still connected');
  onB.stop();
  onC.stop();
  assert.equal(C.app.edge?.pulls.list()[0]?.origin, 'node-b', 'C pulls from B now');
  for (const [who, cap] of [['B', onB], ['C', onC]] as const) {
    assertMonotonic(cap, who);
    const after = cap.tags.filter((x) => x.at > t0 + 100);
    assert.ok(after.length > 40, `${who}: media goes on after the switch (${after.length} tags)`);
    assert.ok(after.every((x) => x.dts > lastBefore[who]), `${who}: every tag after the switch comes after the last one before`);
    await cleanDecode(cap, `moved-${who}`);
  }
});
