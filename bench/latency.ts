/**
 * Glass-to-glass latency per protocol.
 *
 * Method: a pre-encoded 640x360 H.264 + AAC stream (1 s GOP) is published over RTMP by
 * our own client, paced in real time. Every video frame gets an SEI NAL with the wallclock
 * time at which it is handed to the socket. Viewers on the same machine (same clock) read
 * the stamp when the frame reaches them:
 *   rtmp     RTMP play; latency = arrival − stamp
 *   srt      the same stream published over SRT instead (the stamped FLV piped through
 *            `ffmpeg -c copy -f mpegts -flush_packets 1 srt://…?latency=120000`), read over
 *            HTTP-FLV; latency = arrival − stamp (includes ffmpeg's remux and SRT's 120 ms TSBPD)
 *   rtsp-in  the same stream published over RTSP instead (`ffmpeg -c copy -f rtsp -rtsp_transport tcp`),
 *            read over HTTP-FLV; latency = arrival − stamp (includes ffmpeg's remux)
 *   rtsp     RTSP play (onair's own RTSP client, RTP over TCP); latency = arrival of the RTP
 *            packet holding the SEI − stamp
 *   flv      HTTP-FLV; latency = arrival − stamp
 *   ll-hls   an LL-HLS reader that follows blocking playlist reloads and fetches parts as
 *            soon as they are listed; latency = part arrival − stamp of its first frame
 *            (delivery latency: a player adds its PART-HOLD-BACK buffer on top)
 *   hls.js   hls.js (lowLatencyMode) in headless Chromium, page and stream on one origin; at each
 *            presented frame (requestVideoFrameCallback) latency = now − stamp of that frame
 *   whep     WebRTC (WHEP) in headless Chromium, as the web player's startWhep negotiates it; an
 *            encoded-frame transform reads the SEI stamp of each received frame by RTP timestamp,
 *            and at each presented frame (requestVideoFrameCallback, whose metadata carries the
 *            frame's rtpTimestamp) latency = now − stamp of that frame
 * Capture and encode time are excluded (the stream is pre-encoded); timer resolution ~1 ms.
 *
 * Usage: node --import tsx bench/latency.ts [--seconds 20] [--protocols rtmp,flv,ll-hls,hls.js,whep,srt,rtsp,rtsp-in]
 *        [--out DIR | --out FILE.json]      LATENCY_DEBUG=1 prints hls.js state and logs.
 * The JSON goes to latency.json in the results directory (--out DIR, $BENCH_RESULTS_DIR,
 * bench/results), or to FILE.json when --out names a .json file.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { FlvParser, FLV_TAG_VIDEO, FLV_TAG_AUDIO, FLV_TAG_SCRIPT, encodeFlvHeader, encodeFlvTag, parseVideoTagHeader, type FlvTag } from '../src/formats/flv.js';
import { RtmpClient } from '../src/media/rtmp/client.js';
import { RtspClient } from '../src/media/rtsp/client.js';
import { clockSeiNal, findClockStamps } from './lib/sei-clock.js';
import { resultsPath, writeResultJson } from './lib/results.js';
import { LOOPBACK_LIMITS_ENV } from './lib/loopback-limits.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, protocols: { type: 'string', default: 'rtmp,flv,ll-hls,hls.js,whep,srt,rtsp,rtsp-in' }, out: { type: 'string' } } });
const SECONDS = Number(values.seconds);
const PROTOCOLS = values.protocols.split(',');
const CACHE = 'bench/.cache';
const SOURCE = join(CACHE, 'latency-640x360.flv');
/** --out: a directory (latency.json in it) or a .json file; default latency.json in the results directory. */
const OUT = values.out?.endsWith('.json') ? values.out : resultsPath('latency.json', values.out);

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

