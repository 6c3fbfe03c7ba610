#!/usr/bin/env node
// npm run bench -- <scenario> [args...]: runs bench/<scenario>.ts with tsx from the repository root.
// Scenarios are bounded loopback load tests that print a table and write JSON into the results
// directory: --out DIR where a scenario takes it, else $BENCH_RESULTS_DIR, else bench/results
// (see bench/lib/results.ts). Smoke runs set BENCH_RESULTS_DIR to a temp dir.
import { existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bench = join(root, 'bench');
const [scenario, ...rest] = process.argv.slice(2);
const scenarios = readdirSync(bench).filter((f) => /^[a-z0-9-]+\.ts$/.test(f) && !/-(lib|loadgen|server|rawws)\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, ''));
if (!scenario || !/^[a-z0-9-]+$/.test(scenario) || !existsSync(join(bench, `${scenario}.ts`))) {
  console.error(`usage: npm run bench -- <scenario> [options]\nscenarios: ${scenarios.join(', ')}\nresults: --out DIR, $BENCH_RESULTS_DIR or bench/results`);
  process.exit(scenario ? 2 : 0);
}
const child = spawn('sh', ['-c', 'ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null; exec "$0" "$@"', process.execPath, '--import', 'tsx', `bench/${scenario}.ts`, ...rest], { stdio: 'inherit', cwd: root });
// A stopped `npm run bench` stops its scenario (which stops the servers it started).
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
