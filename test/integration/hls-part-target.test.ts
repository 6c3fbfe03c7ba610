/**
 * LL-HLS playlist rules on a live 30 fps ffmpeg publish (issue 20): RTMP's whole-millisecond
 * timestamps make 30 fps frames 33 or 34 ms long, which once gave `DURATION=0.334` parts under
 * `PART-TARGET=0.333`. A viewer follows the live edge with blocking reloads, as players do: no
 * part may be longer than PART-TARGET (which stays the configured 0.333), and every blocking
 * answer ends with a part of the open segment (video.js needs it, see service.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import prom from 'prom-client';
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createMediaService } from '../../src/media/index.js';
import { createHlsService } from '../../src/media/hls/index.js';
import { until } from '../../testkit/wait.js';
import { checkPlaylist, parseMediaPlaylist } from '../unit/helpers/m3u8.js';

const FOLLOW_MS = 8000;

test('a live 30 fps publish: no part longer than PART-TARGET, and every blocking answer lists a part of the open segment', { timeout: 90_000 }, async () => {
  const config = configSchema.parse({ host: '127.0.0.1', rtmp: { port: 0 } });
  const logger = silentLogger();
  const registry = new prom.Registry();
  const media = createMediaService({ config, logger, registry, streamKeys: { resolve: async (k) => (k === 'k30' ? { channel: 'ch' } : null) } });
  const hls = createHlsService({ config, logger, hub: media.hub, registry });
  const app = Fastify();
  hls.registerHttp(app);
  const { rtmpPort } = await media.start();
  await hls.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const playlist = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/live/ch/source/playlist.m3u8`;
  const ffmpeg = spawn('ffmpeg', [
    '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '30', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '48k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/k30`,
  ], { stdio: 'ignore' });
  try {
    await until(() => (hls.stats('ch')?.segments ?? 0) >= 1, 30_000, 'a first segment');
    let pl = parseMediaPlaylist(await (await fetch(playlist)).text());
    let answers = 0;
    let parts = 0;
    const end = Date.now() + FOLLOW_MS;
    while (Date.now() < end) {
      const open = pl.segments.at(-1)!;
      const next = open.uri === undefined ? { msn: open.msn, part: open.parts.length } : { msn: open.msn + 1, part: 0 };
      const res = await fetch(`${playlist}?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
      assert.equal(res.status, 200);
      pl = parseMediaPlaylist(await res.text());
      checkPlaylist(pl); // parts <= PART-TARGET among the LL-HLS rules
      assert.equal(pl.partTarget, 0.333, 'PART-TARGET is the configured one');
      const newest = pl.segments.at(-1)!;
      assert.ok(newest.uri === undefined && newest.parts.length > 0, `the answer to ${next.msn}.${next.part} ends with a part of the open segment`);
      answers++;
      parts = pl.segments.reduce((n, s) => n + s.parts.length, 0);
    }
    assert.ok(answers >= 15, `${answers} blocking answers`);
    assert.ok(parts >= 12, `${parts} parts in the last playlist`);
    // Parts of 30 fps video are 9 or 10 frames: never one frame more than the target allows.
    const durations = pl.segments.flatMap((s) => s.parts.slice(0, -1).map((p) => p.duration));
    assert.ok(durations.every((d) => d >= 0.3 - 1e-9 && d <= 0.333), durations.join(' '));
  } finally {
    ffmpeg.kill('SIGKILL');
    await hls.stop();
    await media.stop();
    await app.close();
  }
});
