import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DtsEstimator } from '../../../../src/media/rtsp/dts.js';
import { RtspIngest } from '../../../../src/media/rtsp/ingest.js';
import { RtspPlayer } from '../../../../src/media/rtsp/player.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { encodeAvcDecoderConfig } from '../../../../src/formats/avc.js';
import { packetizeH264 } from '../../../../src/formats/rtp-h264.js';
import { packetizeAac } from '../../../../src/formats/rtp-aac.js';
import { encodeRtcpSenderReport, parseRtpPacket } from '../../../../src/formats/rtp-packet.js';
import { RtspParser, type RtspMessage } from '../../../../src/formats/rtsp-message.js';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../../../../src/media/hub/types.js';
import type { PublishSource } from '../../../../src/media/hub/hub.js';
import { at } from '../../../../testkit/at.js';

const F = 3600; // 25 fps at 90 kHz

test('DtsEstimator: x264 B-pyramid order gets strictly increasing DTS ≤ PTS', () => {
  // Decode order I0 P4 B2 b1 b3 P8 B6 b5 b7 (presentation index × F, shifted by 2 frames as encoders do).
  const order = [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11];
  const d = new DtsEstimator<number>(2);
  const out = [...order.flatMap((i) => d.push(1000 + (i + 2) * F, i)), ...d.flush()];
  assert.deepEqual(out.map((f) => f.item), order);
  for (let k = 0; k < out.length; k++) {
    assert.ok(at(out, k).dts <= at(out, k).pts, `frame ${k}: dts ${at(out, k).dts} > pts ${at(out, k).pts}`);
    if (k > 0) assert.ok(at(out, k).dts > at(out, k - 1).dts, `frame ${k}: dts not increasing`);
  }
  // Past the start, DTS steps by one frame.
  assert.equal(at(out, 5).dts - at(out, 4).dts, F);
});

test('DtsEstimator: reorder 0 passes frames through at once with DTS = PTS', () => {
  const d = new DtsEstimator<string>(0);
  assert.deepEqual(d.push(100, 'a'), [{ item: 'a', pts: 100, dts: 100 }]);
  assert.deepEqual(d.push(3700, 'b'), [{ item: 'b', pts: 3700, dts: 3700 }]);
});

// A 64x64 Baseline SPS/PPS (x264) and stand-in slices.
const SPS = Buffer.from('Z0LACtoQmwEQAAADABAAAAMDIPEiag==', 'base64');
const PPS = Buffer.from('aM4PyA==', 'base64');
const IDR = Buffer.concat([Buffer.from([0x65, 0x88]), Buffer.alloc(3000, 0x11)]);
const P = Buffer.concat([Buffer.from([0x41, 0x9a]), Buffer.alloc(200, 0x22)]);
const avccOf = (nal: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, nal.length >> 8, nal.length & 0xff].slice(1)), nal]);

