#!/usr/bin/env node
// Runs every test file under test/ with node's test runner and tsx, so tests use the TypeScript sources.
// Usage: node scripts/test.mjs [filter...]  (filters match file paths)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.test\.(ts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, '--test-timeout=300000', ...files];
const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, ONAIR_LOG_LEVEL: process.env.ONAIR_LOG_LEVEL ?? 'silent' } });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
