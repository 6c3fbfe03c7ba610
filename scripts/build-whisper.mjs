#!/usr/bin/env node
// Rebuilds the smart-whisper addon (whisper.cpp) with the SIMD extensions this CPU has.
// node-gyp compiles whisper.cpp without -mavx2/-mfma/-mf16c, which makes inference several
// times slower; we detect the features from /proc/cpuinfo and pass only those present, so
// the binary never uses an instruction the machine lacks. Run by `npm ci` (postinstall) and
// by hand: node scripts/build-whisper.mjs [--force]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** cpuinfo flag → compiler flag; order matters only for readability. */
const FEATURES = [['avx', '-mavx'], ['avx2', '-mavx2'], ['fma', '-mfma'], ['f16c', '-mf16c']];

function cpuFlags() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

let pkgDir;
try {
  pkgDir = dirname(createRequire(import.meta.url).resolve('smart-whisper/package.json'));
} catch {
  console.log('build-whisper: smart-whisper is not installed; the whisper captions engine is unavailable');
  process.exit(0);
}
if (process.arch !== 'x64') {
  console.log(`build-whisper: ${process.arch}: keeping the default build`);
  process.exit(0);
}
const have = cpuFlags();
const flags = FEATURES.filter(([f]) => have.has(f)).map(([, flag]) => flag);
const marker = join(pkgDir, 'build', 'onair-simd.json');
const addon = join(pkgDir, 'build', 'Release', 'smart-whisper.node');
const wanted = JSON.stringify({ flags });
if (!process.argv.includes('--force') && existsSync(addon) && existsSync(marker) && readFileSync(marker, 'utf8') === wanted) {
  console.log(`build-whisper: already built with [${flags.join(' ')}]`);
  process.exit(0);
}
if (flags.length === 0 && existsSync(addon)) {
  writeFileSync(marker, wanted);
  console.log('build-whisper: CPU has none of AVX/AVX2/FMA/F16C; keeping the default build');
  process.exit(0);
}
const extra = ['-O3', ...flags].join(' ');
console.log(`build-whisper: rebuilding smart-whisper with ${extra}`);
const env = { ...process.env, CFLAGS: `${process.env.CFLAGS ?? ''} ${extra}`.trim(), CXXFLAGS: `${process.env.CXXFLAGS ?? ''} ${extra}`.trim() };
const started = Date.now();
try {
  execFileSync('npm', ['rebuild', 'smart-whisper', '--no-audit', '--no-fund'], { cwd: join(dirname(new URL(import.meta.url).pathname), '..'), env, stdio: ['ignore', 'ignore', 'inherit'] });
} catch (err) {
  console.error(`build-whisper: rebuild failed (${err.message}); the whisper engine keeps its previous build, if any`);
  process.exit(0);
}
writeFileSync(marker, wanted);
console.log(`build-whisper: done in ${Math.round((Date.now() - started) / 1000)} s`);
