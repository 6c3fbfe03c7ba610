// test-runs-alone: checks when an edge pull ends after its grace period, and reads live byte streams from three nodes
//
// The media cluster's on-demand edges (issue 17): three whole servers A, B, C on one Redis and one
// PostgreSQL database; ffmpeg publishes to A. B and C serve the channel over HTTP-FLV, WS-FLV and
// RTMP play by pulling it from A once each (the origin counts one `edge` pull per edge node
// however many players the edge has), the pull ends after the grace once the edge's last player
// left, an origin connection that breaks is re-made without closing the edge's players and with
// timestamps that never go back, and a pull without the right cluster secret is refused and logged.
// Live status, summed viewer counts and thumbnails are right on every node, RTSP play and WHEP work
// on an edge, and the watch page on C plays in Chromium (its player picks WebRTC).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { startTestServer, TEST_CLUSTER_SECRET, type TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { engines } from '../../testkit/db.js';
import { freePort } from '../../testkit/ports.js';
import { sleep, until } from '../../testkit/wait.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { collect, ffprobe, killAll, run } from './helpers/media-harness.js';
import { FlvParser, FLV_TAG_VIDEO } from '../../src/formats/flv.js';
import { CLUSTER_SECRET_HEADER } from '../../src/media/cluster/secret.js';
import { DEFAULT_BUS_PREFIX } from '../../src/media/control/bus.js';
import { ensureWebBuilt, launchBrowser, newContext, videoAdvances } from '../e2e/helpers/web.js';

const GRACE_SECONDS = 1.5;
const publishers = new LoopPublishers();
const logs: Record<string, unknown>[] = [];
let redis: RedisServer;
let dispose: (() => Promise<void>) | undefined;
let dbDir: string | undefined;
let A: TestServer;
let B: TestServer;
let C: TestServer;

const flvUrl = (s: TestServer) => `http://127.0.0.1:${s.httpPort}/live/cam.flv`;
const originStream = () => A.app.media!.hub.streams.get('cam');
const edgeOf = (s: TestServer) => s.app.media!.hub.edges.get('cam');

/** FlvReader is one HTTP-FLV player: it keeps the video timestamps it got. */
interface FlvReader {
  videoTimestamps: number[];
  bytes: () => number;
  ended: Promise<void>;
  close(): void;
}

