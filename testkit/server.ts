import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { silentLogger, type Logger } from '../src/observability/logger.js';
import { startServer, type RunningServer } from '../src/server.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** api calls /api/v1 with JSON and an optional bearer token. */
  api(method: string, path: string, body?: unknown, token?: string, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** The cluster secret test nodes share when they share Redis (a media node with redis.url needs one). */
export const TEST_CLUSTER_SECRET = 'test-cluster-secret-0123456789';

/** startTestServer runs a whole onair on random ports with a fresh data dir. */
export async function startTestServer(overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}, opts: { logger?: Logger } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-srv-'));
  // Nodes on one Redis form a cluster: give them the shared secret unless the test sets (or removes) it.
  const sharesRedis = overrides['redis.url'] !== undefined || env.ONAIR_REDIS_URL !== undefined;
  const cluster = sharesRedis && !('cluster.secret' in overrides) && !env.ONAIR_CLUSTER_SECRET ? { 'cluster.secret': TEST_CLUSTER_SECRET } : {};
  const config = loadConfig({ env, overrides: { dataDir, host: '127.0.0.1', 'http.port': 0, 'rtmp.port': 0, 'media.srt.port': 0, 'media.rtsp.port': 0, 'log.level': 'silent', ...cluster, ...overrides } });
  const server = await startServer(config, { logger: opts.logger ?? silentLogger() });
  const base = `http://127.0.0.1:${server.httpPort}`;
  return Object.assign(server, {
    dataDir,
    async api(method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}) {
      const h: Record<string, string> = { ...headers };
      if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
      if (token) h.authorization = `Bearer ${token}`;
      const res = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { /* keep text */ }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async close() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}
