/**
 * The onair media role alone, for the fan-out benchmark: RTMP in, HTTP-FLV / RTMP out.
 * Usage: node --import tsx bench/lib/onair-server.ts RTMP_PORT HTTP_PORT
 * Prints one JSON line {"rtmpPort","httpPort"} when ready; SIGTERM stops it.
 */
import { Registry } from 'prom-client';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createMediaService } from '../../src/media/index.js';
import { buildHttpApp } from '../../src/http/app.js';
import { LOOPBACK_LIMITS } from './loopback-limits.js';

const [rtmpPort, httpPort] = process.argv.slice(2).map(Number);
const config = loadConfig({ env: {}, file: '/dev/null', overrides: { host: '127.0.0.1', 'rtmp.port': rtmpPort ?? 0, ...LOOPBACK_LIMITS } });
const media = createMediaService({
  config,
  logger: silentLogger(),
  registry: new Registry(),
  streamKeys: { resolve: async (key) => ({ channel: key }) },
});
// The real HTTP app, not a bare Fastify: its request hooks are part of what a viewer costs, and the
// per-address limits read the client address it computes (a bare app would leave it unset).
const { app, addUpgradeHandler } = buildHttpApp({ logger: silentLogger(), bodyLimitBytes: config.http.bodyLimitBytes });
media.registerHttp(app);
addUpgradeHandler((req, socket, head) => media.handleUpgrade(req, socket, head));
const started = await media.start();
await app.listen({ port: httpPort ?? 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(JSON.stringify({ rtmpPort: started.rtmpPort, httpPort: typeof address === 'object' && address ? address.port : 0 }) + '\n');
process.on('SIGTERM', () => {
  void media.stop().then(() => app.close()).then(() => process.exit(0));
});