/** publishLoop publishes until stop.at (a viewer may move it: hls.js waits for the browser to start playing). */
async function publishLoop(url: string, tags: FlvTag[], stop: { at: number }): Promise<void> {
  const client = await RtmpClient.publish(url);
  const headers = tags.filter((t) => t.timestamp === 0 && (t.type === FLV_TAG_SCRIPT || (t.type === FLV_TAG_VIDEO && t.data[1] === 0) || (t.type === FLV_TAG_AUDIO && t.data[1] === 0)));
  for (const t of headers) if (t.type !== FLV_TAG_SCRIPT) client.sendTag(t.type, 0, t.data);
  const media = tags.filter((t) => !headers.includes(t));
  const duration = media[media.length - 1]!.timestamp + 33;
  const start = Date.now();
  let loop = 0;
  while (Date.now() < stop.at) {
    for (const t of media) {
      const ts = loop * duration + t.timestamp;
      const wait = start + ts - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (Date.now() >= stop.at) break;
      client.sendTag(t.type, ts, t.type === FLV_TAG_VIDEO ? stampVideo(t.data, Date.now()) : t.data);
    }
    loop++;
  }
  client.close();
}

/** publishLoopFfmpeg feeds the stamped FLV in real time to ffmpeg, which remuxes it (-c copy) to `output` (SRT, RTSP). */
async function publishLoopFfmpeg(output: string[], tags: FlvTag[], stop: { at: number }): Promise<void> {
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-probesize', '32768', '-analyzeduration', '0', '-f', 'flv', '-i', 'pipe:0',
    '-c', 'copy', '-flush_packets', '1', ...output], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  ff.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
  const exited = new Promise<void>((r) => ff.once('exit', () => r()));
  ff.stdin.on('error', () => undefined);
  const write = (b: Buffer) => ff.stdin.write(b);
  write(encodeFlvHeader(true, true));
  const headers = tags.filter((t) => t.timestamp === 0 && ((t.type === FLV_TAG_VIDEO && t.data[1] === 0) || (t.type === FLV_TAG_AUDIO && t.data[1] === 0)));
  for (const t of headers) write(encodeFlvTag(t.type, 0, t.data));
  const media = tags.filter((t) => !headers.includes(t) && t.type !== FLV_TAG_SCRIPT);
  const duration = media[media.length - 1]!.timestamp + 33;
  const start = Date.now();
  let loop = 0;
  while (Date.now() < stop.at && ff.exitCode === null) {
    for (const t of media) {
      const ts = loop * duration + t.timestamp;
      const wait = start + ts - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (Date.now() >= stop.at || ff.exitCode !== null) break;
      write(encodeFlvTag(t.type, ts, t.type === FLV_TAG_VIDEO ? stampVideo(t.data, Date.now()) : t.data));
    }
    loop++;
  }
  const early = ff.exitCode !== null;
  ff.stdin.end();
  ff.kill('SIGTERM');
  await exited;
  if (early) throw new Error(`ffmpeg (${output.at(-1)!.split(':')[0]} publisher) exited early: ${err.trim()}`);
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

