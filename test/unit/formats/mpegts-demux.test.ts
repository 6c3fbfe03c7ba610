import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  crc32Mpeg2, parseAdtsFrames, splitAnnexB, TimestampUnwrapper, TsDemuxer, PTS_MODULO, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, TS_PACKET_SIZE,
  MAX_PES_BYTES, type TsPes, type TsStreamInfo,
} from '../../../src/formats/mpegts-demux.js';
import { NAL_TYPE_IDR, NAL_TYPE_PPS, NAL_TYPE_SPS } from '../../../src/formats/avc.js';
import { seededRandom } from '../../../testkit/prng.js';
import { at } from '../../../testkit/at.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** tsPacket builds one 188-byte packet; short payloads are padded with adaptation-field stuffing. */
function tsPacket(pid: number, pusi: boolean, cc: number, payload: Buffer, randomAccess = false): Buffer {
  const p = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  p[0] = 0x47;
  p[1] = (pusi ? 0x40 : 0) | (pid >> 8);
  p[2] = pid & 0xff;
  const room = TS_PACKET_SIZE - 4;
  if (payload.length >= room && !randomAccess) {
    p[3] = 0x10 | cc;
    payload.copy(p, 4, 0, room);
    return p;
  }
  const afLen = room - 1 - payload.length;
  if (afLen < (randomAccess ? 1 : 0)) throw new Error('payload too long for this packet');
  p[3] = 0x30 | cc;
  p[4] = afLen;
  if (afLen > 0) p[5] = randomAccess ? 0x40 : 0x00;
  payload.copy(p, 5 + afLen);
  return p;
}

/** The PAT ffmpeg writes (program 1 → PMT PID 0x1000), pointer field first. */
const FFMPEG_PAT = h('00 00b00d 0001 c1 00 00 0001 f000 2ab104b2');
/** A PMT: PCR PID 0x100, H.264 on 0x100, AAC ADTS on 0x101. */
function pmt(): Buffer {
  const body = h('02 b017 0001 c1 00 00 e100 f000 1b e100 f000 0f e101 f000');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(body), 0);
  return Buffer.concat([h('00'), body, crc]);
}
/** PES header with PTS 90000 (1 s): 21 00 05 bf 21, and DTS 87000. */
const PES_VIDEO_HEAD = h('000001 e0 0000 80 c0 0a 31 0005 bf21 11 0005 a7b1');
const PES_AUDIO_HEAD = (len: number) => Buffer.concat([h('000001 c0'), Buffer.from([(len + 8) >> 8, (len + 8) & 0xff]), h('80 80 05 21 0005 bf21')]);

test('CRC-32/MPEG-2 of the PAT ffmpeg writes checks out', () => {
  assert.equal(crc32Mpeg2(FFMPEG_PAT.subarray(1)), 0);
  assert.equal(crc32Mpeg2(Buffer.from('123456789')), 0x0376e6e7);
});

