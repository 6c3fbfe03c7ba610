// test-runs-alone: checks RTP timing and loss packet by packet
/**
 * WHEP against a WebRTC client in Node (werift, full ICE, controlling; our server is ICE lite):
 * the RTP that reaches a viewer after SRTP is checked packet by packet — H.264 payload type from
 * the answer, access units that depacketize to SPS, PPS and an IDR first, the marker bit on each
 * access unit's last packet, 90 kHz timestamps, Opus at 48 kHz. Also: the viewer cap (503), a
 * missing ffmpeg (video plays, the failure is counted), B-frame detection, and one channel output
 * shared by several viewers. The source is an ffmpeg-made FLV pushed into the hub in real time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:dgram';
import prom from 'prom-client';
import { RTCPeerConnection, RTCRtpCodecParameters, type RtpPacket } from 'werift';
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildHttpApp } from '../../src/http/app.js';
import { StreamHub } from '../../src/media/hub/hub.js';
import { FlvFrameReader } from '../../src/media/flv/frame-reader.js';
import { FlvParser, FLV_TAG_SCRIPT, type FlvTag } from '../../src/formats/flv.js';
import { depacketizeH264 } from '../../src/formats/rtp-h264.js';
import { opusPacketSamples } from '../../src/formats/rtp-opus.js';
import { createWhepService, type WhepService } from '../../src/media/webrtc/index.js';

const dir = mkdtempSync(join(tmpdir(), 'onair-whep-'));
/** makeSource encodes a 640x360 H.264 + AAC FLV (1 s GOP; with B-frames when asked). */
function makeSource(name: string, bFrames: boolean): FlvTag[] {
  const file = join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '6', '-c:v', 'libx264', '-preset', 'veryfast', ...(bFrames ? ['-bf', '2', '-profile:v', 'main'] : ['-tune', 'zerolatency', '-profile:v', 'baseline']),
    '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', file]);
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push({ ...t, data: Buffer.from(t.data) }) }).push(readFileSync(file));
  return tags.filter((t) => t.type !== FLV_TAG_SCRIPT);
}

