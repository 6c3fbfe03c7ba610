// test-runs-alone: asserts how soon GStreamer shows the first video frame
/**
 * GStreamer's `playbin3` (hlsdemux2) plays onair's LL-HLS (issue 20): joined to a stream that has
 * been live for a while, its video sink gets buffers within a few seconds. Legacy `playbin`
 * (hlsdemux, Debian 12's default) shows no video on onair's timeline: docs/hls-players.md says
 * why and recommends playbin3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import prom from 'prom-client';
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createMediaService } from '../../src/media/index.js';
import { createHlsService } from '../../src/media/hls/index.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { until } from '../../testkit/wait.js';

/** Measured here: about 1.3 s from launch to the first video buffer. */
const FIRST_VIDEO_LIMIT_MS = 6000;
/** The video sink prints each buffer it gets (fakesink silent=false with -v). */
const VIDEO_BUFFER = /GstFakeSink:vsink: last-message = chain/;

test('GStreamer playbin3 plays the LL-HLS stream: video buffers within a few seconds', { timeout: 90_000 }, async () => {
  const config = configSchema.parse({ host: '127.0.0.1', rtmp: { port: 0 } });
  const logger = silentLogger();
  const registry = new prom.Registry();
  const media = createMediaService({ config, logger, registry, streamKeys: { resolve: async (k) => (k === 'gst' ? { channel: 'ch' } : null) } });
  const hls = createHlsService({ config, logger, hub: media.hub, registry });
  const app = Fastify();
  hls.registerHttp(app);
  const { rtmpPort } = await media.start();
  await hls.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const publishers = new LoopPublishers();
  publishers.start(`rtmp://127.0.0.1:${rtmpPort}/live/gst`);
  const uri = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/live/ch/index.m3u8`;
  let gst: ReturnType<typeof spawn> | undefined;
  try {
    await until(() => (hls.stats('ch')?.segments ?? 0) >= 3, 30_000, 'three segments');
    const t0 = Date.now();
    gst = spawn('gst-launch-1.0', ['-v', 'playbin3', `uri=${uri}`, 'video-sink=fakesink name=vsink sync=true silent=false', 'audio-sink=fakesink sync=true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = gst;
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines = createInterface({ input: proc.stdout! });
    const firstVideoMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no video buffer within 20 s: ${stderr.slice(-500)}`)), 20_000);
      lines.on('line', (l) => {
        if (!VIDEO_BUFFER.test(l)) return;
        clearTimeout(timer);
        resolve(Date.now() - t0);
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`gst-launch-1.0 exited (${code}) before any video buffer: ${stderr.slice(-500)}`));
      });
    });
    lines.close();
    console.log(`# playbin3: first video buffer after ${firstVideoMs} ms`);
    assert.ok(firstVideoMs < FIRST_VIDEO_LIMIT_MS, `first video buffer after ${firstVideoMs} ms`);
  } finally {
    if (gst?.pid && gst.exitCode === null) gst.kill('SIGKILL');
    publishers.killAll();
    await hls.stop();
    await media.stop();
    await app.close();
  }
});