test('hand-built stream: PAT, PMT, a video PES over two packets and an audio PES with a length', () => {
  const nals = h('00000001 6742c01e aabbcc 00000001 68ce3c80 000001 65888400 ff');
  const video = Buffer.concat([PES_VIDEO_HEAD, nals, Buffer.alloc(300, 0x11)]);
  // ADTS: MPEG-4, no CRC, AAC LC, 44.1 kHz (index 4), stereo, frame_length 13 (7 header + 6 data).
  const aacFrame = Buffer.concat([h('fff1 5080 01bf fc'), Buffer.alloc(6, 0x22)]);
  const audio = Buffer.concat([PES_AUDIO_HEAD(aacFrame.length), aacFrame]);
  const stream = Buffer.concat([
    tsPacket(0, true, 0, FFMPEG_PAT), tsPacket(0x1000, true, 0, pmt()),
    tsPacket(0x100, true, 0, video.subarray(0, 182), true), tsPacket(0x100, false, 1, video.subarray(182)),
    tsPacket(0x101, true, 0, audio),
    tsPacket(0x100, true, 2, Buffer.concat([PES_VIDEO_HEAD, h('00000001 41')])),
  ]);
  for (const step of [stream.length, 1, 7, 188, 200]) {
    const pes: TsPes[] = [];
    const streams: TsStreamInfo[][] = [];
    const d = new TsDemuxer({ onPes: (p) => pes.push(p), onStreams: (s) => streams.push(s) });
    for (let i = 0; i < stream.length; i += step) d.push(stream.subarray(i, i + step));
    d.flush();
    assert.deepEqual(streams, [[{ pid: 0x100, streamType: STREAM_TYPE_H264 }, { pid: 0x101, streamType: STREAM_TYPE_AAC_ADTS }]], `step ${step}`);
    assert.equal(pes.length, 3, `step ${step}`);
    // The video PES has no length, but its last packet is stuffed: it ends there, before the audio PES.
    assert.deepEqual(pes.map((p) => p.pid), [0x100, 0x101, 0x100]);
    const a = at(pes, 1);
    assert.equal(a.pts, 90_000);
    assert.deepEqual(a.data, aacFrame);
    const v = at(pes, 0);
    assert.equal(v.pts, 90_000);
    assert.equal(v.dts, 87_000);
    assert.equal(v.randomAccess, true);
    assert.deepEqual(v.data, Buffer.concat([nals, Buffer.alloc(300, 0x11)]));
    assert.deepEqual(splitAnnexB(v.data).map((n) => at(n, 0) & 0x1f), [NAL_TYPE_SPS, NAL_TYPE_PPS, NAL_TYPE_IDR]);
    const frames = parseAdtsFrames(a.data);
    assert.equal(frames.length, 1);
    assert.deepEqual({ ...frames[0]!, data: at(frames, 0).data.length }, { objectType: 2, samplingFrequencyIndex: 4, channelConfiguration: 2, data: 6 });
    assert.equal(d.stats.ccErrors, 0);
  }
});

test('accept() limits what is assembled: streams not taken cost no memory and give no PES', () => {
  const pes: TsPes[] = [];
  const d = new TsDemuxer({ onPes: (p) => pes.push(p), accept: (s) => s.streamType === STREAM_TYPE_AAC_ADTS });
  d.push(Buffer.concat([tsPacket(0, true, 0, FFMPEG_PAT), tsPacket(0x1000, true, 0, pmt()), tsPacket(0x100, true, 0, Buffer.concat([PES_VIDEO_HEAD, h('00000001 65')])), tsPacket(0x100, true, 1, PES_VIDEO_HEAD)]));
  d.flush();
  assert.deepEqual(d.streamList(), [{ pid: 0x101, streamType: STREAM_TYPE_AAC_ADTS }]);
  assert.equal(pes.length, 0);
});

test('a muxer that stuffs in the middle of a PES: the early end is given up after the first miss', () => {
  const pes: TsPes[] = [];
  const d = new TsDemuxer({ onPes: (p) => pes.push(p) });
  const part = (n: number) => Buffer.alloc(n, 0x22);
  d.push(Buffer.concat([tsPacket(0, true, 0, FFMPEG_PAT), tsPacket(0x1000, true, 0, pmt())]));
  // PES 1: stuffed mid-way (wrongly ended there once), PES 2 and 3: the same layout, now whole.
  for (let i = 0; i < 3; i++) {
    d.push(tsPacket(0x100, true, (i * 2) & 15, Buffer.concat([PES_VIDEO_HEAD, part(100)])));
    d.push(tsPacket(0x100, false, (i * 2 + 1) & 15, part(184)));
  }
  d.flush();
  assert.equal(d.stats.earlyEndMisses, 1);
  assert.deepEqual(pes.map((p) => p.data.length), [100, 284, 284]);
});

test('a corrupted PMT (bad CRC) is ignored', () => {
  const bad = pmt();
  bad[bad.length - 1]! ^= 0xff;
  const d = new TsDemuxer({ onPes: () => undefined });
  d.push(Buffer.concat([tsPacket(0, true, 0, FFMPEG_PAT), tsPacket(0x1000, true, 0, bad)]));
  assert.equal(d.streamList().length, 0);
  assert.equal(d.stats.crcErrors, 1);
});

