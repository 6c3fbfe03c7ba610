/**
 * WhipIngest with real media and a real ffmpeg, no browser: ffmpeg makes 4 s of H.264 (1 s GOP)
 * and Opus; we cut them into RTP packets as a WebRTC sender would and push them into the
 * ingest at their real-time arrival (a fake clock), then read what the hub passes on: the stream
 * starts at the first keyframe (claimed in the hub once the AAC header is there, headers first), video keeps its 30 fps timing, the Opus→AAC ffmpeg gives AAC at
 * the right pace on the same timeline, a lost packet drops frames until the next keyframe and asks
 * for one, and sender reports carry the stream over without a jump.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { silentLogger } from '../../src/observability/logger.js';
import { StreamHub } from '../../src/media/hub/hub.js';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../../src/media/hub/types.js';
import { FlvParser, FLV_TAG_VIDEO, parseVideoTagHeader, AVC_PACKET_SEQUENCE_HEADER, AVC_PACKET_NALU } from '../../src/formats/flv.js';
import { parseAvcDecoderConfig } from '../../src/formats/avc.js';
import { packetizeH264 } from '../../src/formats/rtp-h264.js';
import { OggOpusParser, opusPacketSamples } from '../../src/formats/rtp-opus.js';
import { WhipIngest } from '../../src/media/whip/ingest.js';

const SECONDS = 4;
const FPS = 30;

function makeMedia() {
  const v = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}:duration=${SECONDS}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-g', String(FPS), '-pix_fmt', 'yuv420p', '-f', 'flv', 'pipe:1'], { maxBuffer: 64 << 20 });
  assert.equal(v.status, 0, String(v.stderr));
  const frames: { ms: number; au: Buffer }[] = [];
  let avcc: ReturnType<typeof parseAvcDecoderConfig> | undefined;
  new FlvParser({
    onTag: (t) => {
      if (t.type !== FLV_TAG_VIDEO) return;
      const h = parseVideoTagHeader(t.data);
      if (h.kind === 'legacy' && h.packetType === AVC_PACKET_SEQUENCE_HEADER) avcc = parseAvcDecoderConfig(t.data.subarray(h.payloadOffset));
      else if (h.kind === 'legacy' && h.packetType === AVC_PACKET_NALU && t.data.length > h.payloadOffset) frames.push({ ms: t.timestamp, au: t.data.subarray(h.payloadOffset) });
    },
  }).push(v.stdout);
  const a = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`,
    '-c:a', 'libopus', '-b:a', '64k', '-frame_duration', '20', '-ac', '2', '-f', 'ogg', 'pipe:1'], { maxBuffer: 64 << 20 });
  assert.equal(a.status, 0, String(a.stderr));
  const opus: Buffer[] = [];
  new OggOpusParser({ onPacket: (p) => opus.push(Buffer.from(p)) }).push(a.stdout);
  return { avcc: avcc!, frames, opus };
}

interface Collected { video: MediaFrame[]; audio: MediaFrame[]; tracks: [VideoTrackInfo | undefined, AudioTrackInfo | undefined][] }

function setup(now: () => number, audioHeaderWaitMs?: number) {
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 23, viewerStallMs: 10_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const got: Collected = { video: [], audio: [], tracks: [] };
  hub.subscribe('cam', { onTracks: (v, a) => got.tracks.push([v, a]), onFrame: (f) => (f.kind === 'video' ? got.video : got.audio).push(f) });
  let keyRequests = 0;
  let ended = '';
  const ingest = new WhipIngest({
    channel: 'cam', hub, logger: silentLogger(), ffmpeg: 'ffmpeg', now, ...(audioHeaderWaitMs ? { audioHeaderWaitMs } : {}),
    requestKeyframe: () => { keyRequests++; },
    onEnd: (r) => { ended = r; },
  });
  return { hub, got, ingest, keyRequests: () => keyRequests, ended: () => ended };
}

/** feed pushes video and audio RTP in arrival order; `drop(seq)` loses a video packet. */
function feed(ingest: WhipIngest, media: ReturnType<typeof makeMedia>, clock: { t: number }, o: { drop?: (i: number) => boolean; sr?: boolean; audioClock?: number } = {}) {
  const VIDEO_BASE = 0x7fff_0000; // wraps past 2^32 during the run
  const AUDIO_BASE = 123_456;
  const events: { at: number; run: () => void }[] = [];
  let seq = 65_500;
  let vi = 0;
  for (const f of media.frames) {
    const { payloads } = packetizeH264(f.au, { mtu: 1000, sps: media.avcc.sps, pps: media.avcc.pps, nalLengthSize: media.avcc.nalLengthSize });
    const ts = (VIDEO_BASE + f.ms * 90) >>> 0;
    payloads.forEach((p, i) => {
      const s = seq++ & 0xffff;
      const index = vi++;
      events.push({ at: f.ms + 5, run: () => { if (!o.drop?.(index)) ingest.videoPacket({ sequenceNumber: s, timestamp: ts, marker: i === payloads.length - 1, payload: p }); } });
    });
  }
  let samples = 0;
  for (const p of media.opus) {
    const ts = (AUDIO_BASE + samples) >>> 0;
    const ms = samples / 48;
    events.push({ at: ms + 3, run: () => ingest.audioPacket(p, ts) });
    samples += opusPacketSamples(p);
  }
  if (o.sr) {
    // Sender reports once a second; the sender's NTP clock is 5 s off ours, and both tracks agree.
    for (let ms = 500; ms < SECONDS * 1000; ms += 1000) {
      events.push({ at: ms, run: () => {
        ingest.senderReport('video', 1_000_000 - 5000 + ms, (VIDEO_BASE + ms * 90) >>> 0);
        ingest.senderReport('audio', 1_000_000 - 5000 + ms, (AUDIO_BASE + Math.round(ms * 48 * (o.audioClock ?? 1))) >>> 0);
      } });
    }
  }
  events.sort((a, b) => a.at - b.at);
  for (const e of events) {
    clock.t = 1_000_000 + e.at;
    e.run();
  }
}