function readFlv(url: string): Promise<FlvReader> {
  return new Promise((resolve, reject) => {
    const videoTimestamps: number[] = [];
    let bytes = 0;
    const req = request(url, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
      const parser = new FlvParser({ onTag: (t) => { if (t.type === FLV_TAG_VIDEO) videoTimestamps.push(t.timestamp); } });
      const ended = new Promise<void>((r) => { res.on('close', () => r()); });
      res.on('data', (d: Buffer) => { bytes += d.length; parser.push(d); });
      res.on('error', () => undefined);
      resolve({ videoTimestamps, bytes: () => bytes, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** cleanDecode plays a URL for a few seconds with ffmpeg and fails on any decoder complaint. */
async function cleanDecode(url: string, seconds = 2): Promise<void> {
  const r = await collect(run('ffmpeg', ['-hide_banner', '-v', 'error', '-rw_timeout', '10000000', '-i', url, '-t', String(seconds), '-f', 'null', '-']), 30_000);
  assert.equal(r.code, 0, `ffmpeg exited ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `decode errors from ${url}`);
}

async function probeCodecs(url: string): Promise<string[]> {
  const p = await ffprobe(url);
  return p.streams.map((s) => String(s.codec_name)).sort();
}

before(async () => {
  redis = await startRedis();
  const pgCase = engines().find((e) => e.engine === 'postgres' && !e.skip);
  let dbUrl: string;
  if (pgCase) {
    const opened = await pgCase.open();
    await opened.db.close();
    dbUrl = opened.url;
    dispose = async () => {
      // The servers hold their own pools; opened.dispose drops the database (its own pool is already closed).
      await opened.dispose().catch(() => undefined);
    };
  } else {
    dbDir = mkdtempSync(join(tmpdir(), 'onair-edge-'));
    dbUrl = `sqlite:${join(dbDir, 'shared.db')}`;
  }
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const node = async (logger?: ReturnType<typeof pino>, web?: string) => {
    const port = await freePort();
    return startTestServer({
      roles: web ? ['media', 'api', 'web'] : ['media', 'api'],
      ...(web ? { 'web.dir': web } : {}),
      'http.port': port,
      'database.url': dbUrl,
      'redis.url': redis.url,
      'hls.enabled': true,
      'media.control.advertiseUrl': `http://127.0.0.1:${port}`,
      'media.control.liveRefreshSeconds': 0.5,
      'cluster.edgeGraceSeconds': GRACE_SECONDS,
      'cluster.edgeHoldSeconds': 5,
    }, {}, logger ? { logger } : {});
  };
  A = await node(pino({ level: 'info' }, sink));
  B = await node();
  C = await node(undefined, ensureWebBuilt());
  const owner = await A.platform.users.create({ username: 'owner', password: 'password1' });
  const key = (await A.platform.channels.create({ name: 'cam', ownerId: owner.id })).streamKey;
  await A.platform.channels.create({ name: 'idle', ownerId: owner.id });
  publishers.start(`rtmp://127.0.0.1:${A.rtmpPort}/live/${key}`);
  await until(() => A.app.media!.hub.isLive('cam'), 15_000, 'cam live on A');
  // The live list names A within a refresh.
  await until(async () => (await redisList()).includes('"channel":"cam"'), 10_000, 'cam in the cluster live list');
});

async function redisList(): Promise<string> {
  const { Redis } = await import('ioredis');
  const r = new Redis(redis.url);
  try {
    const nodes = await r.zrange(`${DEFAULT_BUS_PREFIX}:live:nodes`, 0, -1);
    const raws = nodes.length ? await r.mget(nodes.map((n) => `${DEFAULT_BUS_PREFIX}:live:node:${n}`)) : [];
    return raws.join('\n');
  } finally {
    r.disconnect();
  }
}

after(async () => {
  publishers.killAll();
  killAll();
  await C?.close();
  await B?.close();
  await A?.close();
  await redis?.stop();
  await dispose?.();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('HTTP-FLV from edge B and RTMP play from edge C: ffprobe finds H.264 + AAC and the decode is clean', { timeout: 90_000 }, async () => {
  assert.deepEqual(await probeCodecs(flvUrl(B)), ['aac', 'h264']);
  await cleanDecode(flvUrl(B));
  const rtmpC = `rtmp://127.0.0.1:${C.rtmpPort}/live/cam`;
  assert.deepEqual(await probeCodecs(rtmpC), ['aac', 'h264']);
  await cleanDecode(rtmpC);
  // HTTP-FLV from C and RTMP from B too: every edge serves every protocol.
  await cleanDecode(`rtmp://127.0.0.1:${B.rtmpPort}/live/cam`, 1);
  await cleanDecode(flvUrl(C), 1);
});

test('RTSP play from edge C: ffprobe finds H.264 + AAC and the decode is clean', { timeout: 60_000 }, async () => {
  const url = `rtsp://127.0.0.1:${C.ports.rtsp}/live/cam`;
  const p = await collect(run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name', '-of', 'json', url]), 20_000);
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual((JSON.parse(p.stdout) as { streams: { codec_name: string }[] }).streams.map((x) => x.codec_name).sort(), ['aac', 'h264']);
  const r = await collect(run('ffmpeg', ['-hide_banner', '-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-t', '2', '-f', 'null', '-']), 30_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.trim(), '');
});

test('WHEP on edge B: an offer for the pulled channel is answered (201, SDP with H.264) and the session is B\'s', { timeout: 30_000 }, async () => {
  const pc = new RTCPeerConnection({
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90_000, payloadType: 102, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' })] },
  });
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`http://127.0.0.1:${B.httpPort}/live/cam/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
    const body = await res.text();
    assert.equal(res.status, 201, body);
    assert.match(body, /H264/);
    assert.equal(B.app.whep!.sessionCount(), 1);
    assert.equal(edgeOf(B)?.from, 'edge');
    // With media.control.advertiseUrl set the Location is absolute, on the node that holds the session.
    const session = new URL(res.headers.get('location') ?? '', `http://127.0.0.1:${B.httpPort}`);
    assert.equal(session.port, String(B.httpPort));
    const del = await fetch(session, { method: 'DELETE' });
    assert.ok(del.status < 300, `DELETE ${del.status}`);
  } finally {
    await pc.close().catch(() => undefined);
  }
});

test('an edge stream is for players only: no HLS packager, not in the edge\'s own live list, not live in its local view', async () => {
  const r = await readFlv(flvUrl(B));
  try {
    await until(() => r.bytes() > 0, 10_000, 'bytes on B');
    const hub = B.app.media!.hub;
    assert.equal(hub.isLive('cam'), false, 'the local view does not see the edge stream');
    assert.equal(hub.playable('cam'), true);
    assert.equal(edgeOf(B)?.from, 'edge');
    assert.equal(hub.liveChannels().includes('cam'), false);
    assert.equal(B.app.hls?.stats('cam') ?? null, null, 'B packages no LL-HLS of an edge stream');
    const own = await B.app.streamControl!.ownEntries();
    assert.deepEqual(own.map((s) => s.channel), [], 'B does not list the pulled channel as its own');
    const raw = await redisList();
    assert.equal(raw.split('\n').filter((l) => l.includes('"channel":"cam"')).length, 1, 'cam is listed once, by A');
  } finally {
    r.close();
  }
});

test('WS-FLV from edge C: the first message is the FLV header with codec headers, media follows', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${C.httpPort}/live/cam.flv`);
  const messages: Buffer[] = [];
  ws.on('message', (d: Buffer) => messages.push(d));
  try {
    await until(() => messages.length >= 3, 15_000, 'WS-FLV messages from C');
    assert.equal(messages[0]!.subarray(0, 3).toString('latin1'), 'FLV');
  } finally {
    ws.close();
  }
});

test('50 players on edge B: the origin holds exactly one pull for B and counts none of them as its viewers', { timeout: 60_000 }, async () => {
  // Let earlier tests' pulls end so the count is B's alone.
  await until(() => !edgeOf(B) && !edgeOf(C), 15_000, 'earlier pulls ended');
  const viewersBefore = A.app.media!.hub.stats('cam')!.viewers;
  const readers = await Promise.all(Array.from({ length: 50 }, () => readFlv(flvUrl(B))));
  try {
    await until(() => readers.every((r) => r.videoTimestamps.length > 0), 20_000, 'video on all 50 players');
    assert.equal(originStream()!.edgePulls(), 1);
    assert.equal(B.app.edge!.pulls.list().length, 1);
    assert.equal(edgeOf(B)!.viewers.size, 50);
    assert.deepEqual(A.app.media!.hub.stats('cam')!.viewers, viewersBefore, 'a node pull is not a viewer');
    const metrics = await (await fetch(`http://127.0.0.1:${A.httpPort}/metrics`)).text();
    assert.match(metrics, /onair_media_viewers\{protocol="edge"\} 1\b/);
  } finally {
    for (const r of readers) r.close();
  }
});

test('live status on every node: the channel API on B and C says live, with viewers summed over nodes', { timeout: 30_000 }, async () => {
  const readers = await Promise.all([readFlv(flvUrl(B)), readFlv(flvUrl(B)), readFlv(flvUrl(C))]);
  try {
    await until(() => readers.every((r) => r.bytes() > 0), 10_000, 'bytes on B and C');
    for (const s of [A, B, C]) {
      const stream = await until(async () => {
        const r = await s.api('GET', '/api/v1/channels/cam');
        const st = r.body?.channel?.stream as { live: boolean; viewers?: Record<string, number> } | undefined;
        return st?.live && st.viewers?.flv === 3 && st;
      }, 10_000, `cam live with 3 FLV viewers (two on B, one on C, none on A) on node ${s.httpPort}`);
      assert.equal(stream.viewers?.flv, 3);
    }
    // The home page's list: live channels on B include cam.
    const home = await B.api('GET', '/api/v1/channels?live=true');
    assert.deepEqual((home.body.channels as { name: string }[]).map((c) => c.name), ['cam']);
  } finally {
    for (const r of readers) r.close();
  }
  const off = await B.api('GET', '/api/v1/channels/idle');
  assert.equal(off.body.channel.stream.live, false);
});

test('the live thumbnail on edge C is the origin\'s', { timeout: 30_000 }, async () => {
  const fromA = await until(async () => {
    const r = await fetch(`http://127.0.0.1:${A.httpPort}/live/cam/thumbnail.jpg`);
    return r.status === 200 && Buffer.from(await r.arrayBuffer());
  }, 20_000, 'a thumbnail on A');
  const r = await fetch(`http://127.0.0.1:${C.httpPort}/live/cam/thumbnail.jpg`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'image/jpeg');
  const fromC = Buffer.from(await r.arrayBuffer());
  assert.equal(fromC[0], 0xff, 'JPEG SOI');
  assert.equal(fromC[1], 0xd8);
  assert.ok(fromC.length > 1000, `${fromC.length} bytes`);
  assert.ok(fromA.length > 1000);
  // Only the origin runs ffmpeg for thumbnails: C has written none of its own.
  assert.equal(existsSync(join(A.dataDir, 'thumbnails', 'live', 'cam.jpg')), true);
  assert.equal(existsSync(join(C.dataDir, 'thumbnails', 'live', 'cam.jpg')), false);
  assert.equal((await fetch(`http://127.0.0.1:${C.httpPort}/live/idle/thumbnail.jpg`)).status, 404);
});

test('the last player leaves edge B: the pull ends after the grace period, not before', { timeout: 30_000 }, async () => {
  const r = await readFlv(flvUrl(B));
  await until(() => r.bytes() > 0, 10_000, 'bytes on B');
  r.close();
  const left = Date.now();
  await sleep(GRACE_SECONDS * 1000 * 0.5);
  assert.ok(edgeOf(B), 'still pulling within the grace');
  await until(() => !edgeOf(B), GRACE_SECONDS * 1000 + 5_000, 'B\'s pull ended');
  assert.ok(Date.now() - left >= GRACE_SECONDS * 1000, `ended after ${Date.now() - left} ms`);
  await until(() => originStream()!.edgePulls() === 0, 5_000, 'the origin sees the pull gone');
});

test('the origin connection breaks: edge C re-pulls, its player stays connected and timestamps never go back', { timeout: 60_000 }, async () => {
  const r = await readFlv(flvUrl(C));
  try {
    await until(() => r.videoTimestamps.length > 30, 15_000, 'video on C');
    const connects = C.app.edge!.pulls.list()[0]!.connects;
    // Cut C's pull on the origin's side, as a network hiccup would.
    const pull = [...originStream()!.viewers].find((v) => v.viewer.protocol === 'edge');
    assert.ok(pull, 'C\'s pull on A');
    pull.viewer.end('test hiccup', false);
    const before = r.videoTimestamps.length;
    await until(() => C.app.edge!.pulls.list()[0]?.connects === connects + 1, 10_000, 'C reconnects');
    await until(() => r.videoTimestamps.length > before + 30, 15_000, 'video resumes on the same connection');
    const ts = r.videoTimestamps;
    for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! >= ts[i - 1]!, `timestamp went back at ${i}: ${ts[i - 1]} → ${ts[i]}`);
  } finally {
    r.close();
  }
});

test('the watch page on edge C plays in Chromium (WebRTC over the pulled stream)', { timeout: 120_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const page = await (await newContext(browser, { lang: 'en' })).newPage();
    await page.goto(`http://127.0.0.1:${C.httpPort}/watch/cam`);
    await page.locator('.player[data-protocol="webrtc"]').waitFor({ timeout: 30_000 });
    const { from, to } = await videoAdvances(page, 2, 60_000);
    assert.ok(to - from >= 2, `currentTime advanced from ${from.toFixed(2)} to ${to.toFixed(2)}`);
    const size = await page.evaluate(() => { const v = document.querySelector('video')!; return [v.videoWidth, v.videoHeight]; });
    assert.deepEqual(size, [640, 360]);
    assert.equal(C.app.whep!.sessionCount(), 1, 'the WHEP session is on C');
    assert.equal(edgeOf(C)?.from, 'edge');
    // (The WHEP session, and with it C's pull, outlives the closed browser until ICE consent expires: the tests after this one do not count C's pulls.)
  } finally {
    await browser.close();
  }
});

test('a pull without the cluster secret is refused with 401, a wrong one with 403; both are logged', async () => {
  const url = `http://127.0.0.1:${A.httpPort}/cluster/live/cam.flv`;
  const none = await fetch(url);
  assert.equal(none.status, 401);
  const wrong = await fetch(url, { headers: { [CLUSTER_SECRET_HEADER]: 'not-the-cluster-secret-at-all' } });
  assert.equal(wrong.status, 403);
  assert.ok(logs.some((l) => l.msg === 'cluster pull refused: no cluster secret' && l.channel === 'cam'), 'missing secret logged');
  assert.ok(logs.some((l) => l.msg === 'cluster pull refused: wrong cluster secret' && l.channel === 'cam'), 'wrong secret logged');
  // The right secret gets the stream (what an edge does), as HTTP-FLV.
  const ok = await new Promise<{ status: number; type: string }>((resolve, reject) => {
    const req = request(url, { headers: { [CLUSTER_SECRET_HEADER]: TEST_CLUSTER_SECRET } }, (res) => {
      resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']) });
      req.destroy();
    });
    req.on('error', reject);
    req.end();
  });
  assert.deepEqual(ok, { status: 200, type: 'video/x-flv' });
});

test('a channel live nowhere is 404 on an edge, at once', async () => {
  const t0 = Date.now();
  const res = await fetch(`http://127.0.0.1:${B.httpPort}/live/nobody.flv`);
  assert.equal(res.status, 404);
  assert.ok(Date.now() - t0 < 2_000);
  assert.equal(edgeOf(B)?.channel === 'nobody', false);
});

test('a media node with Redis and no cluster secret does not start; the error names ONAIR_CLUSTER_SECRET', async () => {
  await assert.rejects(
    startTestServer({ roles: ['media'], 'redis.url': redis.url, 'cluster.secret': undefined }),
    /ONAIR_CLUSTER_SECRET/,
  );
});
