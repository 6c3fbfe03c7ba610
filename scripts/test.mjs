#!/usr/bin/env node
// Runs every test file under test/ with node's test runner and tsx, so tests use the TypeScript sources.
// Usage: node scripts/test.mjs [filter...]  (filters match file paths)
//
// Two phases. Most files run TEST_CONCURRENCY (default 2) at a time. Files whose first lines say
// `test-runs-alone` measure timing (glass-to-glass latency, A/V skew at the live edge, a browser's
// adaptive switching) or generate heavy load themselves (the bench smoke); they run afterwards, one
// at a time, so one such file never measures the load another file makes.
import { existsSync, openSync, readFileSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const ALONE_MARK = 'test-runs-alone';
const HEAD_BYTES = 2048;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.test\.(ts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

function runsAlone(file) {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, n).toString('utf8').includes(ALONE_MARK);
  } finally {
    closeSync(fd);
  }
}

/**
 * ENV_FILE is what scripts/setup-debian.sh writes: the test PostgreSQL and Redis URLs. A variable
 * already set in the environment wins, so CI and developers can point tests elsewhere.
 */
const ENV_FILE = '.onair-test.env';
function testEnv() {
  const env = { ...process.env, ONAIR_LOG_LEVEL: process.env.ONAIR_LOG_LEVEL ?? 'silent' };
  if (!existsSync(ENV_FILE)) return env;
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m && env[m[1]] === undefined) env[m[1]] = m[2].trim();
  }
  return env;
}

function run(files, concurrency) {
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...files];
  return new Promise((resolve) => {
    // Load tests hold thousands of sockets: raise the descriptor limit (soft, up to the hard one) for the runner.
    const raise = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
    const child = spawn('/bin/sh', ['-c', raise, 'sh', process.execPath, ...args], { stdio: 'inherit', env: testEnv() });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const alone = files.filter(runsAlone);
const shared = files.filter((f) => !alone.includes(f));
let failed = 0;
if (shared.length > 0) failed |= await run(shared, process.env.TEST_CONCURRENCY ?? 2);
if (alone.length > 0) {
  console.log(`\n# ${alone.length} timing-sensitive file(s), one at a time: ${alone.join(' ')}\n`);
  failed |= await run(alone, 1);
}
process.exit(failed ? 1 : 0);
