/**
 * SRT ingest: the latency onair adds, and its CPU per publisher.
 *
 * Method: ffmpeg pre-encodes 640x360 30 fps H.264 (1 s GOP) + AAC into an MPEG-TS file, then
 * publishes it with `-re -c copy` (no encode while measuring) over SRT (latency 120 ms) to an
 * in-process media service + SRT listener on loopback.
 *   latency  one publisher passes through a UDP relay in the same process that notes when the
 *            first TS packet of each video PES arrives (by its DTS); a hub subscriber notes when
 *            the frame with that DTS comes out. latency = out − in: TSBPD latency + the one-frame
 *            wait of the TS demuxer (a video PES ends when the next one starts) + processing.
 *   cpu      N publishers straight to the listener with one HTTP-FLV reader each; the Node
 *            process's CPU (user + system) over the window divided by N. ffmpeg is a separate
 *            process and not counted.
 * Usage: node --import tsx bench/srt-ingest.ts [--seconds 15] [--streams 4] [--loss 0] [--delay 0] [--latency 120]
 *        --loss drops that share of the relayed data packets (retransmissions too); --delay holds every
 *        relayed packet that many ms each way (RTT = 2 × delay); --latency is the SRT latency of both ends.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/index.js';
import { LOOPBACK_LIMITS } from './lib/loopback-limits.js';
import { silentLogger } from '../src/observability/logger.js';
import { createMediaService } from '../src/media/index.js';
import { SrtServer } from '../src/media/srt/server.js';
import { TS_PACKET_SIZE } from '../src/formats/mpegts-demux.js';
import { resultsPath, writeResultJson } from './lib/results.js';

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '15' }, streams: { type: 'string', default: '4' }, loss: { type: 'string', default: '0' },
  delay: { type: 'string', default: '0' }, latency: { type: 'string', default: '120' }, out: { type: 'string' },
} });
const SECONDS = Number(values.seconds);
const STREAMS = Number(values.streams);
const LOSS = Number(values.loss);
/** One-way delay the relay adds each way (ms): RTT = 2 × this. */
const DELAY_MS = Number(values.delay);
const LATENCY_MS = Number(values.latency);
/** ffmpeg's mpegts muxer puts the first video stream on this PID. */
const VIDEO_PID = 0x100;
const SRT_HEADER = 16;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

function encode(dir: string): string {
  const file = join(dir, 'src.ts');
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${SECONDS + 10}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${SECONDS + 10}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '30', '-b:v', '1500k', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'mpegts', file]);
  if (r.status !== 0) throw new Error(String(r.stderr));
  return file;
}

function publisher(file: string, port: number, key: string): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', file, '-c', 'copy', '-f', 'mpegts', `srt://127.0.0.1:${port}?streamid=publish:${key}&latency=${LATENCY_MS * 1000}`], { stdio: 'ignore' });
}

