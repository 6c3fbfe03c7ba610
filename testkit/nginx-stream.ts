// nginx's stream module as the RTMP balancer of docs/nginx/rtmp-stream.conf, in front of onair
// nodes on loopback: the shipped file with only its upstream addresses and listen port replaced
// (testkit/shipped-conf.ts), run through testkit/nginx.ts.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { mainConf, nginxPrefix, NGINX_MODULES, startNginx, type NginxProcess } from './nginx.js';
import { replaceOnce, shippedConf } from './shipped-conf.js';

const SHIPPED = 'nginx/rtmp-stream.conf';
const STREAM_MODULE_FILE = 'ngx_stream_module.so';

export interface NginxStream extends NginxProcess {
  port: number;
}

/** startNginxStream runs the shipped RTMP stream config in front of `upstreams` (host:rtmpPort each). */
export async function startNginxStream(upstreams: string[]): Promise<NginxStream> {
  if (!existsSync(join(NGINX_MODULES, STREAM_MODULE_FILE))) throw new Error(`${STREAM_MODULE_FILE} not found (Debian package libnginx-mod-stream)`);
  const dir = nginxPrefix('stream');
  const port = await freePort();
  let conf = shippedConf(SHIPPED).text;
  conf = replaceOnce(conf, /^ {8}server 10\.0\.0\.11:1935 (.*)\n {8}server 10\.0\.0\.12:1935 .*\n/m, upstreams.map((u) => `        server ${u} $1\n`).join(''), SHIPPED);
  conf = replaceOnce(conf, 'listen 1935;', `listen 127.0.0.1:${port};`, SHIPPED);
  writeFileSync(join(dir, 'rtmp-stream.conf'), conf);
  const main = `${mainConf(dir, { modules: [STREAM_MODULE_FILE], errorLevel: 'info' })}include ${dir}/rtmp-stream.conf;
`;
  return { ...(await startNginx(dir, main, port, 'nginx (RTMP stream)')), port };
}
