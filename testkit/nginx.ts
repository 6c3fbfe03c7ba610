// Debian's nginx as a test peer: one process per test, in its own temp prefix (config, temp
// dirs, logs, pid), started in the foreground as this process's child and waited for until it
// listens. stop() kills it by PID, prints the end of its error log when the test run is failing,
// and removes the prefix. The RTMP server (nginx-rtmp.ts), the LL-HLS cache (nginx-hls.ts) and the
// RTMP balancer (nginx-stream.ts) each write their nginx.conf and start it through here.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './wait.js';

export const NGINX_BIN = '/usr/sbin/nginx';
export const NGINX_MODULES = '/usr/lib/nginx/modules';
const START_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 20;

/** The temp dirs nginx's http module insists on, created in the prefix. */
const HTTP_TEMP_DIRS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

export interface NginxProcess {
  proc: ChildProcess;
  /** The prefix: nginx.conf, error.log and whatever the caller put there. */
  dir: string;
  /** errorLog is nginx's error log so far ('' when there is none yet). */
  errorLog(): string;
  stop(): Promise<void>;
}

/** portOpen says whether something accepts TCP connections on this loopback port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

/** nginxPrefix makes a temp prefix with the http module's temp dirs; `name` shows in its path. */
export function nginxPrefix(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `onair-nginx-${name}-`));
  for (const d of HTTP_TEMP_DIRS) mkdirSync(join(dir, d));
  return dir;
}

/**
 * mainConf is the top of an nginx.conf for a test: foreground, one worker, logs and pid in the
 * prefix, `modules` loaded by file name (e.g. ngx_stream_module.so); the caller appends its blocks.
 */
export function mainConf(dir: string, opts: { modules?: string[]; errorLevel?: string; connections?: number } = {}): string {
  return [
    ...(opts.modules ?? []).map((m) => `load_module ${join(NGINX_MODULES, m)};`),
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `error_log ${dir}/error.log ${opts.errorLevel ?? 'warn'};`,
    `pid ${dir}/nginx.pid;`,
    `events { worker_connections ${opts.connections ?? 1024}; }`,
    '',
  ].join('\n');
}

/** httpTempPaths points the http module's temp files into the prefix (inside http {}). */
export function httpTempPaths(dir: string): string {
  return HTTP_TEMP_DIRS.map((d) => `  ${d}_temp_path ${dir}/${d};`).join('\n');
}

/** startNginx writes `conf` as the prefix's nginx.conf, runs nginx and waits until `port` accepts connections. */
export async function startNginx(dir: string, conf: string, port: number, what: string): Promise<NginxProcess> {
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = spawn(NGINX_BIN, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const errorLog = () => {
    try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; }
  };
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    if (process.exitCode) console.error(`${what}:\n${stderr}${errorLog().split('\n').slice(-LOG_TAIL_LINES).join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => proc.exitCode === null && portOpen(port), START_TIMEOUT_MS, `${what} listening`);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${stderr}`);
  }
  return { proc, dir, errorLog, stop };
}
