/**
 * RTMPS ingest vs RTMP: connect→NetStream.Publish.Start time, and onair's CPU for one publish.
 *
 * Method: an in-process media service listens for RTMP and RTMPS (throw-away CA + EC P-256
 * certificate made with openssl) on loopback.
 *   connect  RtmpClient.publish N times one after another (TCP connect, TLS handshake for rtmps
 *            with the certificate verified, RTMP handshake, connect, createStream, publish, key
 *            check) and closes; median and p90 of the time to Publish.Start. Client and server
 *            share this process, so both sides' work is in the figure.
 *   cpu      ffmpeg pre-encodes 720p25 H.264 at 4 Mb/s CBR + AAC into an FLV file, then publishes
 *            it with `-re -c copy` (ffmpeg's own TLS for rtmps); this process's CPU (user + system)
 *            over the window, as a share of one core. ffmpeg is a separate process and not counted.
 * Usage: node --import tsx bench/rtmps-ingest.ts [--connects 20] [--seconds 10] [--kbps 4000]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/index.js';
import { LOOPBACK_LIMITS } from './lib/loopback-limits.js';
import { silentLogger } from '../src/observability/logger.js';
import { createMediaService, RtmpClient } from '../src/media/index.js';
import { makeCerts } from '../testkit/tls-certs.js';

const { values } = parseArgs({ options: { connects: { type: 'string', default: '20' }, seconds: { type: 'string', default: '10' }, kbps: { type: 'string', default: '4000' } } });
const CONNECTS = Number(values.connects);
const SECONDS = Number(values.seconds);
const KBPS = Number(values.kbps);
/** Seconds of publishing before the CPU window opens (handshakes, GOP cache fill). */
const WARMUP_S = 2;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const certs = await makeCerts();
const work = mkdtempSync(join(tmpdir(), 'onair-rtmps-bench-'));
const config = loadConfig({ env: {}, file: '/dev/null', overrides: {
  ...LOOPBACK_LIMITS, host: '127.0.0.1', 'rtmp.port': 0, 'media.rtmps.enabled': true, 'media.rtmps.port': 0,
  'media.rtmps.certFile': join(certs.dir, 'server.pem'), 'media.rtmps.keyFile': join(certs.dir, 'server.key'),
} });
const keys = new Map([['bench-key', 'bench']]);
const media = createMediaService({ config, logger: silentLogger(), registry: new Registry(), streamKeys: { resolve: async (k) => (keys.has(k) ? { channel: keys.get(k)! } : null) } });
const { rtmpPort, rtmpsPort } = await media.start();
const url = (tls: boolean) => `${tls ? 'rtmps' : 'rtmp'}://127.0.0.1:${tls ? rtmpsPort : rtmpPort}/live/bench-key`;

try {
  console.log(`load average before: ${load()}`);
  for (const tls of [false, true]) {
    const ms: number[] = [];
    for (let i = 0; i < CONNECTS; i++) {
      const t0 = performance.now();
      const c = await RtmpClient.publish(url(tls), tls ? { ca: certs.caPem } : {});
      ms.push(performance.now() - t0);
      c.close();
      while (media.hub.isLive('bench')) await sleep(5);
    }
    console.log(`connect→Publish.Start ${tls ? 'rtmps' : 'rtmp '}: median ${pct(ms, 50).toFixed(1)} ms, p90 ${pct(ms, 90).toFixed(1)} ms, min ${Math.min(...ms).toFixed(1)} ms (n=${CONNECTS}; load ${load()})`);
  }

  const src = join(work, 'src.flv');
  const enc = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-t', String(SECONDS + WARMUP_S + 2), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-b:v', `${KBPS}k`, '-minrate', `${KBPS}k`, '-maxrate', `${KBPS}k`,
    '-bufsize', `${KBPS}k`, '-x264-params', 'nal-hrd=cbr', '-c:a', 'aac', '-b:a', '128k', '-y', src], { stdio: 'inherit' });
  if (enc.status !== 0) throw new Error('pre-encode failed');
  for (const tls of [false, true]) {
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', src, '-c', 'copy', '-f', 'flv', url(tls)], { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      await sleep(WARMUP_S * 1000);
      if (!media.hub.isLive('bench')) throw new Error(`${tls ? 'rtmps' : 'rtmp'} publish did not go live`);
      const bytes0 = media.hub.counters.bytesIn;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(SECONDS * 1000);
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - t0;
      const mbps = ((media.hub.counters.bytesIn - bytes0) * 8) / (wall * 1000);
      const share = ((cpu.user + cpu.system) / 1000 / wall) * 100;
      console.log(`cpu ${tls ? 'rtmps' : 'rtmp '} publish at ${mbps.toFixed(2)} Mb/s in: ${share.toFixed(2)}% of one core (user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms over ${(wall / 1000).toFixed(1)} s; load ${load()})`);
    } finally {
      if (ff.exitCode === null) ff.kill('SIGKILL');
    }
    while (media.hub.isLive('bench')) await sleep(20);
  }
} finally {
  await media.stop();
  rmSync(work, { recursive: true, force: true });
  certs.remove();
}
