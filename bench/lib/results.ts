/**
 * Where benchmark results go. Every scenario writes its JSON (and anything else it produces)
 * under one directory:
 *
 *   --out DIR (where a scenario parses flags)  >  $BENCH_RESULTS_DIR  >  bench/results
 *
 * A relative BENCH_RESULTS_DIR or --out is taken from the current directory; the default is the
 * repository's bench/results whatever the current directory. Smoke runs (CI) point
 * BENCH_RESULTS_DIR at a temp directory so they never overwrite the committed results.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable naming the results directory. */
export const RESULTS_DIR_ENV = 'BENCH_RESULTS_DIR';

/** The repository root (bench/lib/../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The committed results directory, used when neither --out nor BENCH_RESULTS_DIR is given. */
export const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'bench/results');

/**
 * resultsDir resolves the results directory once: `out` (a scenario's --out DIR) wins over
 * $BENCH_RESULTS_DIR, which wins over bench/results. Absolute path; not created here.
 */
export function resultsDir(out?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = out || env[RESULTS_DIR_ENV];
  return chosen ? resolve(chosen) : DEFAULT_RESULTS_DIR;
}

/** resultsPath: a file name inside the results directory (see resultsDir). */
export function resultsPath(file: string, out?: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(resultsDir(out, env), file);
}

/**
 * writeResultJson writes `data` as pretty JSON to `path`, creating the directory. The bytes go to
 * `path.tmp` first and are renamed over `path`, so a run killed mid-write never leaves a
 * truncated file (and a reader never sees half a file). Returns the path.
 */
export function writeResultJson(path: string, data: unknown): string {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n');
  renameSync(tmp, path);
  return path;
}

/** argValue reads `--name VALUE` or `--name=VALUE` from argv (undefined when absent). */
export function argValue(name: string, argv: readonly string[] = process.argv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}
