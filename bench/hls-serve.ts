/**
 * bench/hls-serve.ts — LL-HLS serving throughput: onair (from memory) vs nginx (the same
 * files from disk), on loopback, with a keep-alive load generator in a separate process.
 *
 *   npx tsx bench/hls-serve.ts [--seconds 5] [--connections 32] [--rounds 3] [--no-curl] [--out DIR]
 *
 * Each case runs ROUNDS times, alternating onair and nginx, and reports the median round, so a
 * busy machine (shared CPUs) skews both servers alike. Each round also runs a second, non-Node
 * client against both servers: curl (libcurl, C) fetching a fixed number of requests over the
 * same number of parallel keep-alive connections, so a limit of the Node generator (or of two
 * Node processes sharing the CPUs) shows up as a difference between the two clients.
 *
 * Writes hls-serve.json in the results directory (--out DIR, $BENCH_RESULTS_DIR, bench/results)
 * and prints a table.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { configSchema } from '../src/config/index.js';
import { silentLogger } from '../src/observability/logger.js';
import { createHlsService } from '../src/media/hls/service.js';
import { FakeHub } from '../testkit/hls-fakes.js';
import { videoTrack, audioTrack } from '../testkit/hls-frames.js';
import type { MediaFrame } from '../src/media/hub/types.js';
import { argValue, resultsPath, writeResultJson } from './lib/results.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('seconds', 5);
const CONNECTIONS = arg('connections', 32);
const ROUNDS = arg('rounds', 3);
const CURL = !process.argv.includes('--no-curl') && spawnSync('curl', ['--version']).status === 0;
/** The curl client fetches as many requests as the Node generator served in this many seconds. */
const CURL_TARGET_SECONDS = 2;
const CURL_MIN_REQUESTS = 500;
const CHANNEL = 'bench';

/** Frames of a ~1.8 Mbit/s 25 fps stream with AAC: 60 KB keyframes every 2 s, 8 KB others. */
function frames(seconds: number): MediaFrame[] {
  const out: MediaFrame[] = [];
  for (let i = 0; i < seconds * 25; i++) {
    const key = i % 50 === 0;
    const data = Buffer.alloc(key ? 60_000 : 8_000, i & 0xff);
    data.writeUInt32BE(data.length - 4, 0);
    out.push({ kind: 'video', codec: 'avc', dts: i * 40, pts: i * 40, keyframe: key, data });
  }
  for (let i = 0; i < (seconds * 44100) / 1024; i++) {
    const t = Math.round((i * 1024 * 1000) / 44100);
    out.push({ kind: 'audio', codec: 'aac', dts: t, pts: t, keyframe: true, data: Buffer.alloc(180, 1) });
  }
  return out.sort((a, b) => a.dts - b.dts);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

interface LoadResult { requests: number; ok: number; errors: number; seconds: number; rps: number; mbps: number; p50ms: number; p99ms: number; maxms: number; cpuPercent: number }

function load(url: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'hls-serve.load.mjs'), url, String(CONNECTIONS), String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 30) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`load generator exited ${code}`));
    });
  });
}

interface CurlResult { requests: number; ok: number; seconds: number; rps: number; cpuUsPerRequest: number }

/** curlLoad fetches `requests` GETs of one URL with curl over CONNECTIONS parallel keep-alive connections. */
function curlLoad(url: string, requests: number, serverCpu: () => number, dir: string): Promise<CurlResult> {
  // The list of URLs is written before the measured window: onair's CPU is this process's.
  const config = join(dir, 'curl.cfg');
  writeFileSync(config, `url = "${url}"\noutput = "/dev/null"\n`.repeat(requests));
  return new Promise((resolve, reject) => {
    const c0 = serverCpu();
    const t0 = performance.now();
    const child = spawn('curl', ['-s', '--no-progress-meter', '--parallel', '--parallel-immediate', '--parallel-max', String(CONNECTIONS), '-w', '%{http_code}\\n', '-K', config], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 60) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      const c1 = serverCpu();
      const ok = out.split('\n').filter((l) => l === '200').length;
      if (code !== 0) reject(new Error(`curl exited ${code}`));
      else resolve({ requests, ok, seconds, rps: ok / seconds, cpuUsPerRequest: ((c1 - c0) * 1e6) / Math.max(1, requests) });
    });
  });
}

