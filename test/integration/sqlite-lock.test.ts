/**
 * Issue 19 #18: another process (the CLI, a backup script) holding SQLite's write lock must not
 * freeze the server. A child process holds a write transaction for 2 s; the server keeps answering
 * /healthz meanwhile, and its own write (a registration) waits without blocking and succeeds once
 * the lock is released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startTestServer } from '../../testkit/server.js';

const HOLD_MS = 2000;

/** The lock holder: a separate Node process with its own better-sqlite3 handle on the server's file. */
const HOLDER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
setTimeout(() => { db.exec('COMMIT'); process.stdout.write('released\\n'); db.close(); }, ${HOLD_MS});
`;

test('a write lock held by another process for 2 s leaves the server answering, and its write succeeds afterwards (#18)', async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const base = `http://127.0.0.1:${s.httpPort}`;

  const child = spawn(process.execPath, ['-e', HOLDER, join(s.dataDir, 'onair.db')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null) child.kill(); });
  let out = '';
  let releasedAt = 0;
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve();
      if (out.includes('released') && !releasedAt) releasedAt = Date.now();
    });
    child.on('exit', (code) => { if (!out.includes('locked')) reject(new Error(`lock holder exited ${code}`)); });
  });
  await locked;
  const lockedAt = Date.now();

  // The server's write must wait for the lock: start it, then check health while it waits.
  let registeredAt = 0;
  const registration = s.api('POST', '/api/v1/auth/register', { username: 'locked_out', password: 'correct-horse-9' })
    .then((r) => { registeredAt = Date.now(); return r; });

  const answers: number[] = [];
  while (Date.now() - lockedAt < HOLD_MS - 300) {
    const t0 = Date.now();
    const r = await fetch(`${base}/healthz`);
    assert.equal(r.status, 200);
    answers.push(Date.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.diagnostic(JSON.stringify({ answers, released: releasedAt ? releasedAt - lockedAt : 0 }));
  assert.equal(releasedAt, 0, 'the lock was still held while health answered');
  assert.ok(answers.length >= 3, `health answered ${answers.length} times while the lock was held`);
  t.diagnostic(`healthz while locked: ${answers.length} answers, slowest ${Math.max(...answers)} ms`);

  const r = await registration;
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.ok(releasedAt > 0 && registeredAt >= releasedAt, 'the registration finished after the lock was released');
  t.diagnostic(`registration finished ${registeredAt - releasedAt} ms after the release`);
});
