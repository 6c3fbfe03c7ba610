/**
 * SRT ingest with a real publisher (ffmpeg built with libsrt): the channel goes live and HTTP-FLV
 * carries H.264 + AAC with advancing timestamps; a wrong key, a second publisher, playback mode
 * and a passphrase are refused with their rejection codes (ffmpeg fails, the log says why); 5 %
 * of data packets dropped by a UDP relay are recovered by NAK retransmissions and the output
 * decodes cleanly; a killed publisher times out and the channel ends.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startMedia, run, collect, killAll, waitFor, type MediaHarness } from './helpers/media-harness.js';
import { SrtServer } from '../../src/media/srt/server.js';
import { REJ_UNSECURE, REJX_BAD_MODE, REJX_CONFLICT, REJX_FORBIDDEN, SRT_REJ_BASE } from '../../src/formats/srt-packet.js';
import { seededRandom } from '../../testkit/prng.js';

after(() => killAll());

interface Rig {
  h: MediaHarness;
  srt: SrtServer;
  port: number;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

async function rig(opts: { idleTimeoutMs?: number } = {}): Promise<Rig> {
  const h = await startMedia();
  h.keys.set('k1', 'chan');
  h.keys.set('k2', 'other');
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const srt = new SrtServer({
    logger, hub: h.media.hub, registry: h.registry,
    authorizePublish: (k, ip) => h.media.authorizePublish(k, ip, 'srt'),
    unpublished: (c, ip, r) => h.media.unpublished(c, ip, r, 'srt'),
    latencyMs: 120, maxPayload: 1456, idleTimeoutMs: opts.idleTimeoutMs ?? 5000, maxSessions: 10,
  });
  const port = await srt.listen(0, '127.0.0.1');
  return { h, srt, port, logs, async stop() { await srt.close(); await h.stop(); } };
}

function publish(port: number, streamid: string, opts: { seconds?: number; extra?: string[] } = {}) {
  return run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=480x270:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', String(opts.seconds ?? 10),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k',
    '-f', 'mpegts', `srt://127.0.0.1:${port}?streamid=${streamid}&latency=120000${(opts.extra ?? []).join('')}`,
  ]);
}

/** videoPts reads `seconds` of the channel's HTTP-FLV with ffprobe: codec names and video packet times. */
async function probeFlv(url: string, seconds: number): Promise<{ codecs: string[]; videoPts: number[] }> {
  const r = await collect(run('ffprobe', ['-v', 'error', '-rw_timeout', '10000000', '-read_intervals', `%+${seconds}`, '-show_streams', '-show_packets', '-of', 'json', url]), 30_000);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { streams: { index: number; codec_name: string }[]; packets: { stream_index: number; pts_time: string }[] };
  const vIndex = j.streams.find((s) => s.codec_name === 'h264')?.index;
  return { codecs: j.streams.map((s) => s.codec_name).sort(), videoPts: j.packets.filter((p) => p.stream_index === vIndex).map((p) => Number(p.pts_time)) };
}

test('ffmpeg publishes over SRT: live, HTTP-FLV has h264 + aac with advancing timestamps, ends cleanly', async () => {
  const r = await rig();
  const ff = publish(r.port, 'publish:k1', { seconds: 8 });
  try {
    await waitFor(() => r.h.media.hub.isLive('chan'), 10_000, 'channel live');
    const stats = r.h.media.stats().find((s) => s.channel === 'chan')!;
    assert.equal(stats.publisher.protocol, 'srt');
    assert.equal(stats.video?.width, 480);
    assert.equal(stats.audio?.codec, 'aac');
    const { codecs, videoPts } = await probeFlv(r.h.httpUrl('live/chan.flv'), 3);
    assert.deepEqual(codecs, ['aac', 'h264']);
    assert.ok(videoPts.length >= 40, `video packets: ${videoPts.length}`);
    for (let i = 1; i < videoPts.length; i++) assert.ok(videoPts[i]! >= videoPts[i - 1]!, `pts went back at ${i}`);
    assert.ok(videoPts[videoPts.length - 1]! - videoPts[0]! >= 1.5, 'timestamps advance');
    const s = r.srt.stats()[0]!;
    assert.ok(s.packets > 100 && s.videoFrames > 40 && s.audioFrames > 40, JSON.stringify(s));
    assert.equal(s.ccErrors, 0);
    const done = await collect(ff, 20_000);
    assert.equal(done.code, 0, done.stderr);
    // ffmpeg's close sends SHUTDOWN: the channel ends at once, not after the idle timeout.
    await waitFor(() => !r.h.media.hub.isLive('chan'), 2000, 'channel offline');
    assert.ok(r.logs.some((l) => l.msg === 'SRT publish ended' && l.reason === 'shutdown'));
    const metrics = await r.h.registry.getSingleMetricAsString('onair_srt_packets_received_total');
    assert.match(metrics, /onair_srt_packets_received_total \d{3,}/);
  } finally {
    ff.kill('SIGKILL');
    await r.stop();
  }
});

