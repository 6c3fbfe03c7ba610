// stopChild / killNow end only our own children, and only while they run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { isRunning, killNow, onChildGone, stopChild } from '../../../src/media/child-process.js';

test('stopChild: a child that ends on end of input is not signalled', async () => {
  const cat = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] });
  await stopChild(cat, { graceMs: 5000, term: false });
  assert.equal(cat.exitCode, 0, 'cat saw end of input and exited by itself');
  assert.equal(cat.signalCode, null);
});

test('stopChild: SIGTERM ends a sleeping child', async () => {
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  await stopChild(sleeper, { graceMs: 5000 });
  assert.equal(sleeper.signalCode, 'SIGTERM');
});

test('stopChild: a child that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  const stubborn = spawn('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((r) => stubborn.stdout.once('data', r));
  const t0 = Date.now();
  await stopChild(stubborn, { graceMs: 300 });
  assert.equal(stubborn.signalCode, 'SIGKILL');
  assert.ok(Date.now() - t0 >= 250, 'waited for the grace period first');
});

test('killNow and stopChild do nothing to a child that has exited', async () => {
  const quick = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => quick.once('exit', r));
  assert.equal(isRunning(quick), false);
  killNow(quick);
  await stopChild(quick, { graceMs: 10 });
  assert.equal(quick.exitCode, 0);
});

test('onChildGone: once, with the exit code or signal and the last lines of stderr; also when the binary is missing', async () => {
  const reasons: string[] = [];
  const failing = spawn('sh', ['-c', 'echo one >&2; echo two >&2; echo three >&2; exit 3'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((r) => onChildGone(failing, (why) => { reasons.push(why); r(); }));
  assert.deepEqual(reasons, ['exit code 3: two | three']);
  const killed = spawn('sleep', ['30'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const gone = new Promise<string>((r) => onChildGone(killed, r, 1));
  killNow(killed);
  assert.equal(await gone, 'killed by SIGKILL');
  const missing = spawn('/nonexistent/onair-no-such-binary', [], { stdio: ['ignore', 'ignore', 'pipe'] });
  const calls: string[] = [];
  await new Promise<void>((r) => onChildGone(missing, (why) => { calls.push(why); r(); }));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls.length, 1, 'called once although error and exit may both fire');
  assert.match(calls[0]!, /ENOENT/);
});
