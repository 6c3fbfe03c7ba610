// Two onair media nodes behind the load balancers shipped in docs/ (docs/load-balancing.md), on
// loopback, for the load-balancer test and the failure drill (bench/cluster-drill.ts): node A runs
// in this process, node B is an `onair serve` process so it can be killed with SIGKILL. Both take
// RTMP only with the PROXY protocol from the balancers. In front: nginx's stream module for RTMP,
// HAProxy for HTTP (and RTMP), and optionally the nginx LL-HLS cache. publishOnA publishes through
// nginx's stream module until the channel's publisher sits on A (the node that is never killed).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, TEST_CLUSTER_SECRET, type TestServer } from './server.js';
import { freePort } from './ports.js';
import { until } from './wait.js';
import type { LoopPublishers } from './ffmpeg-loop.js';
import { startOnairProcess, type OnairProcess } from './onair-process.js';
import { startNginxStream, type NginxStream } from './nginx-stream.js';
import { startNginxHlsCache, type NginxHls } from './nginx-hls.js';
import { startHaproxy, type Haproxy } from './haproxy.js';

/** How many publishes through nginx may land on B before publishOnA gives up. */
const PUBLISH_ATTEMPTS = 4;
const LIVE_TIMEOUT_MS = 15_000;

export interface BalancedPair {
  A: TestServer;
  B: OnairProcess;
  nginxStream: NginxStream;
  haproxy: Haproxy;
  nginxHls?: NginxHls;
  adminToken: string;
  /** liveOnB asks B whether it holds the channel's publisher. */
  liveOnB(channel: string): Promise<boolean>;
  stop(): Promise<void>;
}

export interface BalancedPairOptions {
  dbUrl: string;
  redisUrl: string;
  adminToken: string;
  /** Also start the nginx LL-HLS cache (docs/nginx/ll-hls-cache.conf). */
  hlsCache?: boolean;
}

/** startBalancedPair starts A, B and the balancers; stop() stops what started, in reverse. */
export async function startBalancedPair(o: BalancedPairOptions): Promise<BalancedPair> {
  const started: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s().catch(() => undefined);
  };
  try {
    const [portA, portB] = [await freePort(), await freePort()];
    const A = await startTestServer({
      roles: ['media', 'api'],
      'http.port': portA,
      'database.url': o.dbUrl,
      'redis.url': o.redisUrl,
      'media.control.advertiseUrl': `http://127.0.0.1:${portA}`,
      'media.control.liveRefreshSeconds': 0.5,
      'media.proxyProtocol.enabled': true,
      'media.proxyProtocol.trusted': ['127.0.0.1'],
      adminToken: o.adminToken,
    });
    started.push(() => A.close());
    const dataDirB = mkdtempSync(join(tmpdir(), 'onair-pair-b-'));
    started.push(async () => rmSync(dataDirB, { recursive: true, force: true }));
    const B = await startOnairProcess({
      ONAIR_ROLES: 'media,api',
      ONAIR_DATA_DIR: dataDirB,
      ONAIR_HTTP_PORT: String(portB),
      ONAIR_DATABASE_URL: o.dbUrl,
      ONAIR_REDIS_URL: o.redisUrl,
      ONAIR_CLUSTER_SECRET: TEST_CLUSTER_SECRET,
      ONAIR_MEDIA_CONTROL_ADVERTISE_URL: `http://127.0.0.1:${portB}`,
      ONAIR_MEDIA_CONTROL_LIVE_REFRESH_SECONDS: '0.5',
      ONAIR_MEDIA_PROXY_PROTOCOL_ENABLED: 'true',
      ONAIR_MEDIA_PROXY_PROTOCOL_TRUSTED: '127.0.0.1',
      ONAIR_ADMIN_TOKEN: o.adminToken,
    });
    started.push(() => B.kill());
    const nodes = [{ httpPort: A.httpPort, rtmpPort: A.rtmpPort }, { httpPort: B.httpPort, rtmpPort: B.rtmpPort }] as const;
    const nginxStream = await startNginxStream(nodes.map((n) => `127.0.0.1:${n.rtmpPort}`));
    started.push(() => nginxStream.stop());
    const haproxy = await startHaproxy(nodes);
    started.push(() => haproxy.stop());
    let nginxHls: NginxHls | undefined;
    if (o.hlsCache) {
      const n = await startNginxHlsCache(nodes.map((x) => `127.0.0.1:${x.httpPort}`));
      nginxHls = n;
      started.push(() => n.stop());
    }
    const liveOnB = async (channel: string) => {
      const r = await fetch(`http://127.0.0.1:${B.httpPort}/api/v1/streams`, { headers: { authorization: `Bearer ${o.adminToken}` } });
      const body = (await r.json()) as { streams: { channel: string; node?: string }[]; node?: string };
      return body.streams.some((x) => x.channel === channel && x.node === body.node);
    };
    return { A, B, nginxStream, haproxy, ...(nginxHls ? { nginxHls } : {}), adminToken: o.adminToken, liveOnB, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * publishOnA publishes `key` through nginx's stream module and returns the ffmpeg process once the
 * channel is live on A. nginx picks the node; a publish that lands on B is ended and made again
 * (least_conn with no other load alternates), at most PUBLISH_ATTEMPTS times.
 */
export async function publishOnA(pair: BalancedPair, publishers: LoopPublishers, channel: string, key: string): Promise<ChildProcess> {
  for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
    const p = publishers.start(`rtmp://127.0.0.1:${pair.nginxStream.port}/live/${key}`);
    const on = await until(async () => (pair.A.app.media?.hub.isLive(channel) ? 'A' : (await pair.liveOnB(channel)) ? 'B' : false), LIVE_TIMEOUT_MS, `${channel} live on A or B, published through nginx`);
    if (on === 'A') return p;
    p.kill('SIGKILL');
    await until(async () => !(await pair.liveOnB(channel)), LIVE_TIMEOUT_MS, `${channel} ended on B`);
  }
  throw new Error(`${PUBLISH_ATTEMPTS} publishes of ${channel} through nginx all landed on B`);
}
