/**
 * Glass-to-glass latency per protocol.
 *
 * Method: a pre-encoded 640x360 H.264 + AAC stream (1 s GOP) is published over RTMP by
 * our own client, paced in real time. Every video frame gets an SEI NAL with the wallclock
 * time at which it is handed to the socket. Viewers on the same machine (same clock) read
 * the stamp when the frame reaches them:
 *   rtmp     RTMP play; latency = arrival − stamp
 *   flv      HTTP-FLV; latency = arrival − stamp
 *   ll-hls   an LL-HLS reader that follows blocking playlist reloads and fetches parts as
 *            soon as they are listed; latency = part arrival − stamp of its first frame
 *            (delivery latency: a player adds its PART-HOLD-BACK buffer on top)
 *   hls.js   hls.js (lowLatencyMode) in headless Chromium; at each presented frame
 *            (requestVideoFrameCallback) latency = now − stamp of that frame
 * Capture and encode time are excluded (the stream is pre-encoded); timer resolution ~1 ms.
 *
 * Usage: node --import tsx bench/latency.ts [--seconds 20] [--protocols rtmp,flv,ll-hls[,hls.js]]
 * (hls.js is experimental: in this headless Chromium it loads parts but has not started
 * playback from this cross-origin page; the LL-HLS e2e test measures hls.js latency instead.)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { FlvParser, FLV_TAG_VIDEO, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, parseVideoTagHeader, type FlvTag } from '../src/formats/flv.js';
import { RtmpClient } from '../src/media/rtmp/client.js';
import { clockSeiNal, findClockStamps } from './lib/sei-clock.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, protocols: { type: 'string', default: 'rtmp,flv,ll-hls' } } });
const SECONDS = Number(values.seconds);
const PROTOCOLS = values.protocols!.split(',');
const CACHE = 'bench/.cache';
const SOURCE = join(CACHE, 'latency-640x360.flv');

function ensureSource(): void {
  if (existsSync(SOURCE)) return;
  mkdirSync(CACHE, { recursive: true });
  execFileSync('ffmpeg', ['-y', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '60',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-g', '30', '-b:v', '800k', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', SOURCE]);
}

function readTags(file: string): FlvTag[] {
  const tags: FlvTag[] = [];
  const p = new FlvParser({ onTag: (t) => tags.push({ ...t, data: Buffer.from(t.data) }) });
  p.push(readFileSync(file));
  return tags;
}

/** stampVideo inserts the clock SEI before the frame's NAL units (AVC NALU packets only). */
function stampVideo(body: Buffer, now: number): Buffer {
  const h = parseVideoTagHeader(body);
  if (h.kind !== 'legacy' || h.packetType !== 1) return body;
  return Buffer.concat([body.subarray(0, h.payloadOffset), clockSeiNal(now), body.subarray(h.payloadOffset)]);
}

async function publishLoop(url: string, tags: FlvTag[], stopAt: number): Promise<void> {
  const client = await RtmpClient.publish(url);
  const headers = tags.filter((t) => t.timestamp === 0 && (t.type === FLV_TAG_SCRIPT || (t.type === FLV_TAG_VIDEO && t.data[1] === 0) || (t.type === FLV_TAG_AUDIO && t.data[1] === 0)));
  for (const t of headers) if (t.type !== FLV_TAG_SCRIPT) client.sendTag(t.type, 0, t.data);
  const media = tags.filter((t) => !headers.includes(t));
  const duration = media[media.length - 1]!.timestamp + 33;
  const start = Date.now();
  let loop = 0;
  while (Date.now() < stopAt) {
    for (const t of media) {
      const ts = loop * duration + t.timestamp;
      const wait = start + ts - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (Date.now() >= stopAt) break;
      client.sendTag(t.type, ts, t.type === FLV_TAG_VIDEO ? stampVideo(t.data, Date.now()) : t.data);
    }
    loop++;
  }
  client.close();
}

type Samples = number[];