test('RtspIngest: RTP H.264 and AAC from an RTSP publisher become hub tracks and frames on one clock', () => {
  const frames: MediaFrame[] = [];
  const tracks: string[] = [];
  let videoConfig: Buffer | undefined;
  let meta: unknown;
  const stream = {
    setTracks: (v?: VideoTrackInfo, a?: AudioTrackInfo) => {
      if (v) { tracks.push('video'); videoConfig = v.config; }
      if (a) tracks.push(`audio ${a.sampleRate}`);
    },
    pushFrame: (f: MediaFrame) => frames.push(f),
    setMetadata: (m: unknown) => { meta = m; },
    badInput: () => assert.fail('bad input'),
    end: () => {}, ended: false,
  };
  let now = 10_000;
  const ingest = new RtspIngest({
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- a test stands in a minimal object for the class
    channel: 'c', logger: silentLogger, now: () => now,
    hub: { publish: (_c: string, _s: PublishSource) => stream as never },
    video: { sps: SPS, pps: PPS },
    audio: { clockRate: 48000, config: Buffer.from('1190', 'hex'), payload: { format: 'mpeg4-generic', params: { sizeLength: 13, indexLength: 3, indexDeltaLength: 3 } } },
    onEnd: () => assert.fail('ended'),
  });
  assert.ok(ingest.claim());
  assert.equal((meta as { width: number }).width, 64);
  // Tracks first: the avcC from the SDP, the ASC from config=.
  assert.deepEqual(tracks, ['video', 'audio 48000']);
  assert.deepEqual(videoConfig, encodeAvcDecoderConfig(SPS, [PPS]));
  // Sender reports put audio (48 kHz from 7777) and video (90 kHz from 1000) on one NTP timeline.
  const ntp0 = Date.UTC(2026, 0, 1);
  ingest.rtcp('video', encodeRtcpSenderReport({ ssrc: 1, ntpMs: ntp0, rtpTimestamp: 1000, packetCount: 0, octetCount: 0 }));
  ingest.rtcp('audio', encodeRtcpSenderReport({ ssrc: 2, ntpMs: ntp0, rtpTimestamp: 7777, packetCount: 0, octetCount: 0 }));
  let seq = 0;
  const sendVideo = (nal: Buffer, ts: number) => {
    const { payloads } = packetizeH264(avccOf(nal), { sps: [SPS], pps: [PPS] });
    payloads.forEach((p, i) => ingest.videoPacket({ marker: i === payloads.length - 1, payloadType: 96, sequenceNumber: seq++, timestamp: ts, ssrc: 1, payload: p }));
  };
  sendVideo(IDR, 1000);
  for (let i = 1; i <= 5; i++) {
    now += 40;
    sendVideo(P, 1000 + i * F);
    const [payload] = packetizeAac([Buffer.alloc(100 + i, i)]);
    ingest.audioPacket({ marker: true, payloadType: 97, sequenceNumber: i, timestamp: 7777 + 48 * 40 * i, ssrc: 2, payload: payload! });
  }
  const video = frames.filter((f) => f.kind === 'video');
  const audio = frames.filter((f) => f.kind === 'audio');
  // Baseline: no reorder delay, DTS = PTS: 0, 40, ..., the first a keyframe.
  assert.deepEqual(video.map((f) => f.dts), [0, 40, 80, 120, 160, 200]);
  assert.deepEqual(video.map((f) => f.pts), [0, 40, 80, 120, 160, 200]);
  assert.deepEqual(video.map((f) => f.keyframe), [true, false, false, false, false, false]);
  assert.ok(video.every((f) => f.codec === 'avc'));
  assert.deepEqual(at(video, 0).data, avccOf(IDR));
  assert.deepEqual(audio.map((f) => f.dts), [40, 80, 120, 160, 200]);
  assert.ok(audio.every((f) => f.codec === 'aac'));
  assert.deepEqual(at(audio, 0).data, Buffer.alloc(101, 1));
  assert.equal(ingest.stats.videoFrames, 6);
  assert.equal(ingest.stats.audioFrames, 5);
});