test('refusals: wrong key (1403), channel already publishing (1409), playback mode (1405), passphrase (SRT_REJ_UNSECURE)', async () => {
  const r = await rig();
  const first = publish(r.port, 'publish:k1', { seconds: 12 });
  try {
    const bad = await collect(publish(r.port, 'publish:nope', { seconds: 2 }), 15_000);
    assert.notEqual(bad.code, 0, 'a wrong key fails');
    assert.ok(r.logs.some((l) => l.msg === 'SRT publish refused' && l.code === REJX_FORBIDDEN && l.reason === 'invalid stream key'), JSON.stringify(r.logs));
    await waitFor(() => r.h.media.hub.isLive('chan'), 10_000, 'first publisher live');
    const second = await collect(publish(r.port, '#!::r=k1,m=publish', { seconds: 2 }), 15_000);
    assert.notEqual(second.code, 0, 'a second publisher fails');
    assert.ok(r.logs.some((l) => l.code === REJX_CONFLICT), 'conflict logged');
    const play = await collect(publish(r.port, '#!::r=k2', { seconds: 2 }), 15_000);
    assert.notEqual(play.code, 0);
    assert.ok(r.logs.some((l) => l.code === REJX_BAD_MODE), 'bad mode logged');
    const crypt = await collect(publish(r.port, 'publish:k2', { seconds: 2, extra: ['&passphrase=0123456789abcdef'] }), 15_000);
    assert.notEqual(crypt.code, 0);
    assert.ok(r.logs.some((l) => l.code === REJ_UNSECURE), 'encryption refusal logged');
    assert.ok(!r.h.media.hub.isLive('other'), 'nothing went live on the other channel');
    assert.ok(r.h.media.hub.isLive('chan'), 'the first publisher is still live');
    const refused = await r.h.registry.getSingleMetricAsString('onair_srt_refused_total');
    assert.match(refused, new RegExp(`code="${REJX_FORBIDDEN}"`));
    assert.ok(SRT_REJ_BASE + REJX_FORBIDDEN === 2403);
  } finally {
    first.kill('SIGKILL');
    await r.stop();
  }
});

/** lossyRelay forwards UDP between a caller and the server, dropping data packets (not control) with probability `loss`. */
async function lossyRelay(target: number, loss: number, seed: number) {
  const rand = seededRandom(seed);
  const sock = dgram.createSocket('udp4');
  const up = dgram.createSocket('udp4');
  let client: { address: string; port: number } | null = null;
  let dropped = 0;
  let forwarded = 0;
  sock.on('message', (msg, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    const data = msg.length > 0 && (msg[0]! & 0x80) === 0;
    if (data && rand() < loss) {
      dropped++;
      return;
    }
    forwarded++;
    up.send(msg, target, '127.0.0.1');
  });
  up.on('message', (msg) => {
    if (client) sock.send(msg, client.port, client.address);
  });
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  await new Promise<void>((res) => up.bind(0, '127.0.0.1', () => res()));
  return {
    port: sock.address().port,
    stats: () => ({ dropped, forwarded }),
    close: () => { sock.close(); up.close(); },
  };
}

