import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { encodeAudioSpecificConfig, parseAudioSpecificConfig } from '../../../src/formats/aac.js';
import { AudioTap, PcmClock, S16leSamples, adtsFrame, s16leToFloat32 } from '../../../src/captions/audio-tap.js';
import type { AudioTrackInfo, MediaFrame } from '../../../src/media/hub/types.js';

/** makeAdts asks ffmpeg for AAC-LC in ADTS: the reference bytes for our framing. */
function makeAdts(seconds: number, rate: number, channels: number, source = 'sine=frequency=440'): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `${source}:sample_rate=${rate}:duration=${seconds}`,
    '-ac', String(channels), '-c:a', 'aac', '-b:a', '96k', '-f', 'adts', 'pipe:1',
  ], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
}

/** splitAdts cuts an ADTS stream into frames (header + raw payload). */
function splitAdts(buf: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i + 7 <= buf.length;) {
    assert.equal(buf[i], 0xff, 'sync');
    const len = ((buf[i + 3]! & 3) << 11) | (buf[i + 4]! << 3) | (buf[i + 5]! >> 5);
    frames.push(buf.subarray(i, i + len));
    i += len;
  }
  return frames;
}

test('adts: golden header bytes', () => {
  const asc = parseAudioSpecificConfig(encodeAudioSpecificConfig(2, 44100, 2)); // 0x12 0x10
  const frame = adtsFrame(asc, Buffer.alloc(100, 0xaa));
  assert.deepEqual([...frame.subarray(0, 7)], [0xff, 0xf1, 0x50, 0x80, 0x0d, 0x7f, 0xfc]);
  assert.equal(frame.length, 107);
  const mono48 = parseAudioSpecificConfig(Buffer.from([0x11, 0x88])); // AAC-LC 48 kHz mono
  assert.deepEqual([...adtsFrame(mono48, Buffer.alloc(1)).subarray(0, 7)], [0xff, 0xf1, 0x4c, 0x40, 0x01, 0x1f, 0xfc]);
});

test('adts: our framing of raw frames equals ffmpeg ADTS byte for byte', () => {
  for (const [rate, ch] of [[44100, 2], [48000, 1], [16000, 1]] as const) {
    const ref = makeAdts(0.5, rate, ch);
    const frames = splitAdts(ref);
    assert.ok(frames.length > 5);
    const asc = parseAudioSpecificConfig(encodeAudioSpecificConfig(2, rate, ch));
    const rebuilt = Buffer.concat(frames.map((f) => adtsFrame(asc, f.subarray(7))));
    assert.ok(rebuilt.equals(ref), `${rate} Hz ${ch} ch`);
  }
});

test('pcm clock and sample conversion', () => {
  const c = new PcmClock();
  c.frameWritten(1000, 64); // 1024 samples at 16 kHz
  c.frameWritten(1064, 64);
  c.frameWritten(5000, 64); // gap: new anchor
  assert.equal(c.timeOf(0), 1000);
  assert.equal(c.timeOf(1024), 1064);
  assert.equal(c.timeOf(2048), 5000);
  assert.equal(c.timeOf(2048 + 512), 5032);
  assert.deepEqual([...s16leToFloat32(Buffer.from([0x00, 0x80, 0xff, 0x7f, 0x00, 0x00]))], [-1, 32767 / 32768, 0]);
});

function feed(tap: AudioTap, rate: number, channels: number, frames: Buffer[], startDts: number): void {
  const config = encodeAudioSpecificConfig(2, rate, channels);
  const info: AudioTrackInfo = { codec: 'aac', config, sampleRate: rate, channels, codecString: 'mp4a.40.2' };
  tap.onTracks(undefined, info);
  frames.forEach((f, i) => {
    const dts = Math.round(startDts + (i * 1024 * 1000) / rate);
    const frame: MediaFrame = { kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: f.subarray(7) };
    tap.onFrame(frame);
  });
}

