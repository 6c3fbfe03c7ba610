// A whole onair in a child node process (startTestServer there): for tests that need separate
// processes, e.g. nodes of different roles sharing Redis and PostgreSQL, or a server whose RSS and
// crashes must be its own. stop() ends the child by its PID and waits for it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER_HELPER = fileURLToPath(new URL('./server.ts', import.meta.url));
const STOP_TIMEOUT_MS = 10_000;

export interface ChildServer {
  child: ChildProcess;
  httpUrl: string;
  ports: Record<string, number>;
  pusherKey: string;
  /** stop asks the server to stop (SIGTERM), then kills it if it has not exited in 10 s. */
  stop(): Promise<void>;
}

/** startChildServer runs startTestServer(overrides) in a child node process and reads its addresses from one JSON line. */
export async function startChildServer(overrides: Record<string, unknown>): Promise<ChildServer> {
  const code = `
    const { startTestServer } = await import(${JSON.stringify(SERVER_HELPER)});
    const s = await startTestServer(${JSON.stringify(overrides)});
    console.log(JSON.stringify({ httpUrl: 'http://127.0.0.1:' + s.httpPort, ports: s.ports, pusherKey: s.secrets.pusherKey }));
    process.on('SIGTERM', () => { void s.close().then(() => process.exit(0)); });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ONAIR_LOG_LEVEL: 'silent' } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`the server exited (${String(c)}) before it listened`)));
  });
  return {
    child,
    ...(JSON.parse(first) as Omit<ChildServer, 'child' | 'stop'>),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(t);
    },
  };
}