test('splitAnnexB: 3- and 4-byte start codes, trailing zeros, no start code', () => {
  assert.deepEqual(splitAnnexB(h('00000001 0901 000001 4101 0000 00000001 06ff')).map((b) => b.toString('hex')), ['0901', '4101', '06ff']);
  assert.deepEqual(splitAnnexB(h('0102')), []);
  assert.deepEqual(splitAnnexB(h('000001')), []);
});

test('TimestampUnwrapper carries 33-bit timestamps across the wrap, both ways', () => {
  const u = new TimestampUnwrapper();
  assert.equal(u.unwrap(PTS_MODULO - 9000), PTS_MODULO - 9000);
  assert.equal(u.unwrap(PTS_MODULO - 3000), PTS_MODULO - 3000);
  assert.equal(u.unwrap(3000), PTS_MODULO + 3000);
  // an audio frame slightly behind the video that already wrapped
  assert.equal(u.unwrap(PTS_MODULO - 1000), PTS_MODULO - 1000);
  assert.equal(u.unwrap(9000), PTS_MODULO + 9000);
});

function ffmpegTs(seconds: number): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=25:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '2', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', 'pipe:1'], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

function demuxAll(buf: Buffer, chunks: Buffer[] = [buf]): { pes: TsPes[]; d: TsDemuxer } {
  const pes: TsPes[] = [];
  const d = new TsDemuxer({ onPes: (p) => pes.push({ ...p, data: Buffer.from(p.data) }) });
  for (const c of chunks) d.push(c);
  d.flush();
  return { pes, d };
}

test('an ffmpeg-made stream (3 s H.264 with B-frames + AAC) demuxes the same split anywhere', () => {
  const ts = ffmpegTs(3);
  assert.equal(ts.length % TS_PACKET_SIZE, 0);
  const whole = demuxAll(ts);
  const video = whole.pes.filter((p) => p.streamType === STREAM_TYPE_H264);
  const audio = whole.pes.filter((p) => p.streamType === STREAM_TYPE_AAC_ADTS);
  assert.equal(video.length, 75);
  assert.ok(audio.length >= 5, `audio PES: ${audio.length}`); // ffmpeg puts several ADTS frames in one PES
  assert.equal(whole.d.stats.ccErrors, 0);
  assert.equal(whole.d.stats.pesDropped, 0);
  assert.equal(whole.d.stats.earlyEndMisses, 0, 'ffmpeg stuffs only the last packet of a PES');
  // B-frames: PTS and DTS differ, DTS only grows.
  assert.ok(video.some((p) => p.pts !== p.dts));
  for (let i = 1; i < video.length; i++) assert.ok(at(video, i).dts! > at(video, i - 1).dts!);
  assert.equal(splitAnnexB(at(video, 0).data).some((n) => (at(n, 0) & 0x1f) === NAL_TYPE_IDR), true);
  const aacFrames = audio.reduce((n, p) => n + parseAdtsFrames(p.data).length, 0);
  assert.ok(Math.abs(aacFrames - (3 * 44100) / 1024) < 4, `AAC frames: ${aacFrames}`);
  const rand = seededRandom(42);
  for (let round = 0; round < 5; round++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < ts.length; ) {
      const n = 1 + Math.floor(rand() * 700);
      chunks.push(ts.subarray(i, i + n));
      i += n;
    }
    const split = demuxAll(ts, chunks);
    assert.equal(split.pes.length, whole.pes.length, `round ${round}`);
    split.pes.forEach((p, i) => {
      assert.equal(p.pts, at(whole.pes, i).pts);
      assert.ok(p.data.equals(at(whole.pes, i).data), `round ${round} PES ${i}`);
    });
  }
});

