// Debian's nginx as the LL-HLS caching reverse proxy of docs/nginx/ll-hls-cache.conf, in front of
// onair nodes on loopback: the shipped file with only its upstream addresses, listen port and
// cache path replaced (each replacement must match, so the doc and the tests cannot drift), run
// as this process's child with its own prefix, temp dirs and log; stop() kills it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { until } from './wait.js';
import { portOpen } from './nginx-rtmp.js';

export const NGINX_HLS_CONF = new URL('../docs/nginx/ll-hls-cache.conf', import.meta.url).pathname;
const START_TIMEOUT_MS = 10_000;

export interface NginxHls {
  port: number;
  url: string;
  proc: ChildProcess;
  /** accessLog lists the requests nginx answered as "status cacheStatus upstream uri". */
  accessLog(): string[];
  stop(): Promise<void>;
}

function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`docs/nginx/ll-hls-cache.conf no longer contains ${String(from)}`);
  return out;
}

/** startNginxHlsCache runs the shipped LL-HLS cache config in front of `upstreams` (host:port each). */
export async function startNginxHlsCache(upstreams: string[]): Promise<NginxHls> {
  const dir = mkdtempSync(join(tmpdir(), 'onair-nginx-hls-'));
  const port = await freePort();
  let conf = readFileSync(NGINX_HLS_CONF, 'utf8');
  conf = replaceOnce(conf, /^ {4}server 10\.0\.0\.11:8080 (.*)\n {4}server 10\.0\.0\.12:8080 .*\n/m, upstreams.map((u) => `    server ${u} $1\n`).join(''));
  conf = replaceOnce(conf, 'listen 80;', `listen 127.0.0.1:${port};`);
  conf = replaceOnce(conf, '/var/cache/nginx/onair-hls', join(dir, 'cache'));
  writeFileSync(join(dir, 'onair-ll-hls.conf'), conf);
  for (const d of ['cache', 'client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'nginx.conf'), `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  log_format onair '$status $upstream_cache_status $upstream_addr $request_uri';
  access_log ${dir}/access.log onair;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/onair-ll-hls.conf;
}
`);
  const proc = spawn('/usr/sbin/nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    if (process.exitCode) {
      try { console.error(stderr + readFileSync(join(dir, 'error.log'), 'utf8').split('\n').slice(-20).join('\n')); } catch { /* no log */ }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => proc.exitCode === null && portOpen(port), START_TIMEOUT_MS, 'nginx (LL-HLS cache) listening');
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${stderr}`);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    accessLog: () => readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean),
    stop,
  };
}
