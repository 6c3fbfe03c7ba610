import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ProgressParser, progressFraction, type FfmpegProgress } from '../../../../src/media/transcode/progress.js';
import { CancelledError, FfmpegError, runFfmpeg } from '../../../../src/media/transcode/run-ffmpeg.js';
import { at } from '../../../../testkit/at.js';

/** Captured from ffmpeg 5/6 `-progress pipe:1` (a 1 s libx264 encode). */
const GOLDEN = `frame=1
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=N/A
out_time_us=0
out_time_ms=0
out_time=00:00:00.000000
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
frame=25
fps=0.00
stream_0_0_q=-1.0
bitrate=N/A
total_size=N/A
out_time_us=1000000
out_time_ms=1000000
out_time=00:00:01.000000
dup_frames=0
drop_frames=0
speed=7.75x
progress=end
`;

function parseAll(text: string, step: number): FfmpegProgress[] {
  const out: FfmpegProgress[] = [];
  const p = new ProgressParser((x) => out.push(x));
  for (let i = 0; i < text.length; i += step) p.push(Buffer.from(text.slice(i, i + step)));
  return out;
}

test('progress blocks parse the same whether fed whole or byte by byte', () => {
  const whole = parseAll(GOLDEN, GOLDEN.length);
  assert.equal(whole.length, 2);
  assert.deepEqual(parseAll(GOLDEN, 1), whole);
  assert.deepEqual(parseAll(GOLDEN, 7), whole);
  assert.deepEqual(whole.map((b) => [b.frame, b.outTimeUs, b.speed, b.end]), [[1, 0, undefined, false], [25, 1_000_000, 7.75, true]]);
  assert.equal(progressFraction(at(whole, 0), 2000), 0);
  assert.equal(progressFraction({ outTimeUs: 500_000, end: false, raw: {} }, 2000), 0.25);
  assert.equal(progressFraction(at(whole, 1), 2000), 1);
  assert.equal(progressFraction({ outTimeUs: 9e9, end: false, raw: {} }, 2000), 1, 'clamped');
});

test('real ffmpeg -progress output: output time advances monotonically and ends', () => {
  const text = execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1', '-nostats', '-stats_period', '0.1',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '3', '-c:v', 'libx264', '-preset', 'medium', '-f', 'null', '-'], { encoding: 'utf8', timeout: 60_000 });
  const blocks = parseAll(text, 13);
  assert.ok(blocks.length >= 2);
  const times = blocks.map((b) => b.outTimeUs ?? 0);
  // ffmpeg may report a small negative out_time while the encoder fills its delay (seen: -40000
  // with B-frames); the fraction clamps it to 0, so progress as stored never goes back.
  const fractions = blocks.map((b) => progressFraction(b, 3000)!);
  for (let i = 1; i < fractions.length; i++) assert.ok(at(fractions, i) >= at(fractions, i - 1), `monotonic at ${i}: ${times}`);
  for (let i = 1; i < times.length; i++) if (at(times, i) > 0) assert.ok(at(times, i) >= at(times, i - 1), `positive times only grow: ${times}`);
  assert.equal(blocks.at(-1)!.end, true);
  assert.equal(fractions.at(-1), 1);
  assert.ok(times.at(-1)! > 2_800_000 && times.at(-1)! <= 3_000_000, `last out_time ${times.at(-1)}`);
});

test('runFfmpeg reports increasing progress, keeps the error text, and cancels with SIGTERM', async () => {
  const seen: number[] = [];
  await runFfmpeg({ ffmpeg: 'ffmpeg', args: ['-stats_period', '0.1', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '4', '-c:v', 'libx264', '-preset', 'fast', '-f', 'null', '-'], durationMs: 4000, onProgress: (f) => seen.push(f) });
  assert.ok(seen.length >= 2, `progress updates: ${seen}`);
  for (let i = 1; i < seen.length; i++) assert.ok(at(seen, i) >= at(seen, i - 1));
  assert.equal(seen.at(-1), 1);

  await assert.rejects(runFfmpeg({ ffmpeg: 'ffmpeg', args: ['-i', '/nonexistent/input.mp4', '-f', 'null', '-'] }), (err: unknown) => {
    assert.ok(err instanceof FfmpegError);
    assert.match(err.message, /No such file or directory/);
    return true;
  });

  const ac = new AbortController();
  let pid = 0;
  const started = Date.now();
  const run = runFfmpeg({ ffmpeg: 'ffmpeg', args: ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '60', '-f', 'null', '-'], signal: ac.signal, onSpawn: (p) => { pid = p; } });
  setTimeout(() => ac.abort(), 300);
  await assert.rejects(run, CancelledError);
  assert.ok(Date.now() - started < 5000, 'stopped well before the 60 s input ended');
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'ffmpeg process is gone');
});
