/**
 * Ending the child processes we start (ffmpeg, pocketsphinx): by their own handle, so only our
 * own PIDs are signalled, and never after they are gone (a PID can be reused).
 */
import type { ChildProcess } from 'node:child_process';

/** isRunning is true until the child has exited or died of a signal. */
export function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** killNow sends SIGKILL if the child still runs. */
export function killNow(child: ChildProcess): void {
  if (!isRunning(child)) return;
  try {
    child.kill('SIGKILL');
  } catch {
    /* gone meanwhile */
  }
}

/**
 * stopChild asks a child to finish and makes sure it does: stdin is ended (ffmpeg then writes its
 * trailer and exits), SIGTERM is sent unless `term` is false, and SIGKILL follows after graceMs
 * if it still runs. Resolves once it has exited.
 */
export function stopChild(child: ChildProcess, o: { graceMs: number; term?: boolean }): Promise<void> {
  child.stdin?.end();
  if (!isRunning(child)) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (o.term !== false) child.kill('SIGTERM');
  const t = setTimeout(() => killNow(child), o.graceMs);
  t.unref();
  void exited.then(() => clearTimeout(t));
  return exited;
}

/** Bytes of a child's stderr kept for the reason it gives when it dies. */
const STDERR_TAIL_BYTES = 2048;

/**
 * onChildGone calls `gone` once, when the child exits or fails to start, with a reason: the exit
 * code or signal and the last `lines` lines of its stderr (which must be a pipe).
 */
export function onChildGone(child: ChildProcess, gone: (why: string) => void, lines = 2): void {
  let tail = '';
  child.stderr?.on('data', (c: Buffer) => {
    tail = (tail + c.toString()).slice(-STDERR_TAIL_BYTES);
  });
  let done = false;
  const finish = (code: number | null, signal: NodeJS.Signals | null) => {
    if (done) return;
    done = true;
    const why = signal ? `killed by ${signal}` : `exit code ${code}`;
    const t = tail.trim();
    gone(t ? `${why}: ${t.split('\n').slice(-lines).join(' | ')}` : why);
  };
  child.on('exit', finish);
  child.on('error', (err) => {
    tail += `\n${err.message}`;
    finish(null, null);
  });
}
