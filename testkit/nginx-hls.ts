// Debian's nginx as the LL-HLS caching reverse proxy of docs/nginx/ll-hls-cache.conf, in front of
// onair nodes on loopback: the shipped file with only its upstream addresses, listen port and
// cache path replaced (testkit/shipped-conf.ts), run through testkit/nginx.ts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { httpTempPaths, mainConf, nginxPrefix, startNginx, type NginxProcess } from './nginx.js';
import { replaceOnce, shippedConf } from './shipped-conf.js';

const SHIPPED = 'nginx/ll-hls-cache.conf';
export const NGINX_HLS_CONF = shippedConf(SHIPPED).path;

export interface NginxHls extends NginxProcess {
  port: number;
  url: string;
  /** accessLog lists the requests nginx answered as "status cacheStatus upstream uri". */
  accessLog(): string[];
}

/** startNginxHlsCache runs the shipped LL-HLS cache config in front of `upstreams` (host:port each). */
export async function startNginxHlsCache(upstreams: string[]): Promise<NginxHls> {
  const dir = nginxPrefix('hls');
  const port = await freePort();
  let conf = shippedConf(SHIPPED).text;
  conf = replaceOnce(conf, /^ {4}server 10\.0\.0\.11:8080 (.*)\n {4}server 10\.0\.0\.12:8080 .*\n/m, upstreams.map((u) => `    server ${u} $1\n`).join(''), SHIPPED);
  conf = replaceOnce(conf, 'listen 80;', `listen 127.0.0.1:${port};`, SHIPPED);
  conf = replaceOnce(conf, '/var/cache/nginx/onair-hls', join(dir, 'cache'), SHIPPED);
  writeFileSync(join(dir, 'onair-ll-hls.conf'), conf);
  mkdirSync(join(dir, 'cache'));
  const main = `${mainConf(dir)}http {
  log_format onair '$status $upstream_cache_status $upstream_addr $request_uri';
  access_log ${dir}/access.log onair;
${httpTempPaths(dir)}
  include ${dir}/onair-ll-hls.conf;
}
`;
  const nginx = await startNginx(dir, main, port, 'nginx (LL-HLS cache)');
  return {
    ...nginx,
    port,
    url: `http://127.0.0.1:${port}`,
    accessLog: () => readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean),
  };
}