test('a lost TS packet is a continuity error: only the damaged PES is dropped; gap() drops what is open', () => {
  const ts = ffmpegTs(2);
  const whole = demuxAll(ts);
  // Drop a packet in the middle of a video PES (not its first).
  const packets: Buffer[] = [];
  for (let i = 0; i < ts.length; i += TS_PACKET_SIZE) packets.push(ts.subarray(i, i + TS_PACKET_SIZE));
  const videoPid = whole.pes.find((p) => p.streamType === STREAM_TYPE_H264)!.pid;
  const isVideoCont = (p: Buffer) => (((at(p, 1) & 0x1f) << 8) | at(p, 2)) === videoPid && (at(p, 1) & 0x40) === 0;
  const victim = packets.findIndex((p, i) => i > 40 && isVideoCont(p));
  const lossy = Buffer.concat(packets.filter((_, i) => i !== victim));
  const r = demuxAll(lossy);
  assert.equal(r.d.stats.ccErrors, 1);
  assert.equal(r.d.stats.pesDropped, 1);
  assert.equal(r.pes.length, whole.pes.length - 1);

  const pes: TsPes[] = [];
  const d = new TsDemuxer({ onPes: (p) => pes.push(p) });
  d.push(Buffer.concat(packets.slice(0, victim)));
  d.gap();
  d.push(Buffer.concat(packets.slice(victim + 1)));
  d.flush();
  assert.ok(d.stats.pesDropped >= 1);
  assert.ok(pes.length < whole.pes.length && pes.length >= whole.pes.length - 3);
});

test('garbage between packets: the parser resynchronises on the sync byte', () => {
  const ts = ffmpegTs(1);
  const whole = demuxAll(ts);
  const mid = Math.floor(ts.length / TS_PACKET_SIZE / 2) * TS_PACKET_SIZE;
  const junk = Buffer.from('not a transport stream packet, just noise');
  const r = demuxAll(Buffer.concat([ts.subarray(0, mid), junk, ts.subarray(mid)]));
  assert.ok(r.d.stats.syncLosses >= 1);
  assert.ok(r.pes.length >= whole.pes.length - 3, `${r.pes.length} of ${whole.pes.length}`);
});

test('fuzz: mutated and random input never throws; buffered PES stays bounded', () => {
  const ts = ffmpegTs(1);
  const rand = seededRandom(0x75);
  for (let round = 0; round < 60; round++) {
    const buf = Buffer.from(round % 4 === 0 ? Buffer.alloc(20_000).map(() => Math.floor(rand() * 256)) : ts);
    const flips = round % 4 === 0 ? 0 : 1 + Math.floor(rand() * 200);
    for (let k = 0; k < flips; k++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
    const d = new TsDemuxer({ onPes: (p) => { splitAnnexB(p.data); parseAdtsFrames(p.data); } });
    for (let i = 0; i < buf.length; ) {
      const n = 1 + Math.floor(rand() * 1500);
      d.push(buf.subarray(i, i + n));
      if (rand() < 0.01) d.gap();
      i += n;
    }
    d.flush();
  }
  // A video PES that never ends is cut at MAX_PES_BYTES instead of growing.
  const pes: TsPes[] = [];
  const d = new TsDemuxer({ onPes: (p) => pes.push(p) });
  const filler = Buffer.alloc(184, 0x11);
  d.push(Buffer.concat([tsPacket(0, true, 0, FFMPEG_PAT), tsPacket(0x1000, true, 0, pmt()), tsPacket(0x100, true, 0, Buffer.concat([PES_VIDEO_HEAD, filler]).subarray(0, 184))]));
  const n = Math.ceil(MAX_PES_BYTES / 184) + 10;
  for (let i = 0; i < n; i++) d.push(tsPacket(0x100, false, (i + 1) & 15, filler));
  d.push(tsPacket(0x100, true, (n + 1) & 15, Buffer.concat([PES_VIDEO_HEAD, filler]).subarray(0, 184)));
  assert.equal(pes.length, 0);
  assert.equal(d.stats.pesDropped, 1);
});
