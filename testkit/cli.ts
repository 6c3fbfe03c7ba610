import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

let cached: string[] | undefined;

/**
 * onairCommand is how tests run the `onair` command: the built dist/cli.js when it is newer
 * than every source file (npm test builds first; plain node starts far faster), else the
 * TypeScript sources through tsx.
 */
export function onairCommand(): string[] {
  if (cached) return cached;
  const built = 'dist/cli.js';
  cached = existsSync(built) && statSync(built).mtimeMs >= newestMtime('src') ? [built] : ['--import', 'tsx', 'src/cli.ts'];
  return cached;
}

export interface CliResult { code: number | null; stdout: string; stderr: string; timedOut: boolean }

/** runOnair runs one onair command to completion (bounded by timeoutMs). */
export function runOnair(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...onairCommand(), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const t = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr, timedOut }); });
  });
}
