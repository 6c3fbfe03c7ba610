/**
 * flv-fanout: how many HTTP-FLV viewers and RTMP players one core serves, onair vs
 * Node-Media-Server vs nginx-rtmp, with the method of SRS's published A/B runs.
 *
 *   node --import tsx bench/flv-fanout.ts [--viewers 1000,5000,10000] [--server all|both|onair,nms,nginx]
 *        [--protocol flv|rtmp|both] [--window 20] [--warmup 3] [--settle 4] [--cooldown 3] [--read-batch-ms 0] [--out DIR]
 *
 * A 200 kbit/s H.264 + 32 kbit/s AAC file is encoded once (bench/.cache/), the server runs
 * pinned to core 0 (taskset), ffmpeg publishes the file with -re -stream_loop -1 -c copy,
 * and a load generator pinned to core 1 connects N viewers over loopback. Server CPU % and
 * RSS come from /proc/PID over a steady-state window (for nginx-rtmp the sum of master and
 * its one worker); the load generator's own CPU % is measured over the same window.
 * nginx-rtmp (Debian libnginx-mod-rtmp) serves RTMP players only (no HTTP-FLV in that module).
 * Results: flv-fanout.json in the results directory (--out, $BENCH_RESULTS_DIR, bench/results),
 * rewritten after every step with "partial": true until the run is complete.
 * Everything is bounded in time and stops by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argValue, resultsPath, writeResultJson } from './lib/results.js';
import { NGINX_RTMP_MODULE, childPids, nginxRtmpConfig, parseProtocols, parseServers, supports, type Protocol, type ServerName } from './lib/fanout-peers.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CACHE = join(ROOT, 'bench/.cache');
const MEDIA_FILE = join(CACHE, 'fanout-200k-32k.flv');
const SOURCE_SECONDS = 60;
const RESULTS = resultsPath('flv-fanout.json', argValue('out'));
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
const SERVER_CORE = '0';
const LOADGEN_CORE = '1';
const STREAM = 'bench';

function arg(name: string, def: string): string {
  return argValue(name) ?? def;
}

const VIEWERS = arg('viewers', '1000,5000,10000').split(',').map(Number).filter((n) => n > 0);
const SERVERS = parseServers(arg('server', 'all'));
const PROTOCOLS = parseProtocols(arg('protocol', 'both'));
const WINDOW_S = Number(arg('window', '20'));
/** Seconds between the last viewer's first keyframe and the start of the window. */
const WARMUP_MS = Number(arg('warmup', '3')) * 1000;
/** Seconds the publisher runs alone before the idle RSS is read and viewers connect. */
const SETTLE_MS = Number(arg('settle', '4')) * 1000;
/** Seconds after the viewers closed before the next step, so the server sees the closes. */
const COOLDOWN_MS = Number(arg('cooldown', '3')) * 1000;
/** Load generator reads in batches every N ms once a viewer has its first keyframe (0 = read as data arrives); see lib/loadgen.ts. */
const READ_BATCH_MS = Number(arg('read-batch-ms', '0'));
/** How long the load generator may take to connect the viewers of one step. */
const CONNECT_TIMEOUT_MS = Number(arg('connect-timeout', '120')) * 1000;