async function rtspViewer(url: string, samples: Samples, stopAt: number): Promise<void> {
  const c = new RtspClient({
    url,
    onRtp: (kind, p) => {
      if (kind !== 'video') return;
      const now = Date.now();
      for (const s of findClockStamps(p.payload)) samples.push(now - s);
    },
  });
  await c.play();
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

/**
 * hlsJsViewer plays the stream with hls.js (lowLatencyMode) in headless Chromium.
 *
 * The page, hls.js and the stream share one origin: a small proxy on loopback serves the page
 * and hls.min.js and forwards every other request to onair (adds well under 1 ms per request).
 * The SEI stamps reach the page through hls.js's FRAG_PARSING_USERDATA event with the frame's
 * pts on the <video> element's timeline (checked: the stamps' pts fall inside video.buffered and
 * the result agrees with hls.js's own PROGRAM-DATE-TIME based `hls.latency`, also recorded).
 * At every presented frame (requestVideoFrameCallback) latency = now − stamp of the frame whose
 * pts is the presented mediaTime (nearest stamped frame at or before it, corrected by the pts
 * difference). The window starts once frames are presented plus a short settle time, so
 * browser start-up (slow on a busy machine) is not part of the measurement.
 */
export const HLSJS_PAGE = `<!doctype html><html><body><video id=v muted autoplay playsinline width=640 height=360></video>
<script src="/hls.min.js"></script>
<script>
  window.samples = []; window.errs = []; window.events = {}; const stamps = []; window.stampCount = 0;
  const v = document.getElementById('v');
  const hls = new Hls({ lowLatencyMode: true, backBufferLength: 10, maxLiveSyncPlaybackRate: 1.5, debug: /debug/.test(location.search) });
  window.hls = hls;
  for (const e of ['MANIFEST_PARSED', 'LEVEL_LOADED', 'FRAG_LOADED', 'FRAG_PARSED', 'BUFFER_APPENDED', 'FRAG_PARSING_USERDATA']) hls.on(Hls.Events[e], () => { window.events[e] = (window.events[e] || 0) + 1; });
  hls.on(Hls.Events.FRAG_PARSING_USERDATA, (_e, d) => { for (const s of d.samples) {
    const bytes = s.userDataBytes; if (!bytes) continue;
    const m = /(\\d{13})/.exec(String.fromCharCode.apply(null, Array.from(bytes))); if (!m) continue;
    stamps.push([s.pts, Number(m[1])]); window.stampCount++; }
    stamps.sort((a, b) => a[0] - b[0]); while (stamps.length > 600) stamps.shift(); });
  hls.on(Hls.Events.ERROR, (_e, d) => window.errs.push(d.details + (d.fatal ? ' (fatal)' : '')));
  hls.loadSource(new URLSearchParams(location.search).get('src'));
  hls.attachMedia(v);
  v.play().catch((e) => window.errs.push('play: ' + e));
  window.frames = 0; window.hlsLatency = [];
  const onFrame = (_now, meta) => {
    window.frames++; window.lastMediaTime = meta.mediaTime;
    const t = meta.mediaTime;
    let best;
    for (const st of stamps) { if (st[0] <= t + 0.002) best = st; else break; }
    if (best && t - best[0] < 1) window.samples.push(Date.now() - best[1] - (t - best[0]) * 1000);
    v.requestVideoFrameCallback(onFrame);
  };
  // hls.js's own estimate (live edge from PROGRAM-DATE-TIME), as a cross-check.
  setInterval(() => { if (v.currentTime > 0 && Number.isFinite(hls.latency)) window.hlsLatency.push(hls.latency * 1000); }, 250);
  v.requestVideoFrameCallback(onFrame);
</script></body></html>`;

/** Bounds of the hls.js run: the browser may start slowly on a busy machine. */
const HLSJS_START_TIMEOUT_MS = 45_000;
const HLSJS_SETTLE_MS = 3_000;

async function hlsJsViewer(base: string, samples: Samples, seconds: number, stop: { at: number }): Promise<{ errors: string[]; hlsJsReportedP50?: number }> {
  const { chromium } = await import('playwright-core');
  const userDir = mkdtempSync(join(tmpdir(), 'onair-latency-chrome-'));
  const hlsJs = readFileSync('node_modules/hls.js/dist/hls.min.js');
  const upstream = new URL(base);
  const srv = http.createServer((req, res) => {
    if (req.url === '/' || req.url?.startsWith('/?')) {
      res.setHeader('content-type', 'text/html');
      res.end(HLSJS_PAGE);
    } else if (req.url === '/hls.min.js') {
      res.setHeader('content-type', 'application/javascript');
      res.end(hlsJs);
    } else {
      const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => { res.statusCode = 502; res.end(); });
      req.pipe(up);
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'],
  });
  try {
    const p = await ctx.newPage();
    const consoleLines: string[] = [];
    if (process.env.LATENCY_DEBUG) p.on('console', (m) => { consoleLines.push(m.text().slice(0, 300)); if (consoleLines.length > 400) consoleLines.shift(); });
    const port = (srv.address() as { port: number }).port;
    await p.goto(`http://127.0.0.1:${port}/?src=${encodeURIComponent(new URL(base).pathname + '/index.m3u8')}${process.env.LATENCY_DEBUG ? '&debug' : ''}`);
    // The window starts once frames are presented (and hls.js has had a moment to reach its live edge).
    const startBy = Date.now() + HLSJS_START_TIMEOUT_MS;
    let started = false;
    while (Date.now() < startBy && !(started = (await p.evaluate<number>('window.samples.length')) > 0)) await p.waitForTimeout(250);
    const errors: string[] = [];
    if (started) {
      await p.waitForTimeout(HLSJS_SETTLE_MS);
      await p.evaluate('window.samples.length = 0');
      await p.waitForTimeout(seconds * 1000);
    } else {
      errors.push(`no frame presented within ${HLSJS_START_TIMEOUT_MS / 1000} s`);
    }
    stop.at = Date.now() + 500;
    const got = await p.evaluate<number[]>('window.samples.slice()');
    const reported = await p.evaluate<number[]>('window.hlsLatency.slice(-Math.ceil(' + seconds + ' * 4))');
    errors.push(...(await p.evaluate<string[]>('window.errs')));
    if (process.env.LATENCY_DEBUG) {
      console.error(await p.evaluate(`JSON.stringify({ stamps: window.stampCount, samples: window.samples.length, events: window.events, t: v.currentTime, rs: v.readyState, paused: v.paused,
        buf: v.buffered.length ? [v.buffered.start(0), v.buffered.end(v.buffered.length - 1)] : null, lat: hls.latency, errs: window.errs, frames: window.frames, lastMediaTime: window.lastMediaTime, firstStamp: stamps[0], lastStamp: stamps[stamps.length - 1], now: Date.now() })`));
      console.error(consoleLines.join('\n'));
    }
    samples.push(...got);
    const sorted = reported.sort((a, b) => a - b);
    return { errors: [...new Set(errors)], hlsJsReportedP50: sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]!) : undefined };
  } finally {
    await ctx.close();
    srv.close();
    rmSync(userDir, { recursive: true, force: true });
  }
}

