// A throwaway redis-server for tests and benchmarks: a free loopback port, a temp dir, no
// persistence; stop() kills it by PID and removes the dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const READY_TIMEOUT_MS = 10_000;

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** startRedis runs redis-server until it says it is ready to accept connections. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'onair-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('redis-server did not start')), READY_TIMEOUT_MS);
      proc.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('Ready to accept connections')) {
          clearTimeout(t);
          resolve();
        }
      });
      proc.once('error', (err) => { clearTimeout(t); reject(err); });
      proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`redis-server exited with ${code}`)); });
    });
  } catch (err) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