async function until(fn: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (!fn() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

const media = makeMedia();

test('RTP in, hub frames out: keyframe start, 30 fps timing, AAC on the same timeline', { timeout: 60_000 }, async () => {
  const clock = { t: 0 };
  // The feed runs faster than real time: let the claim wait for ffmpeg's header however long that takes.
  const { hub, got, ingest, ended } = setup(() => clock.t, 3_600_000);
  feed(ingest, media, clock, { sr: true });
  // The hub stream is claimed once ffmpeg has given the AAC header; the video waits for it.
  assert.equal(hub.isLive('cam'), false);
  await until(() => hub.isLive('cam'), 15_000);
  assert.ok(hub.isLive('cam'));
  assert.equal(ended(), '');
  const expectAudio = Math.floor((SECONDS * 48_000) / 1024) - 3;
  await until(() => got.audio.length >= expectAudio, 20_000);
  await ingest.end('test over');
  assert.equal(hub.isLive('cam'), false);

  assert.equal(ingest.audioShifts, 0, 'no drift to correct');
  assert.equal(got.video.length, media.frames.length, 'every frame, none lost');
  assert.equal(got.video[0]!.keyframe, true);
  assert.equal(got.video[0]!.dts, 0);
  const steps = got.video.slice(1).map((f, i) => f.dts - got.video[i]!.dts);
  assert.ok(steps.every((d) => d >= 32 && d <= 35), `video steps ${[...new Set(steps)]}`);
  assert.equal(got.video.filter((f) => f.keyframe).length, SECONDS);
  const v = got.tracks.at(-1)![0]!;
  assert.equal(v.codec, 'avc');
  assert.equal(v.width, 320);
  assert.equal(v.height, 240);

  assert.ok(got.audio.length >= expectAudio, `AAC frames ${got.audio.length} of ~${expectAudio}`);
  const a = got.tracks.at(-1)![1]!;
  assert.equal(a.codec, 'aac');
  assert.equal(a.sampleRate, 48_000);
  // Audio starts with the video (both were sent from t≈0) and keeps pace: 1024 samples = 21.3 ms.
  assert.ok(Math.abs(got.audio[0]!.dts - got.video[0]!.dts) <= 30, `first audio at ${got.audio[0]!.dts} ms`);
  const span = got.audio.at(-1)!.dts - got.audio[0]!.dts;
  assert.ok(Math.abs(span - ((got.audio.length - 1) * 1024) / 48) <= 25, `audio span ${span} ms for ${got.audio.length} frames`);
  assert.ok(Math.abs(got.audio.at(-1)!.dts - got.video.at(-1)!.dts) <= 80, `ends: audio ${got.audio.at(-1)!.dts}, video ${got.video.at(-1)!.dts}`);
});

test('a lost packet: frames dropped until the next keyframe, a keyframe asked for, nothing damaged passed on', { timeout: 60_000 }, async () => {
  const clock = { t: 0 };
  const { hub, got, ingest, keyRequests } = setup(() => clock.t, 3_600_000);
  // Lose one packet of frame 10 (inside the first GOP).
  let packetsBefore = 0;
  for (const f of media.frames.slice(0, 10)) packetsBefore += packetizeH264(f.au, { mtu: 1000, sps: media.avcc.sps, pps: media.avcc.pps }).payloads.length;
  feed(ingest, media, clock, { drop: (i) => i === packetsBefore });
  await until(() => hub.isLive('cam'), 15_000);
  await ingest.end('test over');
  assert.equal(keyRequests(), 1);
  assert.equal(got.video.length, media.frames.length - (FPS - 10), 'frames 10..29 dropped, the rest kept');
  assert.equal(got.video[10]!.keyframe, true, 'resumes at the next keyframe');
  assert.equal(ingest.videoStats.lost, 1);
});

test('audio clock drift shown by sender reports is followed: the AAC timeline is moved back in line', { timeout: 60_000 }, async () => {
  const clock = { t: 0 };
  const { hub, got, ingest } = setup(() => clock.t, 3_600_000);
  // The sender's reports say its audio RTP clock runs 3 % slow against its wallclock.
  const FACTOR = 0.97;
  feed(ingest, media, clock, { sr: true, audioClock: FACTOR });
  await until(() => hub.isLive('cam'), 15_000);
  const expectAudio = Math.floor((SECONDS * 48_000) / 1024) - 3;
  await until(() => got.audio.length >= expectAudio, 20_000);
  await ingest.end('test over');
  assert.ok(ingest.audioShifts >= 2, `corrections: ${ingest.audioShifts}`);
  const last = got.audio.at(-1)!;
  const samplesBefore = (got.audio.length - 1) * 1024;
  const byReports = samplesBefore / (48 * FACTOR);
  assert.ok(Math.abs(last.dts - byReports) < 80, `last AAC frame at ${last.dts} ms; the reports put it at ${byReports.toFixed(0)} ms (sample count alone: ${(samplesBefore / 48).toFixed(0)})`);
  assert.ok(got.audio.every((f, i) => i === 0 || f.dts > got.audio[i - 1]!.dts), 'audio times still increase');
});

test('without audio the stream goes live at the first keyframe; with audio that never comes, after the header wait', async () => {
  const clock = { t: 0 };
  const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 23, viewerStallMs: 10_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
  const noAudio = new WhipIngest({ channel: 'a', hub, logger: silentLogger(), now: () => clock.t, requestKeyframe: () => undefined, onEnd: () => undefined });
  feed(noAudio, { ...media, frames: media.frames.slice(0, 1), opus: [] }, clock);
  assert.equal(hub.isLive('a'), true);
  // ffmpeg is there but no Opus arrives (a muted publisher): live after the header wait of frames
  // (3 s here, shorter than the recorded media; the default WHIP_AUDIO_HEADER_WAIT_MS is longer).
  const frames: MediaFrame[] = [];
  hub.subscribe('b', { onFrame: (f) => frames.push(f) });
  const silent = new WhipIngest({ channel: 'b', hub, logger: silentLogger(), ffmpeg: 'ffmpeg', audioHeaderWaitMs: 3000, now: () => clock.t, requestKeyframe: () => undefined, onEnd: () => undefined });
  feed(silent, { ...media, opus: [] }, clock);
  assert.equal(hub.isLive('b'), true);
  assert.equal(frames[0]!.dts, 0, 'the held frames go in from the first keyframe');
  assert.equal(frames.length, media.frames.length);
  assert.equal(hub.stats('b')?.audio, undefined);
  await noAudio.end('x');
  await silent.end('x');
});

test('a second publisher for a live channel ends with "channel already live"', async () => {
  const clock = { t: 0 };
  const { hub, ingest } = setup(() => clock.t);
  hub.publish('cam', { protocol: 'rtmp', close: () => undefined });
  let ended = '';
  const second = new WhipIngest({ channel: 'cam', hub, logger: silentLogger(), now: () => clock.t, requestKeyframe: () => undefined, onEnd: (r) => { ended = r; } });
  feed(second, { ...media, frames: media.frames.slice(0, 2), opus: [] }, clock);
  assert.equal(ended, 'channel already live');
  await ingest.end('x');
  await second.end('x');
});

test('fuzz: random and mutated RTP into the ingest never throws; whatever reaches the hub is length-prefixed', () => {
  let seed = 99;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const packets = media.frames.slice(0, 60).flatMap((f) => {
    const p = packetizeH264(f.au, { mtu: 600, sps: media.avcc.sps, pps: media.avcc.pps }).payloads;
    return p.map((payload, i) => ({ payload, ts: f.ms * 90, marker: i === p.length - 1 }));
  });
  let total = 0;
  for (let round = 0; round < 30; round++) {
    const clock = { t: 0 };
    const hub = new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 100, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 23, viewerStallMs: 10_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });
    const frames: MediaFrame[] = [];
    hub.subscribe('f', { onFrame: (f) => frames.push(f) });
    const ingest = new WhipIngest({ channel: 'f', hub, logger: silentLogger(), now: () => clock.t, requestKeyframe: () => undefined, onEnd: () => undefined });
    const base = Math.floor(rnd() * 65536);
    // The real stream in order, with mutations, drops, swaps, garbage and odd reports mixed in.
    const order = packets.map((p, i) => ({ ...p, seq: (base + i) % 65536 }));
    for (let i = 0; i + 1 < order.length; i++) if (rnd() < 0.03) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
    for (const p of order) {
      clock.t += 2;
      const r = rnd();
      if (r < 0.03) continue;
      let payload = p.payload;
      if (r < 0.08 && payload.length > 0) {
        payload = Buffer.from(payload);
        payload[Math.floor(rnd() * payload.length)] = Math.floor(rnd() * 256);
      }
      ingest.videoPacket({ sequenceNumber: p.seq, timestamp: p.ts, marker: p.marker, payload });
      if (rnd() < 0.02) ingest.videoPacket({ sequenceNumber: Math.floor(rnd() * 65536), timestamp: Math.floor(rnd() * 2 ** 32), marker: rnd() < 0.5, payload: Buffer.from(Array.from({ length: Math.floor(rnd() * 60) }, () => Math.floor(rnd() * 256))) });
      if (rnd() < 0.02) ingest.senderReport(rnd() < 0.5 ? 'video' : 'audio', rnd() * 1e12, Math.floor(rnd() * 2 ** 32));
      if (rnd() < 0.05) ingest.audioPacket(Buffer.from([Math.floor(rnd() * 256)]), Math.floor(rnd() * 2 ** 32));
    }
    ingest.tick();
    total += frames.length;
    for (const f of frames) {
      let at = 0;
      while (at + 4 <= f.data.length) at += 4 + f.data.readUInt32BE(at);
      assert.equal(at, f.data.length, 'AVCC framing intact');
    }
    void ingest.end('fuzz');
  }
  assert.ok(total > 0, 'some frames got through the noise');
});