/**
 * WHEP_PAGE plays /live/demo/whep like web/src/player/engines.ts startWhep (recvonly video+audio,
 * all candidates gathered, POST application/sdp). Stamps: an encoded-frame transform (the legacy
 * createEncodedStreams where present, else RTCRtpScriptTransform in a worker) finds the SEI clock
 * in each received H.264 frame and keys it by the frame's RTP timestamp; at each presented frame
 * requestVideoFrameCallback gives that frame's rtpTimestamp, so latency = now − its stamp.
 */
export const WHEP_PAGE = `<!doctype html><html><body><video id=v muted autoplay playsinline width=640 height=360></video>
<script>
  window.samples = []; window.errs = []; window.frames = 0; window.stampCount = 0;
  const stamps = new Map();
  const UUID = [0x6f,0x6e,0x61,0x69,0x72,0x2d,0x63,0x6c,0x6f,0x63,0x6b,0x2d,0x73,0x74,0x6d,0x70];
  function stampOf(bytes) {
    outer: for (let i = 0; i + 29 <= bytes.length; i++) {
      for (let j = 0; j < 16; j++) if (bytes[i + j] !== UUID[j]) continue outer;
      let ms = 0; for (let k = 0; k < 13; k++) { const c = bytes[i + 16 + k]; if (c < 48 || c > 57) continue outer; ms = ms * 10 + (c - 48); }
      return ms;
    }
    return undefined;
  }
  window.onStamp = (ts, ms) => { stamps.set(ts, ms); window.stampCount++; if (stamps.size > 900) stamps.delete(stamps.keys().next().value); };
  const WORKER = \`
    const UUID = [0x6f,0x6e,0x61,0x69,0x72,0x2d,0x63,0x6c,0x6f,0x63,0x6b,0x2d,0x73,0x74,0x6d,0x70];
    \${stampOf.toString()}
    onrtctransform = (e) => { const t = e.transformer; t.readable.pipeThrough(new TransformStream({ transform(f, c) {
      const ms = stampOf(new Uint8Array(f.data)); if (ms !== undefined) postMessage([f.getMetadata().rtpTimestamp ?? f.timestamp, ms]); c.enqueue(f); } })).pipeTo(t.writable); };\`;
  async function start() {
    const legacy = typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype;
    const pc = new RTCPeerConnection(legacy ? { encodedInsertableStreams: true } : {});
    const vt = pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    if (legacy) {
      const { readable, writable } = vt.receiver.createEncodedStreams();
      readable.pipeThrough(new TransformStream({ transform(f, c) {
        const ms = stampOf(new Uint8Array(f.data)); if (ms !== undefined) window.onStamp(f.getMetadata().rtpTimestamp ?? f.timestamp, ms); c.enqueue(f); } })).pipeTo(writable);
    } else {
      const w = new Worker(URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' })));
      w.onmessage = (e) => window.onStamp(e.data[0], e.data[1]);
      vt.receiver.transform = new RTCRtpScriptTransform(w, {});
    }
    const v = document.getElementById('v');
    const stream = new MediaStream();
    pc.ontrack = (e) => { stream.addTrack(e.track); if (!v.srcObject) { v.srcObject = stream; v.play().catch((err) => window.errs.push('play: ' + err)); } };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((res) => { if (pc.iceGatheringState === 'complete') return res(); const t = setTimeout(res, 2000);
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); res(); } }; });
    const r = await fetch(new URLSearchParams(location.search).get('src'), { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
    if (r.status !== 201) { window.errs.push('WHEP ' + r.status + ' ' + await r.text()); return; }
    await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
    window.pc = pc;
    const onFrame = (_now, meta) => {
      window.frames++;
      const ms = stamps.get(meta.rtpTimestamp);
      if (ms !== undefined) window.samples.push(Date.now() - ms);
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  }
  start().catch((e) => window.errs.push(String(e)));
</script></body></html>`;

