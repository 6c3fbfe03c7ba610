/** Shared helpers for the media integration tests: a media service on random ports, ffmpeg/ffprobe runners. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../src/config/index.js';
import { silentLogger, createLogger } from '../../../src/observability/logger.js';
import { createMediaService, type MediaService } from '../../../src/media/index.js';

export interface MediaHarness {
  media: MediaService;
  app: FastifyInstance;
  registry: Registry;
  rtmpPort: number;
  httpPort: number;
  /** stream key → channel; tests may change it (key rotation). */
  keys: Map<string, string>;
  events: { channel: string; data: Record<string, unknown> }[];
  rtmpUrl(path: string): string;
  httpUrl(path: string): string;
  stop(): Promise<void>;
}

export async function startMedia(overrides: Record<string, unknown> = {}): Promise<MediaHarness> {
  const config = loadConfig({ env: {}, file: '/dev/null', overrides: { host: '127.0.0.1', 'rtmp.port': 0, ...overrides } });
  const logger = process.env.MEDIA_TEST_LOG ? createLogger(process.env.MEDIA_TEST_LOG) : silentLogger();
  const registry = new Registry();
  const keys = new Map<string, string>();
  const events: { channel: string; data: Record<string, unknown> }[] = [];
  const media = createMediaService({
    config,
    logger,
    registry,
    streamKeys: { resolve: async (key) => (keys.has(key) ? { channel: keys.get(key)! } : null) },
    events: {
      publish: async (channel, data) => {
        events.push({ channel, data: data as Record<string, unknown> });
        return {};
      },
    },
  });
  const app = Fastify();
  media.registerHttp(app);
  app.server.on('upgrade', (req, socket, head) => {
    if (!media.handleUpgrade(req, socket, head)) socket.destroy();
  });
  const { rtmpPort } = await media.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const httpPort = (app.server.address() as AddressInfo).port;
  return {
    media, app, registry, rtmpPort, httpPort, keys, events,
    rtmpUrl: (p) => `rtmp://127.0.0.1:${rtmpPort}/${p}`,
    httpUrl: (p) => `http://127.0.0.1:${httpPort}/${p}`,
    async stop() {
      await media.stop();
      await app.close();
    },
  };
}

/** FFMPEG_TEST_SOURCE is the publisher of the issue: testsrc2 640x360 H.264 + sine AAC. */
export function publishArgs(url: string, extra: string[] = []): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50',
    '-c:a', 'aac', ...extra, '-f', 'flv', url,
  ];
}

const children = new Set<ChildProcess>();

export function run(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** killAll stops every child this module started (by PID). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
}

export function collect(child: ChildProcess, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function ffprobe(url: string): Promise<{ streams: Record<string, unknown>[] }> {
  const r = await collect(run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', '-rw_timeout', '10000000', url]), 20_000);
  if (r.code !== 0) throw new Error(`ffprobe ${url} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { streams: Record<string, unknown>[] };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

import { readFileSync } from 'node:fs';
import { FlvParser, FLV_TAG_SCRIPT, type FlvTag } from '../../../src/formats/flv.js';
import { decodeAmf0, type Amf0Object } from '../../../src/formats/amf0.js';
import { RtmpClient } from '../../../src/media/index.js';

/** fixtureTags are the tags of the ffmpeg capture (1 s of 640x360 H.264 + AAC). */
export function fixtureTags(name = 'h264-aac-640x360.flv'): FlvTag[] {
  const tags: FlvTag[] = [];
  new FlvParser({ onTag: (t) => tags.push(t) }).push(readFileSync(new URL(`../../fixtures/media/${name}`, import.meta.url)));
  return tags;
}

/**
 * publishLoop publishes the fixture over RTMP in a loop with continuing timestamps.
 * speed 1 is real time; higher values send faster. Returns a stop function and counters.
 */
export async function publishLoop(url: string, speed = 1): Promise<{ client: RtmpClient; sentVideo: () => number; sentBytes: () => number; stop: () => void }> {
  const tags = fixtureTags();
  const client = await RtmpClient.publish(url, { complexHandshake: false });
  const script = tags.find((t) => t.type === FLV_TAG_SCRIPT);
  if (script) client.sendMetadata(decodeAmf0(script.data)[1] as Amf0Object);
  const media = tags.filter((t) => t.type !== FLV_TAG_SCRIPT);
  const headers = media.filter((t) => (t.type === 9 && t.data[1] === 0) || (t.type === 8 && t.data[1] === 0));
  const frames = media.filter((t) => !headers.includes(t));
  for (const h of headers) client.sendTag(h.type, 0, h.data);
  const loopMs = frames[frames.length - 1]!.timestamp + 40;
  let i = 0;
  let loop = 0;
  let sentVideo = 0;
  let sentBytes = 0;
  const start = Date.now();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const mediaNow = (Date.now() - start) * speed;
    while (!stopped) {
      const f = frames[i]!;
      const ts = loop * loopMs + f.timestamp;
      if (ts > mediaNow) break;
      client.sendTag(f.type, ts, f.data);
      sentBytes += f.data.length;
      if (f.type === 9) sentVideo++;
      if (++i === frames.length) {
        i = 0;
        loop++;
      }
    }
    timer = setTimeout(tick, 10);
  };
  let timer = setTimeout(tick, 0);
  return {
    client,
    sentVideo: () => sentVideo,
    sentBytes: () => sentBytes,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      client.close();
    },
  };
}
