/**
 * SRT in the whole server: wired after WHIP on media.srt.port (0 here), ffmpeg publishes the demo
 * channel with its stream key; the API shows it live with protocol srt, LL-HLS gets segments,
 * the live thumbnail is taken, the SRT metrics are on /metrics, the session is recorded; a held UDP port leaves the
 * rest of the server running without SRT; stop closes the socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from '../../testkit/server.js';

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the whole server takes an SRT publish: live in the API, LL-HLS, thumbnail, metrics, recording; stop frees the port', async () => {
  const s = await startTestServer({ 'media.srt.port': 0 });
  const port = s.ports.srt!;
  assert.ok(port > 0, 'SRT listens on a picked port');
  const key = s.demoStreamKey ?? s.secrets.demoStreamKey!;
  const SECONDS = 8;
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', String(SECONDS),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', `srt://127.0.0.1:${port}?streamid=publish:${key}&latency=120000`], { stdio: 'ignore' });
  try {
    const ch = await until(async () => {
      const c = (await s.api('GET', '/api/v1/channels/demo')).body.channel;
      return c?.stream?.live ? c : undefined;
    }, 15_000, 'demo live');
    assert.equal(ch.stream.video.width, 320);
    assert.equal(s.app.srt!.stats()[0]!.channel, 'demo');
    assert.equal(s.app.media!.stats()[0]!.publisher.protocol, 'srt');
    await until(async () => /#EXTINF/.test(await (await fetch(`http://127.0.0.1:${s.httpPort}/live/demo/source/playlist.m3u8`)).text()), 15_000, 'first LL-HLS segment');
    await until(async () => (await fetch(`http://127.0.0.1:${s.httpPort}/live/demo/thumbnail.jpg`)).status === 200, 15_000, 'live thumbnail');
    const metrics = (await s.api('GET', '/metrics')).body as string;
    assert.match(metrics, /onair_srt_sessions 1/);
    assert.match(metrics, /onair_srt_packets_received_total \d+/);
    // The recording of the session: ready once ffmpeg ends (SHUTDOWN), as long as what was published.
    const code = await new Promise<number | null>((r) => (ff.exitCode !== null ? r(ff.exitCode) : ff.once('exit', r)));
    assert.equal(code, 0);
    const vod = await until(async () => (await s.api('GET', '/api/v1/vods?channel=demo')).body.vods?.find((v: { state: string }) => v.state === 'ready'), 60_000, 'ready VOD');
    assert.ok(Math.abs(vod.durationMs / 1000 - SECONDS) <= 1, `recorded ${vod.durationMs} ms of ${SECONDS} s`);
    const dir = join(s.dataDir, 'recordings', 'demo');
    const mp4 = readdirSync(dir).map((d) => join(dir, d, 'source.mp4')).find((x) => existsSync(x))!;
    const probe = await new Promise<string>((res) => execFile('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', mp4], (_e, out) => res(out)));
    assert.deepEqual(probe.trim().split('\n').sort(), ['aac', 'h264']);
  } finally {
    ff.kill('SIGKILL');
    await s.close();
  }
  // The socket is closed: the port can be bound again.
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => { probe.once('error', rej); probe.bind(port, '0.0.0.0', () => res()); });
  probe.close();
});

test('a UDP port held by someone else leaves the server up without SRT', async () => {
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((res) => holder.bind(0, '127.0.0.1', () => res()));
  const s = await startTestServer({ 'media.srt.port': holder.address().port });
  try {
    assert.equal(s.ports.srt, undefined);
    assert.equal((await s.api('GET', '/api/v1/channels/demo')).status, 200);
  } finally {
    await s.close();
    holder.close();
  }
});
