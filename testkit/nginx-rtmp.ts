// An nginx-rtmp server for tests (an independent RTMP implementation): one `live` application,
// on a free loopback port, in its own temp dir; stop() kills it by PID, prints the end of its
// error log when the test run is failing, and removes the dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { until } from './wait.js';

export const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const START_TIMEOUT_MS = 10_000;

export interface NginxRtmp {
  port: number;
  proc: ChildProcess;
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

/** startNginxRtmp runs nginx with one live application `app` (idle streams dropped) and waits until it listens. */
export async function startNginxRtmp(app = 'sink'): Promise<NginxRtmp> {
  const dir = mkdtempSync(join(tmpdir(), 'onair-nginx-rtmp-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), `load_module ${NGINX_RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application ${app} {
      live on;
      idle_streams off;
    }
  }
}
`);
  const proc = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    if (process.exitCode) {
      try { console.error(readFileSync(join(dir, 'error.log'), 'utf8').split('\n').slice(-20).join('\n')); } catch { /* no log */ }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => portOpen(port), START_TIMEOUT_MS, 'nginx listening');
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, proc, stop };
}
