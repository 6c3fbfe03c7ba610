/**
 * The servers flv-fanout compares, and what each one needs: which viewer protocols it serves,
 * the nginx-rtmp configuration, and the processes whose CPU and RSS count as "the server".
 */
import { readFileSync, readdirSync } from 'node:fs';

export type ServerName = 'onair' | 'nms' | 'nginx-rtmp';
export type Protocol = 'flv' | 'rtmp';

/** Debian's libnginx-mod-rtmp installs the module here. */
export const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

/** parseServers: `all` = onair,nms,nginx; `both` = onair,nms (the original pair); or a comma list. */
export function parseServers(v: string): ServerName[] {
  const names = v === 'all' ? ['onair', 'nms', 'nginx'] : v === 'both' ? ['onair', 'nms'] : v.split(',').filter(Boolean);
  const out = names.map((n): ServerName => {
    if (n === 'nginx' || n === 'nginx-rtmp') return 'nginx-rtmp';
    if (n === 'onair' || n === 'nms') return n;
    throw new Error(`--server: unknown server "${n}" (onair, nms, nginx, both, all)`);
  });
  return [...new Set(out)];
}

/** parseProtocols: `both` = flv,rtmp; or one of them. */
export function parseProtocols(v: string): Protocol[] {
  if (v === 'both') return ['flv', 'rtmp'];
  if (v === 'flv' || v === 'rtmp') return [v];
  throw new Error(`--protocol: unknown protocol "${v}" (flv, rtmp, both)`);
}

/** supports: whether a server under test serves a viewer protocol (the nginx RTMP module has no HTTP-FLV). */
export function supports(server: ServerName, protocol: Protocol): boolean {
  return server !== 'nginx-rtmp' || protocol === 'rtmp';
}

/** Connections nginx keeps besides the viewers: the publisher, and slack for closing ones. */
const NGINX_CONNECTION_SLACK = 256;

/**
 * nginxRtmpConfig: one worker, not a daemon (the master stays our child, so we own its PID), an
 * RTMP application `live` with the module's defaults except `wait_key on` (a player starts at a
 * keyframe; onair and Node-Media-Server send their cached GOP instead). worker_connections is
 * sized to the step's viewers, as an operator would.
 */
export function nginxRtmpConfig(o: { prefix: string; port: number; viewers: number; module?: string }): string {
  const connections = Math.max(1024, o.viewers + NGINX_CONNECTION_SLACK);
  return `load_module ${o.module ?? NGINX_RTMP_MODULE};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile ${connections + 64};
error_log ${o.prefix}/error.log warn;
pid ${o.prefix}/nginx.pid;
events { worker_connections ${connections}; }
rtmp {
  server {
    listen 127.0.0.1:${o.port};
    application live {
      live on;
      wait_key on;
    }
  }
}
`;
}

/** childPids: the direct children of a process (from /proc; empty if it is gone). */
export function childPids(pid: number, proc = '/proc'): number[] {
  const out: number[] = [];
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`${proc}/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}
