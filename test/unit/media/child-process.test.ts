// stopChild / killNow end only our own children, and only while they run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { isRunning, killNow, stopChild } from '../../../src/media/child-process.js';

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
  await new Promise((r) => stubborn.stdout!.once('data', r));
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