async function rtmpViewer(url: string, samples: Samples, stopAt: number): Promise<void> {
  const c = await RtmpClient.play(url);
  c.on('media', (m: { type: number; payload: Buffer }) => {
    if (m.type !== FLV_TAG_VIDEO) return;
    const now = Date.now();
    for (const s of findClockStamps(m.payload)) samples.push(now - s);
  });
  await new Promise((r) => setTimeout(r, Math.max(0, stopAt - Date.now())));
  c.close();
}

async function flvViewer(url: string, samples: Samples, stopAt: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const req = http.get(url, (res) => {
      const p = new FlvParser({
        onTag: (t) => {
          if (t.type !== FLV_TAG_VIDEO) return;
          const now = Date.now();
          for (const s of findClockStamps(t.data)) samples.push(now - s);
        },
      });
      res.on('data', (d: Buffer) => p.push(d));
      res.on('end', () => resolve());
    });
    req.on('error', () => resolve());
    setTimeout(() => { req.destroy(); resolve(); }, Math.max(0, stopAt - Date.now()));
  });
}

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.text();
}

/** llHlsViewer behaves like a low-latency player's loader: blocking reloads, parts fetched once listed. */
async function llHlsViewer(base: string, samples: Samples, stopAt: number): Promise<void> {
  const master = await fetchText(`${base}/index.m3u8`);
  const mediaUri = master.split('\n').find((l) => l && !l.startsWith('#'))!.trim();
  const mediaUrl = new URL(mediaUri, `${base}/index.m3u8`).toString();
  const seen = new Set<string>();
  let msn = -1;
  let part = -1;
  while (Date.now() < stopAt) {
    const q = msn >= 0 ? `?_HLS_msn=${msn}&_HLS_part=${part}` : '';
    const text = await fetchText(mediaUrl + q).catch(() => '');
    if (!text) { await new Promise((r) => setTimeout(r, 100)); continue; }
    const lines = text.split('\n');
    const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
    let curMsn = seq;
    let curPart = 0;
    const parts: string[] = [];
    for (const l of lines) {
      if (l.startsWith('#EXT-X-PART:')) {
        const uri = /URI="([^"]+)"/.exec(l)![1]!;
        parts.push(uri);
        curPart++;
      } else if (l && !l.startsWith('#')) {
        curMsn++;
        curPart = 0;
      }
    }
    const fresh = parts.filter((u) => !seen.has(u));
    // On the first load only the newest part matters; older ones would overstate latency.
    if (seen.size === 0) for (const u of fresh.slice(0, -1)) seen.add(u);
    for (const u of fresh) {
      if (seen.has(u)) continue;
      seen.add(u);
      const r = await fetch(new URL(u, mediaUrl));
      const buf = Buffer.from(await r.arrayBuffer());
      const now = Date.now();
      const stamps = findClockStamps(buf);
      if (stamps.length) samples.push(now - stamps[0]!);
    }
    msn = curMsn;
    part = curPart;
  }
}

