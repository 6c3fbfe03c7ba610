/**
 * Looping ffmpeg publishers for whole-server tests: the 1 s H.264 + AAC fixture, in real time,
 * stream-copied (no encoding: cheap on a loaded machine). Every process is tracked so a test's
 * `after` can end the ones still running, by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const LOOP_FIXTURE = new URL('../test/fixtures/media/h264-aac-640x360.flv', import.meta.url).pathname;

export class LoopPublishers {
  readonly running = new Set<ChildProcess>();

  /** start publishes the fixture to an RTMP URL until killed. */
  start(url: string): ChildProcess {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', LOOP_FIXTURE, '-c', 'copy', '-f', 'flv', url], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.running.add(p);
    p.on('exit', () => this.running.delete(p));
    return p;
  }

  killAll(): void {
    for (const p of this.running) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
  }
}

/** exited resolves with a process's exit code once it has exited, or rejects after `ms`. */
export function exited(p: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
    const t = setTimeout(() => reject(new Error('ffmpeg did not exit')), ms);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}
