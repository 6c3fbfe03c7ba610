// The npm package installs and runs: `npm pack` of the built tree, a global install into a temp
// prefix with --omit=optional (whisper is an optional peer, so nothing compiles whisper.cpp —
// npm ignores --omit for global tarball installs, npm/cli#8284), then the installed `onair serve`
// answers /healthz and serves the web app, and exits on SIGTERM. Install scripts are skipped and
// better-sqlite3's native addon is copied from this tree (same version, same Node): compiling it
// again takes minutes (its prebuilt binaries come from GitHub, which this machine cannot reach)
// and would test better-sqlite3's build, not onair's package.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../testkit/ports.js';
import { until } from '../../testkit/wait.js';
import { exited } from '../../testkit/ffmpeg-loop.js';

const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 180_000;
const dir = mkdtempSync(join(tmpdir(), 'onair-pack-'));
let server: ChildProcess | undefined;

after(() => {
  if (server?.exitCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('npm pack → global install (--omit=optional) → onair serve answers /healthz and the web app', { timeout: INSTALL_TIMEOUT_MS + 60_000 }, async (t) => {
  assert.ok(existsSync('dist/cli.js') && existsSync('dist/web/index.html'), 'the tree is built (npm test builds first)');
  // --ignore-scripts: the tree is already built; prepack would build it again.
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { maxBuffer: 16 << 20 });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack made a tarball');
  const prefix = join(dir, 'prefix');
  const started = Date.now();
  await run('npm', ['install', '-g', '--prefix', prefix, '--omit=optional', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)], { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 << 20 });
  t.diagnostic(`global install took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const installed = join(prefix, 'lib', 'node_modules', 'onair');
  cpSync('node_modules/better-sqlite3/build/Release/better_sqlite3.node', join(installed, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'));
  assert.ok(!existsSync(join(installed, 'node_modules', 'smart-whisper')), 'whisper is not installed');
  assert.ok(!existsSync(join(installed, 'test')) && !existsSync(join(installed, 'src')), 'the package holds the build, not the sources and tests');

  const port = await freePort();
  const data = join(dir, 'data');
  let out = '';
  server = spawn(join(prefix, 'bin', 'onair'), ['serve'], {
    env: { PATH: process.env.PATH, HOME: dir, ONAIR_DATA_DIR: data, ONAIR_HOST: '127.0.0.1', ONAIR_HTTP_PORT: String(port), ONAIR_RTMP_PORT: '0', ONAIR_MEDIA_SRT_PORT: '0', ONAIR_MEDIA_RTSP_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  server.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const health = await until(async () => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
    return r?.ok ? ((await r.json()) as { status: string; roles: string[] }) : undefined;
  }, 60_000, `the installed onair to answer /healthz (output: ${out.slice(-500)})`);
  assert.equal(health.status, 'ok');
  assert.deepEqual(health.roles, ['media', 'chat', 'api', 'web', 'worker']);
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html lang="ko">/);
  assert.match(out, /onair is live/);
  server.kill('SIGTERM');
  assert.equal(await exited(server, 20_000), 0, out.slice(-500));
});
