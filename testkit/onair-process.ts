// A whole onair (`onair serve`) as a child process, for tests that must kill a node (SIGKILL
// leaves no chance to clean up, unlike stop()). Configured by ONAIR_* variables only.
import { spawn, type ChildProcess } from 'node:child_process';
import { onairCommand } from './cli.js';

const START_TIMEOUT_MS = 90_000;

export interface OnairProcess {
  proc: ChildProcess;
  httpPort: number;
  rtmpPort: number;
  /** kill ends the process with SIGKILL and waits for it to exit. */
  kill(): Promise<void>;
}

/** startOnairProcess runs `onair serve` on loopback with `env` and waits for its "listening" line (logged at info: keep ONAIR_LOG_LEVEL at info or below). */
export function startOnairProcess(env: Record<string, string>): Promise<OnairProcess> {
  const proc = spawn(process.execPath, [...onairCommand(), 'serve'], {
    env: { ...process.env, ONAIR_HOST: '127.0.0.1', ONAIR_HTTP_PORT: '0', ONAIR_RTMP_PORT: '0', ONAIR_MEDIA_SRT_PORT: '0', ONAIR_MEDIA_RTSP_PORT: '0', ONAIR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  };
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { void kill(); reject(new Error(`onair did not start\n${out.slice(-3000)}`)); }, START_TIMEOUT_MS);
    proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"httpPort":(\d+),"rtmpPort":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        out = '';
        for (const stream of [proc.stdout, proc.stderr]) {
          stream.removeAllListeners('data');
          stream.resume();
        }
        resolve({ proc, httpPort: Number(m[1]), rtmpPort: Number(m[2]), kill });
      }
    });
    proc.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`onair exited (${code ?? signal})\n${out.slice(-3000)}`)); });
  });
}