let plain: FlvTag[];
let withB: FlvTag[];
before(() => {
  plain = makeSource('plain.flv', false);
  withB = makeSource('bframes.flv', true);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Rig { hub: StreamHub; whep: WhepService; base: string; registry: prom.Registry; close(): Promise<void> }

async function rig(over: Record<string, unknown> = {}, ffmpeg: string | undefined = 'ffmpeg', control: Record<string, unknown> = {}): Promise<Rig> {
  const config = configSchema.parse({ host: '127.0.0.1', media: { webrtc: over, control, abr: { restartMinMs: 50, restartMaxMs: 200 } } });
  const logger = silentLogger();
  const registry = new prom.Registry();
  const hub = new StreamHub({ logger, gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 23, viewerStallMs: 10_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const { app } = buildHttpApp({ logger, bodyLimitBytes: 1 << 20, trustProxy: false });
  const whep = createWhepService({ config, logger, hub, registry, ...(ffmpeg ? { ffmpeg } : {}) });
  whep.registerHttp(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    hub, whep, registry, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    async close() { await whep.stop(); hub.stop(); await app.close(); },
  };
}

/** play pushes the tags into the hub at their own pace, looping, until stopped. */
function play(hub: StreamHub, channel: string, tags: FlvTag[]): { stop(): void } {
  const live = hub.publish(channel, { protocol: 'relay', close: () => undefined })!;
  const flv = new FlvFrameReader(live);
  const start = Date.now();
  let i = 0;
  let stopped = false;
  // Sequence headers once; the media loops (it starts with an IDR), timestamps running on.
  const headers = tags.filter((t) => t.timestamp === 0 && t.data[1] === 0);
  const media = tags.filter((t) => !headers.includes(t));
  const loopMs = media[media.length - 1]!.timestamp + 33;
  for (const t of headers) flv.tag(t.type, 0, t.data);
  let loop = 0;
  const timer = setInterval(() => {
    while (!stopped && loop * loopMs + media[i]!.timestamp <= Date.now() - start) {
      const t = media[i]!;
      flv.tag(t.type, loop * loopMs + t.timestamp, t.data);
      if (++i === media.length) { i = 0; loop++; }
    }
  }, 5);
  return { stop() { stopped = true; clearInterval(timer); if (!live.ended) live.end('test over'); } };
}

interface Viewer { pc: RTCPeerConnection; video: RtpPacket[]; audio: RtpPacket[]; answer: string; location: string; close(): Promise<void> }

/** The process's bound UDP sockets. */
function udpSockets(): Set<Socket> {
  const out = new Set<Socket>();
  for (const h of (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()) if (h instanceof Socket) out.add(h);
  return out;
}

/**
 * closeClient closes a test client and the UDP sockets it opened: werift 0.24 leaves a full-ICE
 * (non-lite) client's sockets open after close() once it has connected, which kept this file's
 * process from exiting. The server side is ICE lite and closes its own (checked in the last test).
 */
async function closeClient(pc: RTCPeerConnection, sockets: Set<Socket>): Promise<void> {
  await pc.close();
  for (const s of sockets) {
    try {
      s.close();
    } catch {
      /* closed by werift */
    }
  }
}

/** connect is a WHEP client: recvonly H.264 + Opus offer, POST, answer, RTP collected per kind. */
async function connect(base: string, channel: string): Promise<Viewer | { status: number; headers: Headers; body: string }> {
  const pc = new RTCPeerConnection({
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1',
    codecs: {
      video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90_000, payloadType: 102, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] })],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2, payloadType: 111 })],
    },
  });
  const before = udpSockets();
  const own = new Set<Socket>();
  const v: Viewer = { pc, video: [], audio: [], answer: '', location: '', close: () => closeClient(pc, own) };
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => (track.kind === 'video' ? v.video : v.audio).push(rtp)));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((r) => { if (pc.iceGatheringState === 'complete') r(); else pc.iceGatheringStateChange.subscribe((s) => { if (s === 'complete') r(); }); });
  for (const s of udpSockets()) if (!before.has(s)) own.add(s);
  const res = await fetch(`${base}/live/${channel}/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
  const body = await res.text();
  if (res.status !== 201) { await v.close(); return { status: res.status, headers: res.headers, body }; }
  v.answer = body;
  v.location = res.headers.get('location')!;
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  return v;
}

async function until(what: string, fn: () => boolean, ms = 20_000, state?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}${state ? ` (${state()})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * connectFlowing connects a viewer and waits until media flows, retrying like a player would:
 * on a loaded machine a werift *client* can stall in its DTLS handshake (never seen with
 * Chromium). A stalled attempt is DELETEd (so the server keeps counting one session per viewer).
 */
async function connectFlowing(base: string, channel: string, attempts = 3): Promise<Viewer> {
  for (let i = 1; ; i++) {
    const v = await connect(base, channel);
    assert.ok('pc' in v, `POST answered ${'status' in v ? `${v.status} ${v.body}` : ''}`);
    try {
      await until('media flowing', () => v.video.length > 0, 10_000, () => `${v.pc.connectionState}/${v.pc.iceConnectionState}`);
      return v;
    } catch (err) {
      await fetch(base + v.location, { method: 'DELETE' });
      await v.close();
      if (i >= attempts) throw err;
    }
  }
}

/**
 * inOrder puts received packets in sequence-number order, once each, with `undefined` where a
 * packet never came: a burst (the cached GOP) can lose a packet on a busy machine's socket, and
 * NACK does not always get it back in time. The caller bounds how many may be missing.
 */
function inOrder(packets: RtpPacket[]): (RtpPacket | undefined)[] {
  if (packets.length === 0) return [];
  const first = packets[0]!.header.sequenceNumber;
  const bySeq = new Map<number, RtpPacket>();
  for (const p of packets) {
    const off = (p.header.sequenceNumber - first + 65536) % 65536;
    if (off < 32768 && !bySeq.has(off)) bySeq.set(off, p);
  }
  const last = Math.max(...bySeq.keys());
  return Array.from({ length: last + 1 }, (_, i) => bySeq.get(i));
}

/**
 * accessUnits groups received video packets by RTP timestamp, checking the marker bit on each
 * last packet. A unit touching a missing packet is `damaged` (it cannot be checked whole);
 * `afterGap` says packets were missing just before it (a whole unit may have gone there).
 */
function accessUnits(packets: (RtpPacket | undefined)[]): { ts: number; payloads: Buffer[]; damaged: boolean; afterGap: boolean }[] {
  const out: { ts: number; payloads: Buffer[]; marked: boolean; damaged: boolean; afterGap: boolean }[] = [];
  let gap = false;
  for (const p of packets) {
    if (!p) {
      gap = true;
      continue;
    }
    const cur = out[out.length - 1];
    if (!cur || cur.ts !== p.header.timestamp) {
      if (cur && gap) cur.damaged = true;
      else if (cur) assert.ok(cur.marked, `access unit at ${cur.ts} ends with the marker bit`);
      out.push({ ts: p.header.timestamp, payloads: [], marked: false, damaged: gap, afterGap: gap });
    } else if (gap) cur.damaged = true;
    gap = false;
    const au = out[out.length - 1]!;
    assert.ok(!au.marked, 'no packet after the marker within an access unit');
    au.payloads.push(p.payload);
    au.marked = p.header.marker;
  }
  return out;
}

test('WHEP with a werift client: H.264 access units, marker bits, 90 kHz and 48 kHz clocks, shared output', { timeout: 60_000 }, async () => {
  const r = await rig();
  const src = play(r.hub, 'cam', plain);
  const viewers: Viewer[] = [];
  try {
    await until('live', () => r.hub.isLive('cam'));
    await new Promise((res) => setTimeout(res, 1500)); // the GOP cache holds frames now
    for (let i = 0; i < 2; i++) viewers.push(await connectFlowing(r.base, 'cam'));
    assert.equal(r.whep.stats().length, 1, 'one channel output for both viewers');
    assert.equal(r.whep.stats()[0]!.sessions, 2);
    await until('3 s of video and audio at both viewers', () => viewers.every((v) => v.video.length > 200 && v.audio.length > 100), 30_000, () => JSON.stringify({ client: viewers.map((v) => [v.video.length, v.audio.length, v.pc.connectionState, v.pc.iceConnectionState]), server: r.whep.stats() }));
    for (const v of viewers) {
      const pt = Number(/^m=video \d+ \S+ (\d+)$/m.exec(v.answer)![1]);
      assert.equal(pt, 102, 'the payload type we offered for mode 1');
      assert.ok(v.video.every((p) => p.header.payloadType === pt));
      const video = inOrder(v.video.slice(0, -20)); // the newest may still be in flight
      const missing = video.filter((p) => !p).length;
      // None go missing on a quiet machine; at load 6–9 up to ~8 % did (this process runs the
      // server, the source and both clients; NACK cannot always win). This test checks packetizing
      // and clocks, so a bound, not zero; loss recovery is the WHIP loss test's subject.
      assert.ok(missing <= video.length / 5, `${missing} of ${video.length} video packets never arrived`);
      const aus = accessUnits(video.slice(0, -5)); // and the newest unit incomplete
      const whole = aus.filter((a) => !a.damaged);
      assert.ok(whole.length >= 60, `${whole.length} whole access units`);
      if (!aus[0]!.damaged) {
        const first = depacketizeH264(aus[0]!.payloads).map((n) => n[0]! & 0x1f);
        assert.deepEqual(first.slice(0, 2), [7, 8], 'SPS and PPS lead the first access unit');
        assert.ok(first.includes(5), 'the first access unit is an IDR');
      }
      // 30 fps at 90 kHz: 3000 ticks a frame (ms rounding of FLV timestamps: ±90); not across a
      // gap, where a whole unit may be missing.
      const deltas = aus.slice(1).flatMap((a, i) => (a.afterGap ? [] : [(a.ts - aus[i]!.ts + 2 ** 32) % 2 ** 32]));
      // A viewer that joins once the GOP cache is full jumps forward once from the cached frames
      // to the live ones (seen under load, when the connection took a retry): whole frames, forward.
      const offFrame = deltas.map((d, i) => [i, d]).filter(([, d]) => d! < 2900 || d! > 3100);
      assert.ok(deltas.length >= 60 && offFrame.length <= 1, `video deltas ${deltas.slice(0, 10)}; off one frame (index, delta): ${JSON.stringify(offFrame.slice(0, 5))}`);
      for (const [, d] of offFrame) assert.ok(d! > 3100 && d! < 90_000 * 10, `a jump must go forward by whole frames: ${d}`);
      // Every whole unit depacketizes; the last one may be cut by the slices above.
      for (const a of whole.slice(0, Math.min(40, whole.length - 1))) depacketizeH264(a.payloads);
      // Opus: 20 ms packets, timestamps 960 apart at 48 kHz.
      assert.ok(v.audio.every((p) => p.header.payloadType === 111 && opusPacketSamples(p.payload) === 960));
      // (a packet lost on a busy machine's socket shows as a sequence gap: the clock gap matches it)
      const aDeltas = v.audio.slice(1, 100).map((p, i) => {
        const seq = (p.header.sequenceNumber - v.audio[i]!.header.sequenceNumber + 65536) % 65536;
        return ((p.header.timestamp - v.audio[i]!.header.timestamp + 2 ** 32) % 2 ** 32) / seq;
      });
      assert.ok(aDeltas.every((d) => d === 960), `audio ticks per packet ${aDeltas.slice(0, 10)}`);
    }
    // Per viewer only the header differs: same payload bytes, own SSRC and sequence numbers.
    const [a, b] = viewers;
    assert.notEqual(a!.video[0]!.header.ssrc, b!.video[0]!.header.ssrc);
    // (compared over what both received recently: a retried viewer may have joined a GOP later)
    const bPayloads = new Set(b!.video.map((p) => p.payload.toString('base64')));
    // (the newest 100 are left out: under load one viewer's SRTP runs behind the other's; a few
    // packets lost on a loaded socket are allowed, as above)
    const recent = a!.video.slice(-300, -100);
    const shared = recent.filter((p) => bPayloads.has(p.payload.toString('base64'))).length;
    assert.ok(shared >= recent.length * 0.8, `${shared} of ${recent.length} recent payloads identical at both viewers`);
    assert.equal(r.whep.stats()[0]!.bFrames, false);
    // DELETE both; the channel output and its ffmpeg go away.
    for (const v of viewers) assert.equal((await fetch(r.base + v.location, { method: 'DELETE' })).status, 204);
    assert.equal(r.whep.stats().length, 0);
    assert.equal(r.whep.sessionCount(), 0);
  } finally {
    src.stop();
    for (const v of viewers) await v.close();
    await r.close();
  }
});

test('WHEP cap: past media.webrtc.maxViewers a POST gets 503 with Retry-After', { timeout: 30_000 }, async () => {
  const r = await rig({ maxViewers: 1 });
  const src = play(r.hub, 'cam', plain);
  const viewers: Viewer[] = [];
  try {
    await until('live', () => r.hub.isLive('cam'));
    const one = await connect(r.base, 'cam');
    assert.ok('pc' in one);
    viewers.push(one);
    const two = await connect(r.base, 'cam');
    assert.ok('status' in two);
    assert.equal(two.status, 503);
    assert.equal(two.headers.get('retry-after'), '10');
    assert.match(JSON.parse(two.body).error.message, /limit/);
  } finally {
    src.stop();
    for (const v of viewers) await v.close();
    await r.close();
  }
});

test('WHEP without a working ffmpeg: video plays, no audio, the transcoder failure is counted', { timeout: 30_000 }, async () => {
  const r = await rig({}, '/nonexistent/ffmpeg');
  const src = play(r.hub, 'cam', plain);
  let v: Viewer | undefined;
  try {
    await until('live', () => r.hub.isLive('cam'));
    const got = await connect(r.base, 'cam');
    assert.ok('pc' in got);
    v = got;
    await until('video', () => got.video.length > 100);
    assert.equal(got.audio.length, 0);
    const restarts = (await r.registry.getSingleMetric('onair_webrtc_opus_transcoder_restarts_total')!.get()).values[0]!.value;
    assert.ok(restarts >= 1, `restarts ${restarts}`);
  } finally {
    src.stop();
    await v?.close();
    await r.close();
  }
});

test('WHEP with a B-frame source: detected (stats, docs/webrtc.md), frames still delivered by pts', { timeout: 30_000 }, async () => {
  const r = await rig({ audio: false });
  const src = play(r.hub, 'cam', withB);
  let v: Viewer | undefined;
  try {
    await until('live', () => r.hub.isLive('cam'));
    const got = await connect(r.base, 'cam');
    assert.ok('pc' in got);
    v = got;
    await until('video', () => got.video.length > 100);
    assert.equal(r.whep.stats()[0]!.bFrames, true);
    // The main-profile source picks the main-profile line when it is offered; our client offered only 42e01f.
    assert.match(got.answer, /profile-level-id=42e01f/);
  } finally {
    src.stop();
    await v?.close();
    await r.close();
  }
});

test('with media.control.advertiseUrl, the session\'s Location is absolute on this node (a load balancer in front)', { timeout: 30_000 }, async () => {
  const r = await rig({ audio: false }, undefined, { advertiseUrl: 'http://media-2.test:8080/' });
  const src = play(r.hub, 'cam', plain);
  let v: Viewer | undefined;
  try {
    await until('live', () => r.hub.isLive('cam'));
    const got = await connect(r.base, 'cam');
    assert.ok('pc' in got, 'status' in got ? `${got.status} ${got.body}` : '');
    v = got;
    assert.match(got.location, /^http:\/\/media-2\.test:8080\/live\/cam\/whep\/[0-9a-f-]{36}$/);
    // The same resource, reached at this node: the DELETE ends the session.
    assert.equal((await fetch(r.base + new URL(got.location).pathname, { method: 'DELETE' })).status, 204);
    assert.equal(r.whep.sessionCount(), 0);
  } finally {
    src.stop();
    await v?.close();
    await r.close();
  }
});

test('WHEP session ends when the stream ends; the server releases its UDP sockets', { timeout: 30_000 }, async () => {
  const udpBefore = udpSockets();
  const r = await rig({ audio: false });
  const src = play(r.hub, 'cam', plain);
  let v: Viewer | undefined;
  try {
    await until('live', () => r.hub.isLive('cam'));
    const got = await connect(r.base, 'cam');
    assert.ok('pc' in got);
    v = got;
    await until('video', () => got.video.length > 30);
    src.stop();
    await until('session closed', () => r.whep.sessionCount() === 0, 5000);
    const ended = await r.registry.getSingleMetric('onair_webrtc_sessions_ended_total')!.get();
    assert.deepEqual(ended.values.map((x) => [x.labels.reason, x.value]), [['stream_ended', 1]]);
    // The viewer's DELETE after the stream ended: its session ended already, 204 once, then gone.
    assert.equal((await fetch(r.base + got.location, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(r.base + got.location, { method: 'DELETE' })).status, 404);
    await v.close();
    v = undefined;
    await until('every UDP socket of the session released', () => [...udpSockets()].every((x) => udpBefore.has(x)), 5000, () => `${udpSockets().size - udpBefore.size} left`);
  } finally {
    src.stop();
    await v?.close();
    await r.close();
  }
});