async function hlsJsViewer(base: string, samples: Samples, stopAt: number): Promise<string> {
  const { chromium } = await import('playwright-core');
  const userDir = mkdtempSync(join(tmpdir(), 'onair-latency-chrome-'));
  const hlsJs = readFileSync('node_modules/hls.js/dist/hls.min.js', 'utf8');
  const page = `<!doctype html><video id=v muted autoplay playsinline></video><script>${hlsJs}</script><script>
    window.samples = []; const stamps = [];
    const hls = new Hls({ lowLatencyMode: true, enableWorker: false });
    hls.on(Hls.Events.FRAG_PARSING_USERDATA, (_e, d) => { for (const s of d.samples) {
      const bytes = s.userDataBytes || s.userData; if (!bytes) continue;
      const txt = typeof bytes === 'string' ? bytes : String.fromCharCode(...bytes);
      const m = /(\\d{13})/.exec(txt); if (m) stamps.push([s.pts, Number(m[1])]); } });
    window.errs=[]; hls.on(Hls.Events.ERROR, (_e, d) => { window.lastErr = d.details; window.errs.push(d.details + ":" + (d.reason || d.error || "")); });
    hls.loadSource('${base}/index.m3u8'); const v = document.getElementById('v'); hls.attachMedia(v);
    const onFrame = (now, meta) => { const t = meta.mediaTime; let best;
      for (const [pts, ms] of stamps) if (pts <= t + 0.001) best = [pts, ms];
      if (best) window.samples.push(Date.now() - best[1] - (t - best[0]) * 1000);
      while (stamps.length > 300) stamps.shift(); v.requestVideoFrameCallback(onFrame); };
    v.requestVideoFrameCallback(onFrame); v.play().catch(()=>{});
  </script>`;
  const srv = http.createServer((_q, s) => { s.setHeader('content-type', 'text/html'); s.end(page); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const p = await ctx.newPage();
    await p.goto(`http://127.0.0.1:${(srv.address() as { port: number }).port}/`);
    await p.waitForTimeout(Math.max(0, stopAt - Date.now()));
    const got = (await p.evaluate('window.samples')) as number[];
    if (process.env.LATENCY_DEBUG) console.error(await p.evaluate('JSON.stringify({stamps: stamps.length, t: document.getElementById("v").currentTime, rs: document.getElementById("v").readyState, paused: document.getElementById("v").paused, buf: document.getElementById("v").buffered.length ? [document.getElementById("v").buffered.start(0), document.getElementById("v").buffered.end(0)] : null, lat: hls.latency, err: window.lastErr, errs: window.errs})'));
    // Skip the start-up seconds while hls.js settles on its live edge.
    samples.push(...got.slice(Math.floor(got.length / 4)));
    return (await p.evaluate('typeof Hls.Events.FRAG_PARSING_USERDATA')) as string;
  } finally {
    await ctx.close();
    srv.close();
    rmSync(userDir, { recursive: true, force: true });
  }
}

function summary(s: Samples) {
  if (s.length === 0) return { n: 0 };
  const sorted = [...s].sort((a, b) => a - b);
  const q = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
  return { n: s.length, p50: q(0.5), p95: q(0.95), max: Math.round(sorted[sorted.length - 1]!), min: Math.round(sorted[0]!) };
}

async function main(): Promise<void> {
  ensureSource();
  const tags = readTags(SOURCE);
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-latency-'));
  const httpPort = 18000 + Math.floor(Math.random() * 1000);
  const rtmpPort = httpPort + 1000;
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: { ...process.env, ONAIR_DATA_DIR: dataDir, ONAIR_HTTP_PORT: String(httpPort), ONAIR_RTMP_PORT: String(rtmpPort), ONAIR_HOST: '127.0.0.1', ONAIR_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const results: Record<string, ReturnType<typeof summary>> = {};
  try {
    const base = `http://127.0.0.1:${httpPort}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const key = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')).demoStreamKey as string;
    for (const proto of PROTOCOLS) {
      const samples: Samples = [];
      const warmup = proto === 'hls.js' ? 4000 : 2500;
      const stopAt = Date.now() + warmup + SECONDS * 1000;
      const pub = publishLoop(`rtmp://127.0.0.1:${rtmpPort}/live/${key}`, tags, stopAt + 500);
      await new Promise((r) => setTimeout(r, warmup));
      if (proto === 'rtmp') await rtmpViewer(`rtmp://127.0.0.1:${rtmpPort}/live/demo`, samples, stopAt);
      else if (proto === 'flv') await flvViewer(`${base}/live/demo.flv`, samples, stopAt);
      else if (proto === 'll-hls') await llHlsViewer(`${base}/live/demo`, samples, stopAt);
      else if (proto === 'hls.js') await hlsJsViewer(`${base}/live/demo`, samples, stopAt);
      await pub;
      results[proto] = summary(samples);
      await new Promise((r) => setTimeout(r, 1500));
    }
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`\nglass-to-glass latency (ms), ${SECONDS} s per protocol, 640x360 30 fps, 1 s GOP, loopback`);
  console.log('protocol   samples    p50    p95    max');
  for (const [p, r] of Object.entries(results)) console.log(`${p.padEnd(10)} ${String(r.n).padStart(7)} ${String(r.p50 ?? '-').padStart(6)} ${String(r.p95 ?? '-').padStart(6)} ${String(r.max ?? '-').padStart(6)}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latency.json', JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, node: process.version, results }, null, 2) + '\n');
}

await main();