test('5 % of data packets lost on the way: NAKs bring them back and the output decodes cleanly', async () => {
  const r = await rig();
  const relay = await lossyRelay(r.port, 0.05, 7);
  const ff = publish(relay.port, 'publish:k1', { seconds: 12 });
  try {
    await waitFor(() => r.h.media.hub.isLive('chan'), 10_000, 'channel live');
    const dec = await collect(run('ffmpeg', ['-hide_banner', '-v', 'error', '-rw_timeout', '10000000', '-t', '5', '-i', r.h.httpUrl('live/chan.flv'), '-f', 'null', '-']), 30_000);
    assert.equal(dec.code, 0, dec.stderr);
    const errors = dec.stderr.split('\n').filter((l) => l.trim()).length;
    const s = r.srt.stats()[0]!;
    const rs = relay.stats();
    assert.ok(rs.dropped > 10, `relay dropped ${rs.dropped}`);
    assert.ok(s.naksSent > 0 && s.retransmitted > 0 && s.recovered > 0, JSON.stringify(s));
    // Nearly everything recovered within the 120 ms latency on loopback.
    assert.ok(s.dropped <= Math.ceil(s.lost * 0.05), `dropped ${s.dropped} of ${s.lost} lost`);
    assert.ok(errors <= 2, `decode errors:\n${dec.stderr}`);
    assert.equal(s.ccErrors, 0, 'no holes reached the demuxer');
  } finally {
    ff.kill('SIGKILL');
    relay.close();
    await r.stop();
  }
});

test('a killed publisher times out and the channel ends within the idle timeout', async () => {
  const r = await rig({ idleTimeoutMs: 1500 });
  const ff = publish(r.port, 'publish:k1', { seconds: 30 });
  try {
    await waitFor(() => r.h.media.hub.isLive('chan'), 10_000, 'channel live');
    ff.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => !r.h.media.hub.isLive('chan'), 4000, 'channel offline');
    const took = Date.now() - killedAt;
    assert.ok(took >= 1000 && took < 2500, `ended after ${took} ms`);
    assert.ok(r.logs.some((l) => l.msg === 'SRT publish ended' && l.reason === 'timeout'));
    assert.equal(r.srt.sessionCount(), 0);
  } finally {
    ff.kill('SIGKILL');
    await r.stop();
  }
});

test('an ended publish (hub kick, as stream control does) sends SHUTDOWN: ffmpeg stops at once', async () => {
  const r = await rig();
  const ff = publish(r.port, 'publish:k1', { seconds: 30 });
  try {
    await waitFor(() => r.h.media.hub.isLive('chan'), 10_000, 'channel live');
    const exited = collect(ff, 15_000);
    const kickedAt = Date.now();
    assert.equal(r.h.media.hub.kick('chan', 'ended by an admin'), true);
    const done = await exited;
    assert.notEqual(done.code, 0, 'ffmpeg sees the connection closed');
    assert.ok(Date.now() - kickedAt < 8000, `ffmpeg took ${Date.now() - kickedAt} ms to stop`);
    assert.ok(r.logs.some((l) => l.msg === 'SRT publish ended' && l.reason === 'kicked'));
    assert.equal(r.srt.sessionCount(), 0);
  } finally {
    ff.kill('SIGKILL');
    await r.stop();
  }
});

test('garbage, forged and foreign packets at the listener: the live publish goes on and decodes', async () => {
  const r = await rig();
  const ff = publish(r.port, 'publish:k1', { seconds: 12 });
  const rand = seededRandom(99);
  const attacker = dgram.createSocket('udp4');
  await new Promise<void>((res) => attacker.bind(0, '127.0.0.1', () => res()));
  try {
    await waitFor(() => r.h.media.hub.isLive('chan'), 10_000, 'channel live');
    const socketId = r.srt.stats()[0]!.socketId;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.alloc(Math.floor(rand() * 1500));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rand() * 256);
      // Every third one addressed to the live session's socket id (from the wrong port: must be ignored).
      if (i % 3 === 0 && b.length >= 16) b.writeUInt32BE(socketId, 12);
      // Conclusions with made-up cookies: no state, no answer.
      if (i % 7 === 0 && b.length >= 64) { b.writeUInt32BE(0x8000_0000, 0); b.writeUInt32BE(0, 12); b.writeUInt32BE(5, 16); b.writeUInt32BE(0xffff_ffff, 36); }
      attacker.send(b, r.port, '127.0.0.1');
      if (i % 100 === 0) await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.srt.sessionCount(), 1, 'no session from forged handshakes');
    assert.ok(r.h.media.hub.isLive('chan'));
    const dec = await collect(run('ffmpeg', ['-hide_banner', '-v', 'error', '-rw_timeout', '10000000', '-t', '3', '-i', r.h.httpUrl('live/chan.flv'), '-f', 'null', '-']), 30_000);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stderr.trim(), '');
    assert.equal(r.srt.stats()[0]!.ccErrors, 0);
  } finally {
    attacker.close();
    ff.kill('SIGKILL');
    await r.stop();
  }
});
