import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { childPids, nginxRtmpConfig, parseProtocols, parseServers, supports } from '../../../bench/lib/fanout-peers.js';

test('parseServers: all, both, comma lists, nginx aliases; unknown names fail', () => {
  assert.deepEqual(parseServers('all'), ['onair', 'nms', 'nginx-rtmp']);
  assert.deepEqual(parseServers('both'), ['onair', 'nms']);
  assert.deepEqual(parseServers('onair,nginx'), ['onair', 'nginx-rtmp']);
  assert.deepEqual(parseServers('nginx-rtmp,nginx'), ['nginx-rtmp']);
  assert.throws(() => parseServers('srs'), /unknown server "srs"/);
  assert.deepEqual(parseProtocols('both'), ['flv', 'rtmp']);
  assert.deepEqual(parseProtocols('rtmp'), ['rtmp']);
  assert.throws(() => parseProtocols('hls'), /unknown protocol/);
});

test('supports: nginx-rtmp serves RTMP players only', () => {
  assert.equal(supports('nginx-rtmp', 'rtmp'), true);
  assert.equal(supports('nginx-rtmp', 'flv'), false);
  assert.equal(supports('onair', 'flv'), true);
  assert.equal(supports('nms', 'rtmp'), true);
});

test('nginxRtmpConfig: one worker under a non-daemon master, connections sized to the viewers, live app with wait_key', () => {
  const c = nginxRtmpConfig({ prefix: '/tmp/p', port: 1935, viewers: 5000, module: '/m.so' });
  assert.match(c, /^load_module \/m\.so;/);
  assert.match(c, /daemon off;/);
  assert.match(c, /master_process on;/);
  assert.match(c, /worker_processes 1;/);
  assert.match(c, /worker_connections 5256;/);
  assert.match(c, /worker_rlimit_nofile 5320;/);
  assert.match(c, /listen 127\.0\.0\.1:1935;/);
  assert.match(c, /application live \{\s+live on;\s+wait_key on;\s+\}/);
  assert.match(c, /pid \/tmp\/p\/nginx\.pid;/);
  assert.match(nginxRtmpConfig({ prefix: '/tmp/p', port: 1, viewers: 5 }), /worker_connections 1024;/);
});

test('childPids finds the direct children of a process', async () => {
  const parent = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { stdio: 'ignore' });
  try {
    let kids: number[] = [];
    for (let i = 0; i < 100 && kids.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      kids = childPids(parent.pid!);
    }
    assert.equal(kids.length, 2);
    assert.ok(!kids.includes(parent.pid!));
    assert.deepEqual(childPids(2 ** 22 + 1), []);
    for (const k of kids) process.kill(k, 'SIGKILL');
  } finally {
    parent.kill('SIGKILL');
  }
});
