/**
 * kill -9 of a server process mid-recording: after restart on the same data dir the
 * recording is detected, finalised (faststart, playable) and becomes a ready VOD.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onairCommand } from '../../testkit/cli.js';
import { decodeErrors, probe, publish, sleep, topLevelBoxes, waitFor } from '../../testkit/record.js';

interface Child {
  proc: ChildProcess;
  httpPort: number;
  rtmpPort: number;
}

function serve(dataDir: string): Promise<Child> {
  const env = { ...process.env, ONAIR_DATA_DIR: dataDir, ONAIR_HTTP_PORT: '0', ONAIR_RTMP_PORT: '0', ONAIR_MEDIA_SRT_PORT: '0', ONAIR_HOST: '127.0.0.1', ONAIR_LOG_LEVEL: 'info' };
  const proc = spawn(process.execPath, [...onairCommand(), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start\n${out}`)), 90_000);
    proc.stderr.on('data', () => undefined);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /"httpPort":(\d+),"rtmpPort":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, httpPort: Number(m[1]), rtmpPort: Number(m[2]) });
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}\n${out}`)));
  });
}

test('kill -9 mid-recording → the next start finalises the recording and it plays', { timeout: 300_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'onair-crash-'));
  const procs: ChildProcess[] = [];
  t.after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const first = await serve(dataDir);
  procs.push(first.proc);
  const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as { adminToken: string };
  // The demo key is shown once and never stored: take a fresh one through the API.
  const rotated = await fetch(`http://127.0.0.1:${first.httpPort}/api/v1/channels/demo/stream-key/rotate`, { method: 'POST', headers: { authorization: `Bearer ${secrets.adminToken}` } });
  const { streamKey } = await rotated.json() as { streamKey: string };
  const ff = publish(first.rtmpPort, streamKey, 60);
  procs.push(ff);
  const api = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${secrets.adminToken}` } }).then((r) => r.json());
  const rec = await waitFor('recording in progress', async () => (await api(first.httpPort, '/api/v1/vods?state=all')).vods?.find((v: { state: string }) => v.state === 'recording'), 60_000);
  // Let ~5 s of fragments reach the disk, then kill the server without any chance to clean up.
  await sleep(5000);
  first.proc.kill('SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  ff.kill('SIGKILL');
  const dirs = (await import('node:fs')).readdirSync(join(dataDir, 'recordings', 'demo')).map((d) => join(dataDir, 'recordings', 'demo', d));
  assert.equal(dirs.length, 1, `one recording directory: ${dirs}`);
  const dir = dirs[0]!;
  assert.ok(existsSync(join(dir, 'recording.fmp4')), 'the crash left the fragmented file');
  assert.equal(existsSync(join(dir, 'source.mp4')), false);

  const second = await serve(dataDir);
  procs.push(second.proc);
  const vod = await waitFor('recovered VOD', async () => {
    const v = (await api(second.httpPort, `/api/v1/vods/${rec.id}`)).vod;
    return v && v.state !== 'recording' && v.state !== 'finalizing' ? v : undefined;
  }, 60_000);
  assert.equal(vod.state, 'ready', vod.error);
  const mp4 = join(dir, 'source.mp4');
  assert.deepEqual(topLevelBoxes(mp4), ['ftyp', 'moov', 'mdat']);
  const p = await probe(mp4);
  t.diagnostic(`recovered ${p.duration} s after ~5 s of recording`);
  assert.ok(p.duration >= 3 && p.duration <= 15, `recovered duration ${p.duration}`);
  assert.deepEqual(p.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
  assert.equal(await decodeErrors(mp4), '');
  assert.equal(existsSync(join(dir, 'recording.fmp4')), false, 'the fragmented file is removed once finalised');
  second.proc.kill('SIGTERM');
  await new Promise((r) => second.proc.once('exit', r));
});