/** readPesDts reads the DTS (or PTS) of a PES starting in this TS packet's payload. */
function pesDts(p: Buffer): number | null {
  const afc = (p[3]! >> 4) & 3;
  const o = afc & 2 ? 5 + p[4]! : 4;
  if (!(afc & 1) || o + 19 > TS_PACKET_SIZE || p[o] !== 0 || p[o + 1] !== 0 || p[o + 2] !== 1) return null;
  const flags = p[o + 7]! >> 6;
  const at = flags === 3 ? o + 14 : o + 9;
  if (!(flags & 2)) return null;
  return ((p[at]! >> 1) & 7) * 2 ** 30 + ((p.readUInt16BE(at + 1) >> 1) << 15) + (p.readUInt16BE(at + 3) >> 1);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'onair-srt-bench-'));
  const children: ChildProcess[] = [];
  try {
    const file = encode(dir);
    const config = loadConfig({ env: {}, file: '/dev/null', overrides: { host: '127.0.0.1', 'rtmp.port': 0, ...LOOPBACK_LIMITS } });
    const keys = new Map<string, string>();
    for (let i = 0; i < STREAMS; i++) keys.set(`key${i}`, `ch${i}`);
    const media = createMediaService({ config, logger: silentLogger(), registry: new Registry(), streamKeys: { resolve: async (k) => (keys.has(k) ? { channel: keys.get(k)! } : null) } });
    const app = Fastify();
    media.registerHttp(app);
    await media.start();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const httpPort = (app.server.address() as AddressInfo).port;
    const srt = new SrtServer({
      logger: silentLogger(), hub: media.hub, authorizePublish: (k, ip) => media.authorizePublish(k, ip, 'srt'),
      latencyMs: LATENCY_MS, maxPayload: 1456, idleTimeoutMs: 5000, maxSessions: 100,
    });
    const port = await srt.listen(0, '127.0.0.1');

    // ---- latency: one publisher through a relay that stamps video PES arrivals
    const arrivals = new Map<number, number>();
    const relay = dgram.createSocket('udp4');
    const up = dgram.createSocket('udp4');
    let client: AddressInfo | null = null;
    let relayOpen = true;
    relay.on('message', (msg, rinfo) => {
      client = rinfo;
      const data = (msg[0]! & 0x80) === 0;
      if (data && LOSS > 0 && Math.random() < LOSS) return;
      if (data && !((msg[4]! >> 2) & 1)) {
        for (let o = SRT_HEADER; o + TS_PACKET_SIZE <= msg.length; o += TS_PACKET_SIZE) {
          const p = msg.subarray(o, o + TS_PACKET_SIZE);
          if (p[0] === 0x47 && p[1]! & 0x40 && (((p[1]! & 0x1f) << 8) | p[2]!) === VIDEO_PID) {
            const dts = pesDts(p);
            if (dts !== null && !arrivals.has(dts)) arrivals.set(dts, performance.now());
          }
        }
      }
      if (DELAY_MS > 0) setTimeout(() => relayOpen && up.send(msg, port, '127.0.0.1'), DELAY_MS);
      else up.send(msg, port, '127.0.0.1');
    });
    up.on('message', (msg) => {
      if (!client) return;
      const to = client;
      if (DELAY_MS > 0) setTimeout(() => relayOpen && relay.send(msg, to.port, to.address), DELAY_MS);
      else relay.send(msg, to.port, to.address);
    });
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
    const latencies: number[] = [];
    let origin: number | null = null;
    media.hub.on('streamStart', (ch: string) => {
      if (ch !== 'ch0') return;
      media.hub.subscribe('ch0', {
        onFrame: (f) => {
          if (f.kind !== 'video') return;
          const now = performance.now();
          if (origin === null) origin = Math.min(...arrivals.keys()); // the file starts on a keyframe
          const target = origin + f.dts * 90;
          let best: number | null = null;
          for (const d of arrivals.keys()) if (Math.abs(d - target) < 45 && (best === null || Math.abs(d - target) < Math.abs(best - target))) best = d;
          if (best !== null) latencies.push(now - arrivals.get(best)!);
        },
      });
    });
    children.push(publisher(file, relay.address().port, 'key0'));
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const lat = { samples: latencies.length, p50: pct(latencies, 50), p95: pct(latencies, 95), max: Math.max(...latencies) };
    const s0 = srt.stats()[0];
    children.pop()!.kill('SIGKILL');
    relayOpen = false;
    relay.close();
    up.close();
    await new Promise((r) => setTimeout(r, 6000)); // the session times out

    // ---- cpu: N publishers, one HTTP-FLV reader each
    for (let i = 0; i < STREAMS; i++) children.push(publisher(file, port, `key${i}`));
    const deadline = Date.now() + 15_000;
    while (media.hub.liveChannels().length < STREAMS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    let flvBytes = 0;
    const readers = [...Array(STREAMS).keys()].map((i) => http.get(`http://127.0.0.1:${httpPort}/live/ch${i}.flv`, (res) => res.on('data', (d: Buffer) => (flvBytes += d.length))));
    await new Promise((r) => setTimeout(r, 2000));
    const load0 = loadavg()[0]!;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const c1 = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    const cpuPct = ((c1.user + c1.system) / 1e6 / wall) * 100;
    const live = media.hub.liveChannels().length;
    const stats = srt.stats();
    for (const r of readers) r.destroy();
    const result = {
      when: new Date().toISOString(), seconds: SECONDS, streams: STREAMS, live, loss: LOSS, delayMs: DELAY_MS, latencyMs: LATENCY_MS,
      addedLatencyMs: lat, latencySession: s0,
      cpu: { processPercent: Math.round(cpuPct * 10) / 10, perStreamPercent: Math.round((cpuPct / Math.max(1, live)) * 10) / 10, flvBytes },
      sessions: stats.map((s) => ({ packets: s.packets, lost: s.lost, dropped: s.dropped, rttMs: s.rttMs })),
      loadavg: [load0, ...loadavg()],
      method: 'pre-encoded 640x360 30 fps H.264 1.5 Mb/s (1 s GOP) + AAC 96k in MPEG-TS, ffmpeg -re -c copy over SRT (latency 120 ms) on loopback; latency = relay arrival of a video PES → hub frame out (same process); cpu = Node process (user+system) with N publishers and one HTTP-FLV reader each',
    };
    console.log(JSON.stringify(result, null, 2));
    writeResultJson(resultsPath('srt-ingest.json', values.out), result);
    await srt.close();
    await media.stop();
    await app.close();
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
