#!/usr/bin/env node
// npm run bench -- <scenario> [args...]: runs bench/<scenario>.ts with tsx. Scenarios are bounded
// loopback load tests that print a table and write JSON under bench/results/.
import { existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';

const [scenario, ...rest] = process.argv.slice(2);
const scenarios = readdirSync('bench').filter((f) => /^[a-z0-9-]+\.ts$/.test(f) && !/-(lib|loadgen|server|rawws)\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, ''));
if (!scenario || !existsSync(`bench/${scenario}.ts`)) {
  console.error(`usage: npm run bench -- <scenario> [options]\nscenarios: ${scenarios.join(', ')}`);
  process.exit(scenario ? 2 : 0);
}
const child = spawn('sh', ['-c', 'ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null; exec "$0" "$@"', process.execPath, '--import', 'tsx', `bench/${scenario}.ts`, ...rest], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));