const children = new Set<ChildProcess>();
function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}
/** Processes a tracked child started that must go with it (nginx's worker). */
const dependents = new Map<ChildProcess, () => number[]>();
function killAll(): void {
  for (const c of children) {
    if (!c.pid || c.exitCode !== null) continue;
    const extra = dependents.get(c)?.() ?? [];
    c.kill('SIGKILL');
    for (const pid of extra) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
/** Temp directories of this run (nginx prefixes), removed however the run ends. */
const tempDirs = new Set<string>();
process.on('exit', () => {
  killAll();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
// Hard bound on the whole run.
setTimeout(() => {
  console.error('flv-fanout: time limit reached, stopping');
  process.exit(2);
}, 40 * 60_000).unref();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

async function waitPort(port: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.on('connect', () => (c.destroy(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} did not open`);
}

function encodeSource(): void {
  if (existsSync(MEDIA_FILE)) return;
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(join(CACHE, '.gitignore'), '*\n');
  console.log('encoding the 200 kbit/s + 32 kbit/s source once ...');
  const r = spawnSync('ffmpeg', [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '60', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '200k', '-maxrate', '200k', '-bufsize', '400k', '-g', '50', '-keyint_min', '50',
    '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '32k', '-ac', '2', '-f', 'flv', MEDIA_FILE,
  ], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('ffmpeg encode failed');
}

/** cpuTicks reads utime+stime of a process (clock ticks). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface ServerUnderTest {
  name: ServerName;
  /** The process we started (nginx: the master). */
  pid: number;
  /** Every process whose CPU and RSS count as the server (nginx: master + worker). */
  pids: () => number[];
  rtmpPort: number;
  httpPort: number;
  proc: ChildProcess;
  cleanup?: () => void;
  version?: string;
  /** The end of the server's own log (nginx's error.log), shown when a step leaves viewers unserved. */
  logTail?: () => string;
}

function pinned(core: string, cmd: string[]): ChildProcess {
  // ulimit -n: one descriptor per viewer, plus slack; exec keeps the PID that we measure.
  const sh = `ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec taskset -c ${core} ${cmd.map((a) => `'${a}'`).join(' ')}`;
  return track(spawn('sh', ['-c', sh], { stdio: ['pipe', 'pipe', 'inherit'], cwd: ROOT }));
}

function nmsVersion(): string {
  try {
    return `Node-Media-Server ${JSON.parse(readFileSync(join(ROOT, 'node_modules/node-media-server/package.json'), 'utf8')).version}`;
  } catch {
    return 'Node-Media-Server';
  }
}

function nginxRtmpVersion(): string {
  const nginx = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' }).stderr?.trim().replace(/^nginx version: /, '') ?? 'nginx';
  const mod = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libnginx-mod-rtmp'], { encoding: 'utf8' });
  return `${nginx} + libnginx-mod-rtmp ${mod.status === 0 ? mod.stdout.trim() : '?'}`;
}

async function startServer(name: ServerName, viewers: number): Promise<ServerUnderTest> {
  const rtmpPort = await freePort();
  const httpPort = name === 'nginx-rtmp' ? 0 : await freePort();
  let proc: ChildProcess;
  let cleanup: (() => void) | undefined;
  let version: string | undefined;
  let logTail: (() => string) | undefined;
  if (name === 'onair') {
    proc = pinned(SERVER_CORE, [process.execPath, '--import', 'tsx', 'bench/lib/onair-server.ts', String(rtmpPort), String(httpPort)]);
  } else if (name === 'nms') {
    const dir = join(CACHE, 'nms');
    mkdirSync(dir, { recursive: true });
    const cfg = {
      bind: '127.0.0.1',
      notify: { url: '' },
      store: { path: join(dir, 'data'), maxHistory: 10000 },
      auth: { play: false, publish: false, secret: 'bench-secret-0123456789abcdef', jwt: { secret: 'bench-jwt-secret-0123456789abcdef0123456789', expiresIn: '24h', refreshExpiresIn: '7d', algorithm: 'HS256', users: [] } },
      rtmp: { port: rtmpPort },
      http: { port: httpPort },
      webadmin: { enable: false },
      record: { auto: false, path: join(dir, 'record') },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
    proc = pinned(SERVER_CORE, [process.execPath, 'node_modules/node-media-server/bin/app.js', '-c', join(dir, 'config.json'), '--no-admin']);
    version = nmsVersion();
  } else {
    // nginx-rtmp: master + one worker, both pinned (the worker inherits the master's affinity).
    const prefix = mkdtempSync(join(tmpdir(), 'onair-bench-nginx-rtmp-'));
    writeFileSync(join(prefix, 'nginx.conf'), nginxRtmpConfig({ prefix, port: rtmpPort, viewers }));
    proc = pinned(SERVER_CORE, ['/usr/sbin/nginx', '-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')]);
    tempDirs.add(prefix);
    cleanup = () => {
      rmSync(prefix, { recursive: true, force: true });
      tempDirs.delete(prefix);
    };
    version = nginxRtmpVersion();
    logTail = () => {
      try {
        return readFileSync(join(prefix, 'error.log'), 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        return '';
      }
    };
  }
  proc.stdout!.resume(); // NMS logs every session; drain it
  const pid = proc.pid!;
  const pids = name === 'nginx-rtmp' ? () => [pid, ...childPids(pid)] : () => [pid];
  if (name === 'nginx-rtmp') dependents.set(proc, () => childPids(pid));
  await waitPort(rtmpPort);
  if (httpPort) await waitPort(httpPort);
  if (name === 'nginx-rtmp') {
    // the worker is forked right after the master binds; wait for it so it is measured
    const end = Date.now() + 10_000;
    while (pids().length < 2 && Date.now() < end) await sleep(50);
    if (pids().length < 2) throw new Error('nginx-rtmp: no worker process');
  }
  return { name, pid, pids, rtmpPort, httpPort, proc, cleanup, version, logTail };
}

async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 3000);
  await new Promise((r) => p.once('exit', r));
  clearTimeout(t);
}

class LoadGen {
  private proc: ChildProcess;
  private waiters: ((o: Record<string, unknown>) => void)[] = [];
  constructor() {
    this.proc = pinned(LOADGEN_CORE, [process.execPath, '--import', 'tsx', 'bench/lib/loadgen.ts']);
    createInterface({ input: this.proc.stdout! }).on('line', (l) => this.waiters.shift()?.(JSON.parse(l) as Record<string, unknown>));
  }
  get pid(): number {
    return this.proc.pid!;
  }
  send(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    });
  }
  async stop(): Promise<void> {
    this.proc.stdin!.end();
    await stopProc(this.proc);
  }
}

interface Row {
  server: string;
  protocol: string;
  viewers: number;
  served: number;
  cpuPercent: number;
  rssMiB: number;
  rssPerViewerKiB: number;
  firstKeyP50Ms: number;
  firstKeyP99Ms: number;
  connectSeconds: number;
  idleRssMiB: number;
  /** Median viewer's received bit rate over the window (the source is ~244 kbit/s): shows how far below "served" the others were. */
  windowKbitP50: number;
  /** Processes summed for CPU % and RSS (nginx-rtmp: master + worker = 2). */
  serverProcesses: number;
  /** The load generator's own CPU over the same window (one core = 100): near 100 means it, not the server, was the limit. */
  loadgenCpuPercent: number;
  loadgenLagP99Ms: number;
  /** Socket reads per second in the load generator, all viewers (a server writing each frame separately costs more reads). */
  loadgenReadsPerSecond: number;
  /** The generator's read batching (0 = reads as data arrives). */
  loadgenReadBatchMs: number;
  loadavg: string;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
/** CPU ticks and RSS of a set of processes; a process that exited counts 0. */
const ticksOf = (pids: number[]) => sum(pids.map((p) => { try { return cpuTicks(p); } catch { return 0; } }));
const rssOf = (pids: number[]) => sum(pids.map((p) => { try { return rssKiB(p); } catch { return 0; } }));

async function measure(srv: ServerUnderTest, protocol: Protocol, n: number, bytesPerSecond: number, idleRss: number): Promise<Row> {
  const lg = new LoadGen();
  try {
    const port = protocol === 'flv' ? srv.httpPort : srv.rtmpPort;
    const c = await lg.send({ cmd: 'connect', proto: protocol, port, path: `live/${STREAM}`, n, timeoutMs: CONNECT_TIMEOUT_MS, readBatchMs: READ_BATCH_MS });
    await sleep(WARMUP_MS);
    await lg.send({ cmd: 'mark' });
    const pids = srv.pids();
    const t0 = Date.now();
    const c0 = ticksOf(pids);
    const l0 = cpuTicks(lg.pid);
    await sleep(WINDOW_S * 1000);
    const c1 = ticksOf(pids);
    const l1 = cpuTicks(lg.pid);
    const dt = (Date.now() - t0) / 1000;
    const rss = rssOf(pids);
    // served: got at least 80 % of the stream's bytes during the window
    const r = await lg.send({ cmd: 'report', minBytes: Math.floor(bytesPerSecond * dt * 0.8) });
    await lg.send({ cmd: 'close' });
    const pct = (ticks: number) => Math.round((ticks / CLK_TCK / dt) * 1000) / 10;
    const row: Row = {
      server: srv.name,
      protocol,
      viewers: n,
      served: Number(r.served),
      cpuPercent: pct(c1 - c0),
      rssMiB: Math.round(rss / 102.4) / 10,
      rssPerViewerKiB: Math.round(((rss - idleRss) / n) * 10) / 10,
      firstKeyP50Ms: Math.round(Number(r.firstKeyP50) * 10) / 10,
      firstKeyP99Ms: Math.round(Number(r.firstKeyP99) * 10) / 10,
      connectSeconds: Math.round(Number(c.ms) / 100) / 10,
      windowKbitP50: Math.round((Number(r.windowBytesP50) * 8) / dt / 100) / 10,
      idleRssMiB: Math.round(idleRss / 102.4) / 10,
      serverProcesses: pids.length,
      loadgenCpuPercent: pct(l1 - l0),
      loadgenLagP99Ms: Number(r.loopLagP99Ms),
      loadgenReadsPerSecond: Number(r.readsPerSecond),
      loadgenReadBatchMs: READ_BATCH_MS,
      loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await lg.stop();
    await sleep(COOLDOWN_MS); // let the server notice the closes before the next step
  }
}

function table(rows: Row[]): string {
  const head = ['server', 'proto', 'viewers', 'served', 'CPU %', 'RSS MiB', 'KiB/viewer', 'key p50 ms', 'key p99 ms', 'connect s', 'lg CPU %', 'lg lag p99', 'loadavg'];
  const lines = rows.map((r) =>
    [r.server, r.protocol, r.viewers, r.served, r.cpuPercent, r.rssMiB, r.rssPerViewerKiB, r.firstKeyP50Ms, r.firstKeyP99Ms, r.connectSeconds, r.loadgenCpuPercent, r.loadgenLagP99Ms, r.loadavg].map(String),
  );
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padStart(w[i]!)).join('  ');
  return [fmt(head), ...lines.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  encodeSource();
  const fileBytes = statSync(MEDIA_FILE).size;
  const bytesPerSecond = fileBytes / SOURCE_SECONDS;
  const steps = SERVERS.flatMap((name) => PROTOCOLS.filter((p) => supports(name, p)).flatMap((protocol) => VIEWERS.map((n) => ({ name, protocol, n }))));
  const skipped = SERVERS.flatMap((name) => PROTOCOLS.filter((p) => !supports(name, p)).map((p) => `${name}/${p}`));
  if (SERVERS.includes('nginx-rtmp') && !existsSync(NGINX_RTMP_MODULE)) throw new Error(`nginx-rtmp: ${NGINX_RTMP_MODULE} not found (Debian package libnginx-mod-rtmp)`);
  console.log(`source ${MEDIA_FILE}: ${Math.round((bytesPerSecond * 8) / 1000)} kbit/s; window ${WINDOW_S}s; viewers ${VIEWERS.join(',')}; ${steps.length} steps${skipped.length ? ` (not served: ${skipped.join(', ')})` : ''}`);
  const rows: Row[] = [];
  const versions: Record<string, string> = {};
  const started = new Date().toISOString();
  const write = (partial: boolean) =>
    writeResultJson(RESULTS, {
      date: new Date().toISOString(),
      started,
      partial,
      stepsPlanned: steps.length,
      loadavgAtEnd: readFileSync('/proc/loadavg', 'utf8').trim(),
      method: 'server pinned to core 0, load generator to core 1, loopback; 200k H.264 + 32k AAC, ffmpeg -re -stream_loop -1 -c copy; nginx-rtmp: 1 worker, CPU and RSS summed over master + worker',
      node: process.version,
      versions,
      windowSeconds: WINDOW_S,
      command: `flv-fanout ${process.argv.slice(2).join(' ')}`.trim(),
      note: 'RSS/viewer = (RSS with viewers - RSS with publisher only) / viewers; served = viewers that got >= 80% of the stream bytes in the window; kbit/s p50 = the median viewer\'s bit rate over the window (source ~244 kbit/s); first keyframe is timed from TCP connect to the first video keyframe parsed by the load generator; lg CPU = the load generator\'s own CPU % over the window (one core = 100); lg lag = load generator event-loop delay p99 (CPU contention on its core)',
      rows,
    });
  // A fresh server (and publisher) per step, so RSS per viewer is not skewed by earlier steps.
  for (const { name, protocol, n } of steps) {
    const srv = await startServer(name, n);
    if (srv.version) versions[name] = srv.version;
    const pub = track(spawn('ffmpeg', ['-v', 'error', '-re', '-stream_loop', '-1', '-i', MEDIA_FILE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${srv.rtmpPort}/live/${STREAM}`], { stdio: 'ignore' }));
    try {
      await sleep(SETTLE_MS);
      const idleRss = rssOf(srv.pids());
      console.log(`${name}/${protocol}/${n}: idle RSS ${Math.round(idleRss / 1024)} MiB, loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
      const row = await measure(srv, protocol, n, bytesPerSecond, idleRss);
      rows.push(row);
      const log = row.served < n ? srv.logTail?.() : undefined;
      if (log) console.log(`${name}: ${n - row.served} viewers not served; the end of its error log:\n${log}`);
      // after every step, so a run that is stopped keeps what it measured
      write(rows.length < steps.length);
    } finally {
      await stopProc(pub);
      const workers = srv.pids().filter((p) => p !== srv.pid);
      await stopProc(srv.proc);
      for (const w of workers) {
        try {
          process.kill(w, 'SIGKILL'); // normally gone with its master already
        } catch {
          // exited
        }
      }
      srv.cleanup?.();
    }
  }
  if (rows.length === 0) write(false);
  console.log('\n' + table(rows));
  console.log(`\nwritten ${RESULTS}`);
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