/** cpuSeconds reads a process's user+system CPU time from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14 and 15)
}

/** measure runs one load round and adds the server's CPU microseconds per request. */
async function measure(url: string, serverCpu: () => number): Promise<LoadResult & { cpuUsPerRequest: number; serverCpuPercent: number }> {
  const c0 = serverCpu();
  const r = await load(url);
  const c1 = serverCpu();
  // serverCpuPercent next to the generator's own cpuPercent shows which side set the pace
  return { ...r, cpuUsPerRequest: ((c1 - c0) * 1e6) / Math.max(1, r.requests), serverCpuPercent: Math.round(((c1 - c0) / r.seconds) * 1000) / 10 };
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
}

function medianRun<T extends LoadResult>(runs: T[]): T {
  return [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
}

async function main() {
  const loadAverageAtStart = loadavg();
  // onair: the HLS service fed with 20 s of media, serving from memory.
  const config = configSchema.parse({});
  const hub = new FakeHub();
  const hls = createHlsService({ config, logger: silentLogger(), hub });
  const app = Fastify({ logger: false });
  hls.registerHttp(app);
  await hls.start();
  hub.publish(CHANNEL, videoTrack, audioTrack);
  for (const f of frames(20)) hub.frame(CHANNEL, f);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const onairPort = (app.server.address() as AddressInfo).port;

  const base = `/live/${CHANNEL}/source`;
  const playlist = (await app.inject({ url: `${base}/playlist.m3u8` })).body;
  const partUri = [...playlist.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)].at(-1)![1]!;
  const segUri = playlist.split('\n').filter((l) => l.startsWith('seg-')).at(-1)!;
  const p = hls.packager(CHANNEL)!;

  // nginx: the same bytes as files under the same paths.
  const prefix = mkdtempSync(join(tmpdir(), 'onair-bench-nginx-'));
  const root = join(prefix, 'www');
  mkdirSync(join(root, base), { recursive: true });
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  writeFileSync(join(root, base, 'playlist.m3u8'), playlist);
  writeFileSync(join(root, base, partUri), p.resource(partUri)!.bytes);
  writeFileSync(join(root, base, segUri), p.resource(segUri)!.bytes);
  for (const d of [prefix, root, join(root, 'live'), join(root, 'live', CHANNEL), join(root, base)]) chmodSync(d, 0o755);
  const nginxPort = await freePort();
  writeFileSync(join(prefix, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 65;
  client_body_temp_path ${prefix}/tmp/body; proxy_temp_path ${prefix}/tmp/proxy; fastcgi_temp_path ${prefix}/tmp/fcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi; scgi_temp_path ${prefix}/tmp/scgi;
  server {
    listen 127.0.0.1:${nginxPort};
    root ${root};
    location ~ \\.m3u8$ { add_header Access-Control-Allow-Origin *; add_header Cache-Control no-cache; }
    location / { add_header Access-Control-Allow-Origin *; add_header Cache-Control "public, max-age=86400, immutable"; }
  }
}
`);
  const nginx = spawn('/usr/sbin/nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'inherit' });
  await new Promise((r) => setTimeout(r, 500));
  const nginxWorker = Number(execFileSync('ps', ['--ppid', String(nginx.pid), '-o', 'pid='], { encoding: 'utf8' }).trim().split('\n')[0]);
  const onairCpu = () => cpuSeconds(process.pid);
  const nginxCpu = () => cpuSeconds(nginxWorker);
  const nginxVersion = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' }).stderr.trim(); // nginx prints its version on stderr

  const kinds = [
    { kind: 'playlist', path: `${base}/playlist.m3u8`, bytes: Buffer.byteLength(playlist) },
    { kind: 'part', path: `${base}/${partUri}`, bytes: p.resource(partUri)!.bytes.length },
    { kind: 'segment', path: `${base}/${segUri}`, bytes: p.resource(segUri)!.bytes.length },
  ];
  const rows: Record<string, unknown>[] = [];
  try {
    for (const k of kinds) {
      // sanity: both servers return the same bytes
      const a = await fetch(`http://127.0.0.1:${onairPort}${k.path}`).then((r) => r.arrayBuffer());
      const b = await fetch(`http://127.0.0.1:${nginxPort}${k.path}`).then((r) => r.arrayBuffer());
      if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) throw new Error(`${k.kind}: onair and nginx bodies differ`);
      await load(`http://127.0.0.1:${onairPort}${k.path}`).catch(() => undefined); // warm-up, discarded
      const onairRuns: (LoadResult & { cpuUsPerRequest: number; serverCpuPercent: number })[] = [];
      const nginxRuns: (LoadResult & { cpuUsPerRequest: number; serverCpuPercent: number })[] = [];
      const onairCurl: CurlResult[] = [];
      const nginxCurl: CurlResult[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        onairRuns.push(await measure(`http://127.0.0.1:${onairPort}${k.path}`, onairCpu));
        nginxRuns.push(await measure(`http://127.0.0.1:${nginxPort}${k.path}`, nginxCpu));
        if (CURL) {
          const n = Math.max(CURL_MIN_REQUESTS, Math.round(Math.max(onairRuns.at(-1)!.rps, nginxRuns.at(-1)!.rps) * CURL_TARGET_SECONDS));
          onairCurl.push(await curlLoad(`http://127.0.0.1:${onairPort}${k.path}`, n, onairCpu, prefix));
          nginxCurl.push(await curlLoad(`http://127.0.0.1:${nginxPort}${k.path}`, n, nginxCpu, prefix));
        }
      }
      const onair = medianRun(onairRuns);
      const ng = medianRun(nginxRuns);
      const cpuMedian = (runs: { cpuUsPerRequest: number }[]) => [...runs].map((x) => x.cpuUsPerRequest).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
      const onairCpuUs = cpuMedian(onairRuns);
      const nginxCpuUs = cpuMedian(nginxRuns);
      rows.push({
        kind: k.kind, bytes: k.bytes, onair, nginx: ng,
        ratio: +(onair.rps / ng.rps).toFixed(3),
        onairCpuUsPerRequest: +onairCpuUs.toFixed(1), nginxCpuUsPerRequest: +nginxCpuUs.toFixed(1),
        // requests one fully used core could serve, from CPU time per request (robust on a busy machine)
        onairRpsPerCore: Math.round(1e6 / onairCpuUs), nginxRpsPerCore: Math.round(1e6 / nginxCpuUs),
        cpuRatio: +(nginxCpuUs / onairCpuUs).toFixed(3),
        onairRps: onairRuns.map((x) => Math.round(x.rps)), nginxRps: nginxRuns.map((x) => Math.round(x.rps)),
        // the median rounds' CPU: the server process vs the load generator process (one core = 100)
        onairServerCpuPercent: onair.serverCpuPercent, onairLoadgenCpuPercent: onair.cpuPercent,
        nginxServerCpuPercent: ng.serverCpuPercent, nginxLoadgenCpuPercent: ng.cpuPercent,
        // the same requests from curl (a C client): req/s of each round and the median
        ...(CURL ? {
          curl: {
            onairRps: onairCurl.map((x) => Math.round(x.rps)), nginxRps: nginxCurl.map((x) => Math.round(x.rps)),
            onairRpsMedian: Math.round(median(onairCurl.map((x) => x.rps))), nginxRpsMedian: Math.round(median(nginxCurl.map((x) => x.rps))),
            onairCpuUsPerRequest: +median(onairCurl.map((x) => x.cpuUsPerRequest)).toFixed(1), nginxCpuUsPerRequest: +median(nginxCurl.map((x) => x.cpuUsPerRequest)).toFixed(1),
            requestsPerRound: onairCurl.map((x) => x.requests),
            errors: [...onairCurl, ...nginxCurl].reduce((a, x) => a + x.requests - x.ok, 0),
          },
        } : {}),
      });
    }
  } finally {
    nginx.kill('SIGTERM');
    await hls.stop();
    await app.close();
    rmSync(prefix, { recursive: true, force: true });
  }

  const result = {
    bench: 'hls-serve',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    nginx: nginxVersion,
    connections: CONNECTIONS,
    secondsPerRun: SECONDS,
    rounds: ROUNDS,
    loadAverageAtStart,
    loadAverageAtEnd: loadavg(),
    method: 'rps = median of alternating rounds; cpuUsPerRequest = server process CPU time (/proc utime+stime) / requests, less sensitive than req/s to other processes on a busy shared machine, though not immune; keep-alive HTTP/1.1 GETs of one URL from a separate Node process (bench/hls-serve.load.mjs); onair serves from memory, nginx (1 worker, sendfile) serves the same bytes from a temp dir; one warm-up run per onair case; serverCpuPercent vs loadgenCpuPercent (median round) shows whether the server or the generator set the pace' +
      (CURL ? `; curl: each round also fetches the same URL with curl 7 (--parallel, ${CONNECTIONS} keep-alive connections, as many requests as the Node generator served in ${CURL_TARGET_SECONDS} s, at least ${CURL_MIN_REQUESTS}), curl.*RpsMedian = median of the rounds, a client that is not Node` : ''),
    rows,
  };
  const file = writeResultJson(resultsPath('hls-serve.json', argValue('out')), result);
  console.log(`hls-serve: ${CONNECTIONS} connections, ${SECONDS} s per run, median of ${ROUNDS}, ${cpus().length} CPUs, load average ${loadAverageAtStart.map((x) => x.toFixed(1)).join(' ')}`);
  console.log('kind      bytes    onair req/s  p99 ms   nginx req/s  p99 ms   ratio | onair µs/req  nginx µs/req  req/s/core onair  nginx  ratio | CPU % server/loadgen onair  nginx');
  type Row = { kind: string; bytes: number; onair: LoadResult; nginx: LoadResult; ratio: number; onairCpuUsPerRequest: number; nginxCpuUsPerRequest: number; onairRpsPerCore: number; nginxRpsPerCore: number; cpuRatio: number;
    onairServerCpuPercent: number; onairLoadgenCpuPercent: number; nginxServerCpuPercent: number; nginxLoadgenCpuPercent: number };
  for (const r of rows as Row[]) {
    console.log(
      `${r.kind.padEnd(9)} ${String(r.bytes).padStart(7)}  ${r.onair.rps.toFixed(0).padStart(11)}  ${r.onair.p99ms.toFixed(2).padStart(6)}   ${r.nginx.rps.toFixed(0).padStart(11)}  ${r.nginx.p99ms.toFixed(2).padStart(6)}   ${r.ratio.toFixed(2)} |` +
        ` ${r.onairCpuUsPerRequest.toFixed(1).padStart(12)}  ${r.nginxCpuUsPerRequest.toFixed(1).padStart(12)}  ${String(r.onairRpsPerCore).padStart(16)}  ${String(r.nginxRpsPerCore).padStart(5)}  ${r.cpuRatio.toFixed(2)} |` +
        ` ${`${r.onairServerCpuPercent}/${r.onairLoadgenCpuPercent}`.padStart(26)}  ${r.nginxServerCpuPercent}/${r.nginxLoadgenCpuPercent}`,
    );
  }
  for (const r of rows as { kind: string; curl?: { onairRpsMedian: number; nginxRpsMedian: number; onairCpuUsPerRequest: number; nginxCpuUsPerRequest: number; errors: number } }[]) {
    if (r.curl) console.log(`curl ${r.kind.padEnd(9)} onair ${r.curl.onairRpsMedian} req/s (${r.curl.onairCpuUsPerRequest} µs CPU/req)  nginx ${r.curl.nginxRpsMedian} req/s (${r.curl.nginxCpuUsPerRequest} µs CPU/req)  errors ${r.curl.errors}`);
  }
  console.log(`written ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
