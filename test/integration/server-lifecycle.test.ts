import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onairCommand, runOnair } from '../../testkit/cli.js';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const t = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr, timedOut }); });
  });
}

test('start and stop the whole server leaves no handle open (the process exits by itself)', async () => {
  const r = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/start-stop.ts'], {}, 120_000);
  assert.equal(r.timedOut, false, `process did not exit: a handle was left open\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(report.stopped, true);
  assert.deepEqual(report.left.filter((x: string) => !['PipeWrap', 'TTYWrap'].includes(x)), []);
});

/** waitForText waits until the child's stderr holds `text` (the banner follows the listening line). */
async function waitForText(out: { stderr: string }, text: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!out.stderr.includes(text) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

test('the onair command serves, answers healthz, and exits cleanly on SIGTERM', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-cli-'));
  try {
    const env = { ...process.env, ONAIR_DATA_DIR: dataDir, ONAIR_HTTP_PORT: '0', ONAIR_RTMP_PORT: '0', ONAIR_MEDIA_SRT_PORT: '0', ONAIR_HOST: '127.0.0.1', ONAIR_LOG_LEVEL: 'info' };
    const serve = async () => {
      const child = spawn(process.execPath, [...onairCommand(), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = { stdout: '', stderr: '' };
      child.stdout.on('data', (d) => (out.stdout += d));
      child.stderr.on('data', (d) => (out.stderr += d));
      const port = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no listening line\n${out.stdout}\n${out.stderr}`)), 90_000);
        child.stdout.on('data', () => {
          const m = /"httpPort":(\d+)/.exec(out.stdout);
          if (m) { clearTimeout(t); resolve(Number(m[1])); }
        });
      });
      return { child, port, out };
    };
    const { child, port, out } = await serve();
    const h = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(h.status, 200);
    // the first start prints the admin token and the demo channel's key; the key is not stored in plain text
    const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8'));
    assert.ok(out.stderr.includes(secrets.adminToken), 'banner shows the admin token');
    const demoKey = /demo key\s+(\S+)/.exec(out.stderr)?.[1];
    assert.ok(demoKey, 'banner shows the demo stream key');
    assert.equal(secrets.demoStreamKey, undefined);
    assert.ok(!readFileSync(join(dataDir, 'secrets.json'), 'utf8').includes(demoKey));
    assert.match(out.stdout, /"using ffmpeg"/);
    const stop = async (c: typeof child, o: typeof out) => {
      const exited = new Promise<number | null>((resolve) => c.on('exit', (code) => resolve(code)));
      c.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
      assert.equal(code, 0, `exit after SIGTERM: ${code}\n${o.stderr}`);
      assert.match(o.stdout, /"stopped"/);
    };
    await stop(child, out);
    // a later start prints neither secret again (issue 19 #9), only where the token lives
    const again = await serve();
    assert.equal((await fetch(`http://127.0.0.1:${again.port}/healthz`)).status, 200);
    await waitForText(again.out, 'admin token');
    assert.ok(!again.out.stderr.includes(secrets.adminToken), again.out.stderr);
    assert.ok(!again.out.stderr.includes(demoKey), again.out.stderr);
    assert.match(again.out.stderr, /admin token\s+in .*secrets\.json/);
    await stop(again.child, again.out);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('CLI: channel create/rotate-key, user create, token, config print', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-cli-'));
  const env = { ONAIR_DATA_DIR: dataDir };
  const cli = (...args: string[]) => runOnair(args, env);
  try {
    const u = await cli('user', 'create', 'jisoo', '--password', 'hunter2hunter2');
    assert.equal(u.code, 0, u.stderr);
    assert.equal(JSON.parse(u.stdout).username, 'jisoo');
    const c = await cli('channel', 'create', 'jisoo', '--owner', 'jisoo');
    assert.equal(c.code, 0, c.stderr);
    const created = JSON.parse(c.stdout);
    assert.equal(created.name, 'jisoo');
    assert.match(created.streamKey, /^live_/);
    // A key brought from another server (migration) is kept as given; a weak one is refused.
    const imported = await cli('channel', 'create', 'mina', '--stream-key', 'nms-encoder-key-0123456789');
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(JSON.parse(imported.stdout).streamKey, 'nms-encoder-key-0123456789');
    const weak = await cli('channel', 'create', 'mina2', '--stream-key', 'mina2');
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /streamKey/);
    const reused = await cli('channel', 'create', 'mina3', '--stream-key', 'nms-encoder-key-0123456789');
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /another channel already has this key/);
    const dup = await cli('channel', 'create', 'jisoo');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /conflict/);
    const r = await cli('channel', 'rotate-key', 'jisoo');
    assert.equal(r.code, 0, r.stderr);
    const newKey = r.stdout.trim();
    assert.match(newKey, /^live_/);
    assert.notEqual(newKey, created.streamKey);
    const t = await cli('token', '--user', 'jisoo', '--ttl', '120');
    assert.equal(t.code, 0, t.stderr);
    const [, payload] = t.stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    assert.equal(typeof claims.sub, 'string');
    assert.equal(claims.exp - claims.iat, 120);
    assert.deepEqual(claims.info.roles, { jisoo: ['owner'] });
    const p = await runOnair(['config', 'print'], { ...env, ONAIR_HTTP_PORT: '9999' });
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /port: 9999/);
    const bad = await runOnair(['config', 'print'], { ...env, ONAIR_RTMP_PORT: 'x' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /rtmp\.port/);
    const unknown = await cli('frobnicate');
    assert.equal(unknown.code, 2);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
