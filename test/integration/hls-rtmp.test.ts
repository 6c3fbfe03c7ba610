// test-runs-alone: measures how long blocking playlist reloads hold
/**
 * LL-HLS end to end through the real media role: ffmpeg publishes over RTMP, the hub feeds
 * the HLS service, and ffprobe/ffmpeg and our own checks read the HTTP output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import prom from 'prom-client';
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createMediaService } from '../../src/media/index.js';
import { createHlsService } from '../../src/media/hls/index.js';
import { parseMediaPlaylist, checkPlaylist } from '../unit/helpers/m3u8.js';
import { parseBoxes } from '../unit/helpers/mp4-parse.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function publish(rtmpPort: number, key: string, seconds: number): ChildProcess {
  return spawn('ffmpeg', [
    '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '50', '-r', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** run spawns a tool asynchronously (the server under test lives in this process, so never spawnSync). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('LL-HLS over a real RTMP publish: ffprobe, ffmpeg decode, playlist rules, blocking reload', { timeout: 180_000 }, async (t) => {
  const config = configSchema.parse({ host: '127.0.0.1', rtmp: { port: 0 }, http: { port: 0 } });
  const registry = new prom.Registry();
  const logger = silentLogger();
  const media = createMediaService({ config, logger, registry, streamKeys: { resolve: async (k) => (k === 'secret-key' ? { channel: 'ch' } : null) } });
  const hls = createHlsService({ config, logger, hub: media.hub, registry });
  const app = Fastify();
  media.registerHttp(app);
  hls.registerHttp(app);
  const { rtmpPort } = await media.start();
  await hls.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/live/ch`;
  const ffmpeg = publish(rtmpPort, 'secret-key', 60);
  let second: ChildProcess | undefined;
  let stderr = '';
  ffmpeg.stderr!.on('data', (c) => (stderr += c));
  try {
    // The multivariant playlist appears once media flows.
    const mv = await waitFor('index.m3u8', async () => {
      const r = await fetch(`${base}/index.m3u8`);
      return r.status === 200 ? r.text() : undefined;
    });
    assert.match(mv, /#EXT-X-STREAM-INF:BANDWIDTH=\d+,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=640x360/);
    // Let a few segments accumulate.
    await waitFor('3 segments', async () => {
      const pl = parseMediaPlaylist(await (await fetch(`${base}/source/playlist.m3u8`)).text());
      return pl.segments.filter((s) => s.uri).length >= 3 ? true : undefined;
    });

    // ffprobe over HTTP reports H.264 640x360 + AAC.
    const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', `${base}/index.m3u8`], 60_000);
    assert.equal(probe.status, 0, probe.stderr);
    const streams = JSON.parse(probe.stdout).streams as { codec_name: string; width?: number; height?: number; codec_type: string }[];
    const v = streams.find((s) => s.codec_type === 'video')!;
    assert.equal(v.codec_name, 'h264');
    assert.equal(v.width, 640);
    assert.equal(v.height, 360);
    assert.equal(streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');

    // ffmpeg decodes 6 s of the live stream without a single error line.
    const dec = await run('ffmpeg', ['-v', 'error', '-i', `${base}/index.m3u8`, '-t', '6', '-f', 'null', '-'], 90_000);
    assert.equal(dec.status, 0);
    assert.equal(dec.stderr.trim(), '', 'decode errors');

    // Playlist rules over a few reloads; every listed resource is served and parses as fMP4.
    let lastSeq = -1;
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/source/playlist.m3u8`);
      assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
      const pl = parseMediaPlaylist(await res.text());
      checkPlaylist(pl);
      assert.ok(pl.mediaSequence >= lastSeq);
      lastSeq = pl.mediaSequence;
      const seg = pl.segments.filter((s) => s.uri).at(-1)!;
      const uris = [seg.map!, seg.uri!, ...pl.segments.at(-1)!.parts.map((p) => p.uri)];
      for (const u of uris) {
        const r = await fetch(`${base}/source/${u}`);
        assert.equal(r.status, 200, u);
        assert.match(r.headers.get('cache-control') ?? '', /immutable/);
        const types = parseBoxes(Buffer.from(await r.arrayBuffer())).map((b) => b.type);
        assert.deepEqual(types.slice(0, 2), u.startsWith('init') ? ['ftyp', 'moov'] : ['moof', 'mdat']);
      }
      await sleep(700);
    }
    assert.ok(lastSeq >= 0);

    // Blocking reload: ask for the next part; the answer comes as soon as it exists.
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const pl = parseMediaPlaylist(await (await fetch(`${base}/source/playlist.m3u8`)).text());
      const lastSeg = pl.segments.at(-1)!;
      const msn = lastSeg.msn;
      const part = lastSeg.parts.length; // the next part of the last segment (or the next segment's first)
      const t0 = performance.now();
      const r = await fetch(`${base}/source/playlist.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`);
      const waited = performance.now() - t0;
      waits.push(waited);
      assert.equal(r.status, 200);
      const after = parseMediaPlaylist(await r.text());
      const newest = after.segments.at(-1)!;
      assert.ok(newest.msn > msn || newest.parts.length > part, 'the answer contains the requested part');
      // At most two parts: a reload for a segment's last part is answered with the next segment's first.
      assert.ok(waited < 1000 * (2 * pl.partTarget! + 0.5), `blocking reload waited ${waited.toFixed(0)} ms`);
    }
    t.diagnostic(`blocking reload waits (ms): ${waits.map((w) => w.toFixed(0)).join(', ')}`);

    // A held preload-hint part request returns the part once complete.
    {
      const pl = parseMediaPlaylist(await (await fetch(`${base}/source/playlist.m3u8`)).text());
      const t0 = performance.now();
      const r = await fetch(`${base}/source/${pl.preloadHint}`);
      assert.equal(r.status, 200);
      assert.equal(parseBoxes(Buffer.from(await r.arrayBuffer()))[0]!.type, 'moof');
      assert.ok(performance.now() - t0 < 1500);
    }

    // 400s: _HLS_part without _HLS_msn, MSN more than two past the last.
    assert.equal((await fetch(`${base}/source/playlist.m3u8?_HLS_part=0`)).status, 400);
    const now = parseMediaPlaylist(await (await fetch(`${base}/source/playlist.m3u8`)).text());
    assert.equal((await fetch(`${base}/source/playlist.m3u8?_HLS_msn=${now.segments.at(-1)!.msn + 3}`)).status, 400);

    // 503: the publisher stalls (SIGSTOP) so the requested segment never comes within 3 target durations.
    ffmpeg.kill('SIGSTOP');
    try {
      const stalled = parseMediaPlaylist(await (await fetch(`${base}/source/playlist.m3u8`)).text());
      const t0 = performance.now();
      const r = await fetch(`${base}/source/playlist.m3u8?_HLS_msn=${stalled.segments.at(-1)!.msn + 1}`);
      assert.equal(r.status, 503);
      const held = performance.now() - t0;
      assert.ok(held >= 5500 && held < 8000, `held ${held} ms (3 target durations)`);
    } finally {
      ffmpeg.kill('SIGCONT');
    }

    // The stream ends: ENDLIST.
    ffmpeg.kill('SIGTERM');
    await waitFor('ENDLIST', async () => {
      const text = await (await fetch(`${base}/source/playlist.m3u8`)).text();
      return text.includes('#EXT-X-ENDLIST') ? true : undefined;
    }, 20_000);
    assert.equal(hls.stats('ch')!.live, false);
    assert.match(await registry.metrics(), /onair_hls_requests_total\{kind="part"\} [1-9]/);

    // The publisher comes back within the window: the playlist continues after a discontinuity.
    second = publish(rtmpPort, 'secret-key', 20);
    const resumed = await waitFor('discontinuity', async () => {
      const text = await (await fetch(`${base}/source/playlist.m3u8`)).text();
      const pl = parseMediaPlaylist(text);
      return !pl.ended && pl.segments.some((s) => s.discontinuity && s.uri) ? pl : undefined;
    }, 20_000);
    checkPlaylist(resumed);
    const disc = resumed.segments.find((s) => s.discontinuity)!;
    const before = resumed.segments[resumed.segments.indexOf(disc) - 1];
    if (before) assert.notEqual(disc.map, before.map, 'a new init segment after the restart');
    assert.equal(hls.stats('ch')!.live, true);
  } finally {
    if (ffmpeg.exitCode === null) ffmpeg.kill('SIGKILL');
    if (second && second.exitCode === null) second.kill('SIGKILL');
    await hls.stop();
    await media.stop();
    await app.close();
  }
  assert.doesNotMatch(stderr, /Connection refused|Broken pipe/);
});
