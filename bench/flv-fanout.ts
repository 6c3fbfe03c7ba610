/**
 * flv-fanout: how many HTTP-FLV viewers and RTMP players one core serves, onair vs
 * Node-Media-Server, with the method of SRS's published A/B runs.
 *
 *   node --import tsx bench/flv-fanout.ts [--viewers 1000,5000,10000] [--server onair|nms|both]
 *        [--protocol flv|rtmp|both] [--window 20]
 *
 * A 200 kbit/s H.264 + 32 kbit/s AAC file is encoded once (bench/.cache/), the server runs
 * pinned to core 0 (taskset), ffmpeg publishes the file with -re -stream_loop -1 -c copy,
 * and a load generator pinned to core 1 connects N viewers over loopback. Server CPU % and
 * RSS come from /proc/PID over a steady-state window. Results: bench/results/flv-fanout.json.
 * Everything is bounded in time and stops by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const CACHE = join(ROOT, 'bench/.cache');
const MEDIA_FILE = join(CACHE, 'fanout-200k-32k.flv');
const RESULTS = join(ROOT, 'bench/results/flv-fanout.json');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
const SERVER_CORE = '0';
const LOADGEN_CORE = '1';
const STREAM = 'bench';
const WARMUP_MS = 3000;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const VIEWERS = arg('viewers', '1000,5000,10000').split(',').map(Number).filter((n) => n > 0);
const SERVERS = (arg('server', 'both') === 'both' ? ['onair', 'nms'] : [arg('server', 'both')]) as ('onair' | 'nms')[];
const PROTOCOLS = (arg('protocol', 'both') === 'both' ? ['flv', 'rtmp'] : [arg('protocol', 'both')]) as ('flv' | 'rtmp')[];
const WINDOW_S = Number(arg('window', '20'));

const children = new Set<ChildProcess>();
function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}
function killAll(): void {
  for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
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
  name: 'onair' | 'nms';
  pid: number;
  rtmpPort: number;
  httpPort: number;
  proc: ChildProcess;
}

function pinned(core: string, cmd: string[]): ChildProcess {
  // ulimit -n: one descriptor per viewer, plus slack; exec keeps the PID that we measure.
  const sh = `ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec taskset -c ${core} ${cmd.map((a) => `'${a}'`).join(' ')}`;
  return track(spawn('sh', ['-c', sh], { stdio: ['pipe', 'pipe', 'inherit'], cwd: ROOT }));
}

async function startServer(name: 'onair' | 'nms'): Promise<ServerUnderTest> {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  let proc: ChildProcess;
  if (name === 'onair') {
    proc = pinned(SERVER_CORE, [process.execPath, '--import', 'tsx', 'bench/lib/onair-server.ts', String(rtmpPort), String(httpPort)]);
  } else {
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
  }
  proc.stdout!.resume(); // NMS logs every session; drain it
  await waitPort(rtmpPort);
  await waitPort(httpPort);
  return { name, pid: proc.pid!, rtmpPort, httpPort, proc };
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
  loadgenLagP99Ms: number;
  loadavg: string;
}

async function measure(srv: ServerUnderTest, protocol: 'flv' | 'rtmp', n: number, bytesPerSecond: number, idleRss: number): Promise<Row> {
  const lg = new LoadGen();
  try {
    const port = protocol === 'flv' ? srv.httpPort : srv.rtmpPort;
    const c = await lg.send({ cmd: 'connect', proto: protocol, port, path: `live/${STREAM}`, n, timeoutMs: 120_000 });
    await sleep(WARMUP_MS);
    await lg.send({ cmd: 'mark' });
    const t0 = Date.now();
    const c0 = cpuTicks(srv.pid);
    await sleep(WINDOW_S * 1000);
    const c1 = cpuTicks(srv.pid);
    const dt = (Date.now() - t0) / 1000;
    const rss = rssKiB(srv.pid);
    // served: got at least 80 % of the stream's bytes during the window
    const r = await lg.send({ cmd: 'report', minBytes: Math.floor(bytesPerSecond * dt * 0.8) });
    await lg.send({ cmd: 'close' });
    const row: Row = {
      server: srv.name,
      protocol,
      viewers: n,
      served: Number(r.served),
      cpuPercent: Math.round(((c1 - c0) / CLK_TCK / dt) * 1000) / 10,
      rssMiB: Math.round(rss / 102.4) / 10,
      rssPerViewerKiB: Math.round(((rss - idleRss) / n) * 10) / 10,
      firstKeyP50Ms: Math.round(Number(r.firstKeyP50) * 10) / 10,
      firstKeyP99Ms: Math.round(Number(r.firstKeyP99) * 10) / 10,
      connectSeconds: Math.round(Number(c.ms) / 100) / 10,
      idleRssMiB: Math.round(idleRss / 102.4) / 10,
      loadgenLagP99Ms: Number(r.loopLagP99Ms),
      loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await lg.stop();
    await sleep(3000); // let the server notice the closes before the next step
  }
}

function table(rows: Row[]): string {
  const head = ['server', 'proto', 'viewers', 'served', 'CPU %', 'RSS MiB', 'KiB/viewer', 'key p50 ms', 'key p99 ms', 'connect s', 'lg lag p99', 'loadavg'];
  const lines = rows.map((r) =>
    [r.server, r.protocol, r.viewers, r.served, r.cpuPercent, r.rssMiB, r.rssPerViewerKiB, r.firstKeyP50Ms, r.firstKeyP99Ms, r.connectSeconds, r.loadgenLagP99Ms, r.loadavg].map(String),
  );
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padStart(w[i]!)).join('  ');
  return [fmt(head), ...lines.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  encodeSource();
  const fileBytes = statSync(MEDIA_FILE).size;
  const bytesPerSecond = fileBytes / 60; // the source is 60 s long
  console.log(`source ${MEDIA_FILE}: ${Math.round((bytesPerSecond * 8) / 1000)} kbit/s; window ${WINDOW_S}s; viewers ${VIEWERS.join(',')}`);
  const rows: Row[] = [];
  // A fresh server (and publisher) per step, so RSS per viewer is not skewed by earlier steps.
  for (const name of SERVERS) {
    for (const protocol of PROTOCOLS) {
      for (const n of VIEWERS) {
        const srv = await startServer(name);
        const pub = track(spawn('ffmpeg', ['-v', 'error', '-re', '-stream_loop', '-1', '-i', MEDIA_FILE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${srv.rtmpPort}/live/${STREAM}`], { stdio: 'ignore' }));
        try {
          await sleep(4000);
          const idleRss = rssKiB(srv.pid);
          console.log(`${name}/${protocol}/${n}: idle RSS ${Math.round(idleRss / 1024)} MiB, loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
          rows.push(await measure(srv, protocol, n, bytesPerSecond, idleRss));
        } finally {
          await stopProc(pub);
          await stopProc(srv.proc);
        }
      }
    }
  }
  const result = {
    date: new Date().toISOString(),
    loadavgAtEnd: readFileSync('/proc/loadavg', 'utf8').trim(),
    method: 'server pinned to core 0, load generator to core 1, loopback; 200k H.264 + 32k AAC, ffmpeg -re -stream_loop -1 -c copy',
    node: process.version,
    windowSeconds: WINDOW_S,
    note: 'RSS/viewer = (RSS with viewers - RSS with publisher only) / viewers; served = viewers that got >= 80% of the stream bytes in the window; first keyframe is timed from TCP connect to the first video keyframe parsed by the load generator; lg lag = load generator event-loop delay p99 (CPU contention on its core)',
    rows,
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(result, null, 2) + '\n');
  console.log('\n' + table(rows));
  console.log(`\nwritten ${RESULTS}`);
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