test('audio tap: real ffmpeg decodes hub AAC frames to 16 kHz mono PCM of the right length and time', async () => {
  const rate = 44100;
  const seconds = 3;
  const frames = splitAdts(makeAdts(seconds, rate, 2));
  const chunks: { n: number; startMs: number; rms: number }[] = [];
  let exitCode: number | null | undefined;
  const tap = new AudioTap({
    ffmpegPath: 'ffmpeg',
    onPcm: (s, startMs) => {
      let sum = 0;
      for (const v of s) sum += v * v;
      chunks.push({ n: s.length, startMs, rms: Math.sqrt(sum / s.length) });
    },
    onExit: (code) => (exitCode = code),
  });
  try {
    feed(tap, rate, 2, frames, 123_456);
    assert.ok(tap.pid, 'ffmpeg runs');
    await tap.stop();
  } finally {
    if (tap.pid) process.kill(tap.pid, 'SIGKILL');
  }
  assert.equal(exitCode, 0);
  const total = chunks.reduce((a, c) => a + c.n, 0);
  const expected = (frames.length * 1024 * 16000) / rate;
  assert.ok(Math.abs(total - expected) < 16000 * 0.05, `PCM samples ${total}, expected about ${expected}`);
  assert.equal(chunks[0]!.startMs, 123_456, 'first sample is at the first frame dts');
  // Chunks are contiguous on the stream timeline.
  let at = 0;
  for (const c of chunks) {
    assert.ok(Math.abs(c.startMs - (123_456 + at / 16)) < 30, `chunk at ${c.startMs}`);
    at += c.n;
  }
  const loud = chunks.filter((c) => c.rms > 0.05).length;
  assert.ok(loud > chunks.length / 2, 'the sine is audible in the PCM');
  assert.equal(tap.framesDropped, 0);
});

test('audio tap: never blocks the hub; drops and counts when ffmpeg is backed up', async () => {
  const frames = splitAdts(makeAdts(2, 48000, 1));
  let droppedMs = 0;
  // A "decoder" that never reads its stdin: writes queue up until the tap starts dropping.
  const tap = new AudioTap({
    ffmpegPath: 'sleep',
    maxQueuedBytes: 4096,
    onPcm: () => {},
    onDropped: (ms) => (droppedMs += ms),
    spawnFn: ((cmd: string) => spawn(cmd, ['30'], { stdio: ['pipe', 'pipe', 'pipe'] })) as never,
  });
  try {
    for (let i = 0; i < 20; i++) feed(tap, 48000, 1, frames, i * 2000);
    assert.ok(tap.framesDropped > 0, 'frames dropped');
    assert.ok(Math.abs(droppedMs - (tap.framesDropped * 1024 * 1000) / 48000) < 1);
  } finally {
    const pid = tap.pid;
    if (pid) process.kill(pid, 'SIGKILL');
    await tap.stop();
  }
});

test('audio tap: refuses non-AAC audio without starting ffmpeg', () => {
  const tap = new AudioTap({ ffmpegPath: 'ffmpeg', onPcm: () => {} });
  tap.onTracks(undefined, { codec: 'opus', config: Buffer.alloc(0), sampleRate: 48000, channels: 2, codecString: 'opus' });
  assert.equal(tap.pid, undefined);
  assert.match(tap.unsupported ?? '', /AAC only/);
});

test('S16leSamples: PCM bytes split at odd offsets become the same samples', () => {
  // 1, -1, 16384, -32768 as s16le
  const bytes = Buffer.from([0x01, 0x00, 0xff, 0xff, 0x00, 0x40, 0x00, 0x80]);
  const r = new S16leSamples();
  const a = r.take(bytes.subarray(0, 3));
  const b = r.take(bytes.subarray(3, 5));
  const c = r.take(bytes.subarray(5));
  assert.deepEqual([a.length, b.length, c.length], [1, 1, 2]);
  assert.deepEqual([...a, ...b, ...c], [1 / 32768, -1 / 32768, 0.5, -1]);
  r.take(Buffer.from([0x01]));
  r.reset();
  assert.deepEqual([...r.take(Buffer.from([0x02, 0x00]))], [2 / 32768], 'reset drops a pending odd byte');
});