test('RtspPlayer: RTP over interleaved channels from the keyframe on; a slow reader skips to the next keyframe, then is cut', () => {
  const avcc = encodeAvcDecoderConfig(SPS, [PPS]);
  const written: Buffer[] = [];
  let queued = 0;
  let ended = '';
  const player = new RtspPlayer({
    sink: { write: (parts) => written.push(Buffer.concat(parts)), queuedBytes: () => queued },
    video: { channel: 0 }, audio: { channel: 2 },
    skipBytes: 1000, maxBytes: 5000, stallMs: 60_000,
    onEnd: (reason) => { ended = reason; },
  });
  player.setAudioRate(48000);
  player.onTracks({ codec: 'avc', config: avcc, width: 64, height: 64, codecString: 'avc1.42c00a' }, { codec: 'aac', config: Buffer.from('1190', 'hex'), sampleRate: 48000, channels: 2, codecString: 'mp4a.40.2' });
  const frame = (kind: 'video' | 'audio', ms: number, keyframe: boolean, data: Buffer): MediaFrame => ({ kind, codec: kind === 'video' ? 'avc' : 'aac', dts: ms, pts: ms, keyframe, data });
  player.onFrame(frame('audio', 0, true, Buffer.alloc(10)));
  player.onFrame(frame('video', 0, false, avccOf(P)));
  assert.equal(written.length, 0, 'nothing before the first keyframe');
  player.onFrame(frame('video', 40, true, avccOf(IDR)));
  player.onFrame(frame('audio', 40, true, Buffer.alloc(10, 9)));
  const msgs: RtspMessage[] = [];
  const parser = new RtspParser({ onMessage: (m) => msgs.push(m) });
  for (const b of written) parser.push(b);
  const rtp = msgs.filter((m) => m.kind === 'interleaved' && (m.channel === 0 || m.channel === 2)).map((m) => m.kind === 'interleaved' ? { ch: m.channel, p: parseRtpPacket(m.payload) } : null!);
  const rtcp = msgs.filter((m) => m.kind === 'interleaved' && (m.channel === 1 || m.channel === 3));
  assert.equal(rtcp.length, 2, 'a sender report per track before its first packet');
  const v = rtp.filter((x) => x.ch === 0);
  // SPS+PPS (STAP-A) then the IDR in FU-A fragments; marker on the last.
  assert.equal(at(v, 0).p.payload[0]! & 0x1f, 24);
  assert.ok(v.length >= 4);
  assert.deepEqual(v.map((x) => x.p.marker), v.map((_, i) => i === v.length - 1));
  assert.deepEqual(v.map((x) => (x.p.sequenceNumber - at(v, 0).p.sequenceNumber) & 0xffff), v.map((_, i) => i));
  const a = rtp.filter((x) => x.ch === 2);
  assert.equal(a.length, 1);
  assert.deepEqual(at(a, 0).p.payload, Buffer.concat([Buffer.from('00100050', 'hex'), Buffer.alloc(10, 9)]));
  // Slow: frames are skipped until a keyframe once the reader catches up.
  const before = written.length;
  queued = 2000;
  player.onFrame(frame('video', 80, false, avccOf(P)));
  queued = 0;
  player.onFrame(frame('video', 120, false, avccOf(P)));
  assert.equal(written.length, before, 'inter frames after a skip wait for a keyframe');
  player.onFrame(frame('video', 160, true, avccOf(IDR)));
  assert.ok(written.length > before);
  queued = 6000;
  player.onFrame(frame('video', 200, false, avccOf(P)));
  assert.equal(ended, 'slow_reader');
});

test('RtspPlayer: players share each frame\'s RTP payloads (encode once) and differ only in their headers', () => {
  const avcc = encodeAvcDecoderConfig(SPS, [PPS]);
  const sent: Buffer[][] = [[], []];
  const players = [0, 1].map((i) => new RtspPlayer({
    sink: { write: (parts) => { at(sent, i).push(...parts); }, queuedBytes: () => 0 },
    video: { channel: 0 }, skipBytes: 1 << 20, maxBytes: 1 << 21, stallMs: 60_000, onEnd: () => undefined,
  }));
  const big = Buffer.concat([IDR, Buffer.alloc(5000, 7)]); // several FU-A packets
  const key: MediaFrame = { kind: 'video', codec: 'avc', dts: 0, pts: 0, keyframe: true, data: avccOf(big) };
  for (const p of players) {
    p.onTracks({ codec: 'avc', config: avcc, width: 64, height: 64, codecString: 'avc1.42c00a' }, undefined);
    p.onFrame(key);
  }
  // Each write: the sender report, then header/payload pairs; payload n is the same object for both.
  const payloadsOf = (parts: Buffer[]) => parts.slice(1).filter((_, i) => i % 2 === 1);
  const [a, b] = [payloadsOf(at(sent, 0)), payloadsOf(at(sent, 1))];
  assert.ok(a.length > 3, `FU-A packets: ${a.length}`);
  assert.equal(a.length, b.length);
  a.forEach((p, i) => assert.equal(p, b[i], `payload ${i} is shared, not copied`));
  // Headers are per player (own SSRC and sequence numbers).
  assert.notDeepEqual(at(sent, 0)[1], at(sent, 1)[1]);
});
