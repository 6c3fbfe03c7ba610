/**
 * A node on the embedded defaults never runs WebRTC until a viewer or publisher asks, nor Redis
 * unless redis.url is set: werift and ioredis stay out of its memory until then
 * (docs/benchmarks.md, "Idle memory"). Checked in a fresh process, where nothing else loaded them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

const PROBE = `
import { createRequire } from 'node:module';
await import('./src/server.ts');
await import('./src/features.ts');
const loaded = (name) => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/' + name + '/'));
if (process.argv[1] === 'use') {
  const { newRedis } = await import('./src/net/redis-client.ts');
  newRedis('redis://127.0.0.1:1', { lazyConnect: true }).disconnect();
  await import('./src/media/webrtc/session.ts');
}
console.log(JSON.stringify({ werift: loaded('werift'), ioredis: loaded('ioredis') }));
`;

async function probe(mode: string): Promise<{ werift: boolean; ioredis: boolean }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE, mode], { cwd: root, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { werift: boolean; ioredis: boolean };
}

test('loading the server and every feature loads neither werift nor ioredis', { timeout: 150_000 }, async () => {
  assert.deepEqual(await probe('start'), { werift: false, ioredis: false });
});

test('the first Redis client and the first WebRTC session load them (the probe can see a loaded library)', { timeout: 150_000 }, async () => {
  assert.deepEqual(await probe('use'), { werift: true, ioredis: true });
});