/** whepViewer measures WebRTC playback in headless Chromium (page on its own loopback origin; WHEP allows any origin). */
async function whepViewer(base: string, samples: Samples, seconds: number, stop: { at: number }): Promise<{ errors: string[]; jitterBufferMs?: number }> {
  const { chromium } = await import('playwright-core');
  const userDir = mkdtempSync(join(tmpdir(), 'onair-latency-chrome-'));
  const srv = http.createServer((_req, res) => { res.setHeader('content-type', 'text/html'); res.end(WHEP_PAGE); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'],
  });
  try {
    const p = await ctx.newPage();
    const port = (srv.address() as { port: number }).port;
    await p.goto(`http://127.0.0.1:${port}/?src=${encodeURIComponent(`${base}/whep`)}`);
    const startBy = Date.now() + HLSJS_START_TIMEOUT_MS;
    let started = false;
    while (Date.now() < startBy && !(started = (await p.evaluate<number>('window.samples.length')) > 0)) {
      if ((await p.evaluate<number>('window.errs.length')) > 0) break;
      await p.waitForTimeout(250);
    }
    const errors: string[] = [];
    let jitterBufferMs: number | undefined;
    if (started) {
      await p.waitForTimeout(HLSJS_SETTLE_MS);
      await p.evaluate('window.samples.length = 0');
      await p.waitForTimeout(seconds * 1000);
      // Chromium's own view: mean video jitter-buffer delay per emitted frame.
      jitterBufferMs = await p.evaluate<number | undefined>(`window.pc.getStats().then((r) => { let v; r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video' && s.jitterBufferEmittedCount) v = Math.round(1000 * s.jitterBufferDelay / s.jitterBufferEmittedCount); }); return v; })`);
    } else {
      if (process.env.LATENCY_DEBUG) console.error(await p.evaluate(`(window.pc ? window.pc.getStats() : Promise.resolve(new Map())).then((r) => { const o = { sdp: window.pc && (window.pc.localDescription.sdp + window.pc.remoteDescription.sdp).split('\\r\\n').filter((l) => /candidate|^m=|fmtp/.test(l)), state: window.pc && window.pc.connectionState, legacy: 'createEncodedStreams' in RTCRtpSender.prototype, script: typeof RTCRtpScriptTransform }; r.forEach((s) => { if (s.type === 'inbound-rtp') o[s.kind] = { packets: s.packetsReceived, decoded: s.framesDecoded, w: s.frameWidth }; }); return JSON.stringify(o); })`));
      errors.push(`no stamped frame presented within ${HLSJS_START_TIMEOUT_MS / 1000} s (frames ${await p.evaluate<number>('window.frames')}, stamps ${await p.evaluate<number>('window.stampCount')})`);
    }
    stop.at = Date.now() + 500;
    samples.push(...(await p.evaluate<number[]>('window.samples.slice()')));
    errors.push(...(await p.evaluate<string[]>('window.errs')));
    return { errors: [...new Set(errors)], ...(jitterBufferMs !== undefined ? { jitterBufferMs } : {}) };
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
  const srtPort = httpPort + 2000;
  const rtspPort = httpPort + 3000;
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: { ...process.env, ...LOOPBACK_LIMITS_ENV, ONAIR_DATA_DIR: dataDir, ONAIR_HTTP_PORT: String(httpPort), ONAIR_RTMP_PORT: String(rtmpPort), ONAIR_MEDIA_SRT_PORT: String(srtPort), ONAIR_MEDIA_RTSP_PORT: String(rtspPort), ONAIR_HOST: '127.0.0.1', ONAIR_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // The server's start-up banner (with a throwaway admin token) stays quiet; its last output is shown on failure.
  let serverErr = '';
  server.stderr!.on('data', (d: Buffer) => { serverErr = (serverErr + d.toString()).slice(-4000); });
  const killServer = () => { if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL'); };
  process.once('exit', killServer);
  const results: Record<string, ReturnType<typeof summary> & { errors?: string[]; hlsJsReportedLatencyP50?: number; benchLoopLagP99Ms?: number }> = {};
  const load0 = loadavg();
  try {
    const base = `http://127.0.0.1:${httpPort}`;
    const healthDeadline = Date.now() + 90_000; // a busy machine can take a while to start tsx
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false))) {
      if (Date.now() > healthDeadline || server.exitCode !== null) throw new Error(`onair did not become healthy on ${base}\n${serverErr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // The demo key is shown once and stored only hashed: take a fresh one with the operator's token.
    const { adminToken } = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as { adminToken: string };
    const rotated = await fetch(`${base}/api/v1/channels/demo/stream-key/rotate`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
    if (!rotated.ok) throw new Error(`could not rotate the demo stream key: ${rotated.status} ${await rotated.text()}`);
    const key = ((await rotated.json()) as { streamKey: string }).streamKey;
    for (const proto of PROTOCOLS) {
      const samples: Samples = [];
      const browser = proto === 'hls.js' || proto === 'whep';
      const warmup = proto === 'hls.js' ? 4000 : 2500;
      const stopAt = Date.now() + warmup + SECONDS * 1000;
      // hls.js moves stop.at itself once its window is over (bounded by HLSJS_START_TIMEOUT_MS).
      const stop = { at: browser ? stopAt + HLSJS_START_TIMEOUT_MS + HLSJS_SETTLE_MS + 30_000 : stopAt + 500 };
      let pubError: Error | undefined;
      const viewerLag = monitorEventLoopDelay({ resolution: 10 });
      viewerLag.enable();
      const pub = (proto === 'srt'
        ? publishLoopFfmpeg(['-f', 'mpegts', `srt://127.0.0.1:${srtPort}?streamid=publish:${key}&latency=120000`], tags, stop)
        : proto === 'rtsp-in'
          ? publishLoopFfmpeg(['-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${rtspPort}/live/${key}`], tags, stop)
          : publishLoop(`rtmp://127.0.0.1:${rtmpPort}/live/${key}`, tags, stop)).catch((e: Error) => { pubError = e; });
      await new Promise((r) => setTimeout(r, warmup));
      let errors: string[] | undefined;
      let extra: Record<string, unknown> = {};
      if (pubError) errors = [`publisher: ${pubError.message}`];
      else if (proto === 'rtmp') await rtmpViewer(`rtmp://127.0.0.1:${rtmpPort}/live/demo`, samples, stopAt);
      else if (proto === 'rtsp') await rtspViewer(`rtsp://127.0.0.1:${rtspPort}/live/demo`, samples, stopAt);
      else if (proto === 'flv' || proto === 'srt' || proto === 'rtsp-in') await flvViewer(`${base}/live/demo.flv`, samples, stopAt);
      else if (proto === 'll-hls') await llHlsViewer(`${base}/live/demo`, samples, stopAt);
      else if (proto === 'hls.js') {
        const r = await hlsJsViewer(`${base}/live/demo`, samples, SECONDS, stop);
        errors = r.errors;
        extra = { hlsJsReportedLatencyP50: r.hlsJsReportedP50 };
      } else if (proto === 'whep') {
        const r = await whepViewer(`${base}/live/demo`, samples, SECONDS, stop);
        errors = r.errors;
        extra = { chromiumJitterBufferMs: r.jitterBufferMs };
      }
      await pub;
      viewerLag.disable();
      // the viewers' (and publisher's) event loop: a late loop would add its delay to every sample
      extra = { ...extra, benchLoopLagP99Ms: Math.round(viewerLag.percentile(99) / 1e4) / 100 };
      if (pubError && !errors) errors = [`publisher: ${(pubError).message}`];
      results[proto] = { ...summary(samples), ...extra, ...(errors?.length ? { errors } : {}) };
      await new Promise((r) => setTimeout(r, 1500));
    }
  } finally {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    killServer();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`\nglass-to-glass latency (ms), ${SECONDS} s per protocol, 640x360 30 fps, 1 s GOP, loopback`);
  console.log('protocol   samples    p50    p95    max');
  for (const [p, r] of Object.entries(results)) {
    console.log(`${p.padEnd(10)} ${String(r.n).padStart(7)} ${String(r.p50 ?? '-').padStart(6)} ${String(r.p95 ?? '-').padStart(6)} ${String(r.max ?? '-').padStart(6)}${r.errors ? `   (${r.errors.join('; ')})` : ''}`);
  }
  writeResultJson(OUT, {
    date: new Date().toISOString(), seconds: SECONDS, node: process.version, loadavgAtStart: load0.map((x) => +x.toFixed(2)), loadavgAtEnd: loadavg().map((x) => +x.toFixed(2)),
    method: 'pre-encoded 640x360 30 fps H.264 (1 s GOP) + AAC published over RTMP in real time (srt: the same tags piped through ffmpeg -c copy to MPEG-TS over SRT, latency 120 ms, read over HTTP-FLV; rtsp-in: the same through ffmpeg -c copy to RTSP over TCP, read over HTTP-FLV); wallclock ms in an SEI NAL per video frame; viewers on the same machine compare on receipt (rtmp, flv: tag arrival; rtsp: arrival of the RTP packet carrying the stamp over RTSP/TCP; ll-hls: part arrival, first frame of the part; hls.js: frame presentation via requestVideoFrameCallback; whep: frame presentation via requestVideoFrameCallback, stamp matched by RTP timestamp)',
    results,
  });
  console.log(`written ${OUT}`);
}

await main();
