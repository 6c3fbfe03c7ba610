// Orchestration helpers for chat benchmarks: server and load-generator child processes.
import { spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Agent, request } from 'node:http';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';

export type Mode = 'onair' | 'sio';

/** PIN=1 pins the server to core 0 and every load generator (all its threads) to core 1. */
export const PIN = process.env.PIN === '1';

export interface ServerProc {
  mode: Mode;
  port: number;
  pid: number;
  proc: ChildProcess;
  stats(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number; clients: number }>;
  /** Cumulative fan-out delay histogram buckets (onair only; [] for socket.io). */
  fanoutDelay(): Promise<{ le: string | number; count: number }[]>;
  stop(): Promise<void>;
}

/** startServer runs bench/chat-server.ts in a `sh -c` wrapper that raises the fd limit to the hard limit. */
export async function startServer(mode: Mode, env: Record<string, string> = {}): Promise<ServerProc> {
  // CHAT_BENCH_SERVER_NODE_ARGS adds node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`); the profile is written on stop().
  const extra = process.env.CHAT_BENCH_SERVER_NODE_ARGS ?? '';
  // PIN=1: the server on core 0 (taskset), load generators on core 1, as the other scenarios pin.
  const pin = PIN ? 'taskset -c 0 ' : '';
  const proc = spawn('sh', ['-c', `ulimit -n $(ulimit -Hn); exec ${pin}node --expose-gc ${extra} --import tsx bench/chat-server.ts ${mode}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env, ONAIR_LOG_LEVEL: 'silent' },
  });
  const rl = createInterface({ input: proc.stdout });
  const info = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start')), 30000);
    rl.once('line', (line) => {
      clearTimeout(t);
      resolve(JSON.parse(line));
    });
    proc.once('exit', (c) => reject(new Error('server exited ' + c)));
  });
  return {
    mode,
    port: info.port,
    pid: info.pid,
    proc,
    async stats() {
      const res = await fetch(`http://127.0.0.1:${info.port}/bench/stats`);
      return res.json();
    },
    async fanoutDelay() {
      if (mode !== 'onair') return [];
      const res = await fetch(`http://127.0.0.1:${info.port}/bench/fanout-delay`);
      return res.json();
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      // SIGTERM lets the server exit through process.exit (so --cpu-prof writes its profile); SIGKILL if it hangs.
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface LoadgenStats {
  deliveries: number;
  /** Socket reads since the last reset: how many writes the deliveries came in (at least). */
  reads: number;
  lastDeliveryAt: number;
  latencies: Float64Array;
  closed: number;
  open: number;
  closeCodes: Record<string, number>;
}

export interface Loadgen {
  proc: ChildProcess;
  start(opts: Record<string, unknown>): Promise<{ connected: number; failed: number }>;
  reset(): Promise<void>;
  stats(): Promise<LoadgenStats>;
  stop(): Promise<void>;
}

/**
 * LOADGEN picks the load generator: `node` (default, bench/chat-loadgen.ts) or `c`
 * (bench/loadgen/chat-loadgen.c, built with cc into a temp dir on first use). Both open the same
 * raw WebSocket clients and report the same stats; the C one costs the shared CPU far less per
 * socket read, so on a small machine less of the measurement is the generator's own cost.
 */
export const LOADGEN = process.env.LOADGEN === 'c' ? 'c' : 'node';

interface LoadgenChannel {
  proc: ChildProcess;
  send(msg: { cmd: string } & Record<string, unknown>): void;
  onMessage(h: (m: { type: string } & Record<string, unknown>) => void): () => void;
}

function forkNodeLoadgen(): LoadgenChannel {
  const proc = fork('bench/chat-loadgen.ts', [], {
    execArgv: [...(process.env.CHAT_BENCH_LOADGEN_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', '--max-old-space-size=4096'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    proc,
    send: (msg) => proc.send(msg),
    onMessage(h) {
      proc.on('message', h);
      return () => proc.off('message', h);
    },
  };
}

let cLoadgenBin: string | null = null;
/** buildCLoadgen compiles the C generator once per run; throws with the compiler's words if it cannot. */
function buildCLoadgen(): string {
  if (cLoadgenBin) return cLoadgenBin;
  const bin = join(mkdtempSync(join(tmpdir(), 'onair-chat-loadgen-')), 'chat-loadgen');
  const cc = spawnSync('cc', ['-O2', '-o', bin, 'bench/loadgen/chat-loadgen.c'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) throw new Error(`LOADGEN=c needs a C compiler: ${cc.error?.message ?? cc.stderr.trim()}`);
  process.once('exit', () => rmSync(dirname(bin), { recursive: true, force: true }));
  return (cLoadgenBin = bin);
}

function spawnCLoadgen(): LoadgenChannel {
  const bin = buildCLoadgen();
  const proc = spawn('sh', ['-c', `ulimit -n $(ulimit -Hn); exec ${JSON.stringify(bin)}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const handlers = new Set<(m: { type: string } & Record<string, unknown>) => void>();
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as { type: string } & Record<string, unknown>;
    if (Array.isArray(m.latencies)) m.latencies = Float64Array.from(m.latencies as number[]);
    for (const h of [...handlers]) h(m);
  });
  const csv = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
  return {
    proc,
    send(msg) {
      if (msg.cmd !== 'start') return void proc.stdin.write(msg.cmd + '\n');
      const ports = Array.isArray(msg.ports) && msg.ports.length > 0 ? msg.ports : [msg.port];
      const line = ['start', msg.proto, msg.n, msg.base, msg.sampleEvery, msg.concurrency, msg.rooms, msg.channelPattern, csv(ports), csv(msg.addrs)];
      proc.stdin.write(line.join(' ') + '\n');
    },
    onMessage(h) {
      handlers.add(h);
      return () => handlers.delete(h);
    },
  };
}

export async function startLoadgen(): Promise<Loadgen> {
  const ch = LOADGEN === 'c' ? spawnCLoadgen() : forkNodeLoadgen();
  const proc = ch.proc;
  const waitFor = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load generator exited (${code}) while waiting for "${type}"`));
      const off = ch.onMessage((m) => {
        if (m.type === type) {
          off();
          proc.off('exit', onExit);
          resolve(m as unknown as T);
        }
      });
      proc.once('exit', onExit);
    });
  await waitFor('hello');
  // The C generator runs under `sh -c ... exec`, so the PID is the generator's own.
  if (PIN) spawnSync('taskset', ['-a', '-p', '-c', '1', String(proc.pid)], { stdio: 'ignore' });
  return {
    proc,
    async start(opts) {
      const p = waitFor<{ connected: number; failed: number }>('ready');
      ch.send({ cmd: 'start', ...opts });
      return p;
    },
    async reset() {
      const p = waitFor<void>('reset');
      ch.send({ cmd: 'reset' });
      await p;
    },
    async stats() {
      const p = waitFor<LoadgenStats>('stats');
      ch.send({ cmd: 'stats' });
      return p;
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      ch.send({ cmd: 'exit' });
      setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
      await exited;
    },
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

/** publishOnce sends one publication through the server API (onair) or the socket.io bench endpoint. */
export function publishOnce(mode: Mode, port: number, channel: string, data: unknown): Promise<void> {
  const body = JSON.stringify({ channel, data });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: mode === 'onair' ? '/api/publish' : '/publish',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': 'bench-api-key-0123456789' },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error('status ' + res.statusCode))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * bucketQuantile: the upper bound (ms) of the histogram bucket holding quantile q of the
 * observations between two cumulative snapshots; null when nothing was observed.
 */
export function bucketQuantile(before: { le: string | number; count: number }[], after: { le: string | number; count: number }[], q: number): number | null {
  const prev = new Map(before.map((b) => [String(b.le), b.count]));
  const delta = after.map((b) => ({ le: String(b.le), n: b.count - (prev.get(String(b.le)) ?? 0) }));
  const total = delta.find((d) => d.le === '+Inf')?.n ?? 0;
  if (total === 0) return null;
  for (const d of delta) if (d.n >= q * total) return d.le === '+Inf' ? Infinity : Number(d.le) * 1000;
  return Infinity;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return sorted[i]!;
}

/** cpuSeconds reads a process's user+system CPU time from /proc (Linux, 100 ticks/s). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function sourceAddrs(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}

/** startRedis: a throwaway redis-server (multi-node runs), shared with the tests. */
export { startRedis } from '../testkit/redis.js';
