// An nginx-rtmp server for tests (an independent RTMP implementation): one `live` application,
// on a free loopback port, run through testkit/nginx.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { mainConf, nginxPrefix, NGINX_MODULES, startNginx, type NginxProcess } from './nginx.js';

export { portOpen } from './nginx.js';

const RTMP_MODULE_FILE = 'ngx_rtmp_module.so';
export const NGINX_RTMP_MODULE = join(NGINX_MODULES, RTMP_MODULE_FILE);

export interface NginxRtmp extends NginxProcess {
  port: number;
}

/** startNginxRtmp runs nginx with one live application `app` (idle streams dropped) and waits until it listens. */
export async function startNginxRtmp(app = 'sink'): Promise<NginxRtmp> {
  if (!existsSync(NGINX_RTMP_MODULE)) throw new Error(`${NGINX_RTMP_MODULE} not found (Debian package libnginx-mod-rtmp)`);
  const dir = nginxPrefix('rtmp');
  const port = await freePort();
  const conf = `${mainConf(dir, { modules: [RTMP_MODULE_FILE], errorLevel: 'info', connections: 64 })}rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application ${app} {
      live on;
      idle_streams off;
    }
  }
}
`;
  return { ...(await startNginx(dir, conf, port, 'nginx-rtmp')), port };
}
