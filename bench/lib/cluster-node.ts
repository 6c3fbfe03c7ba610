/**
 * One media node of the cluster benchmark (bench/cluster.ts), in its own process: a whole onair
 * with the media role on a shared SQLite file and Redis, advertising its loopback URL.
 * Usage: node --import tsx bench/lib/cluster-node.ts '{"httpPort":P,"db":URL,"redis":URL,"secret":S,"graceSeconds":G,"channel"?:NAME}'
 * Prints one JSON line {"httpPort","rtmpPort","pid","streamKey"?} when ready (streamKey when it
 * made the channel); SIGTERM stops it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startServer } from '../../src/server.js';
import { LOOPBACK_LIMITS } from './loopback-limits.js';

const o = JSON.parse(process.argv[2] ?? '{}') as { httpPort: number; db: string; redis: string; secret: string; graceSeconds: number; channel?: string };
const config = loadConfig({
  env: {},
  file: '/dev/null',
  overrides: {
    dataDir: mkdtempSync(join(tmpdir(), 'onair-cluster-node-')),
    host: '127.0.0.1', roles: ['media'], 'log.level': 'silent',
    'http.port': o.httpPort, 'rtmp.port': 0, 'media.srt.port': 0, 'media.rtsp.port': 0, 'media.webrtc.enabled': false,
    'database.url': o.db, 'redis.url': o.redis, 'cluster.secret': o.secret, 'cluster.edgeGraceSeconds': o.graceSeconds,
    'media.control.advertiseUrl': `http://127.0.0.1:${o.httpPort}`, 'media.control.liveRefreshSeconds': 0.5,
    ...LOOPBACK_LIMITS,
  },
});
const server = await startServer(config, { logger: silentLogger() });
let streamKey: string | undefined;
if (o.channel) {
  const owner = await server.platform.users.create({ username: 'bench', password: 'bench-password-1' });
  streamKey = (await server.platform.channels.create({ name: o.channel, ownerId: owner.id })).streamKey;
}
process.stdout.write(JSON.stringify({ httpPort: server.httpPort, rtmpPort: server.rtmpPort, pid: process.pid, ...(streamKey ? { streamKey } : {}) }) + '\n');
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
