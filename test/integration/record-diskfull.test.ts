/**
 * Disk full while recording, on a whole server: the recordings directory is a 512 KB tmpfs
 * (needs root; skipped otherwise). A 640x360 RTMP publish fills it within seconds: the
 * recording stops with ENOSPC in the metrics, while HTTP-FLV and LL-HLS delivery go on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startTestServer } from '../../testkit/server.js';
import { publish, sleep, waitFor } from '../../testkit/record.js';

function mountTmpfs(dir: string, size: string): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return false;
  } catch {
    return 'cannot mount tmpfs here';
  }
}

test('disk full while recording: live delivery goes on, the error is counted', { timeout: 120_000 }, async (t) => {
  // The free-disk floor (record.minFreeBytes) would refuse a 512 KiB disk before it fills: this test is about ENOSPC itself.
  const s = await startTestServer({ 'record.fsyncIntervalMs': 100, 'record.minFreeBytes': 0 });
  const recordings = join(s.dataDir, 'recordings');
  const skip = mountTmpfs(recordings, '512k');
  if (skip) {
    await s.close();
    t.skip(skip);
    return;
  }
  t.after(async () => {
    await s.close().catch(() => undefined);
    try { execFileSync('umount', ['-l', recordings]); } catch { /* already gone */ }
  });
  const base = `http://127.0.0.1:${s.httpPort}`;
  const hub = s.app.media!.hub;
  const ff = publish(s.rtmpPort!, s.demoStreamKey!, 14);
  t.after(() => { if (ff.exitCode === null) ff.kill('SIGKILL'); });
  // An HTTP-FLV viewer for the whole session.
  let flvBytes = 0;
  const viewer = await waitFor('flv viewer', async () => {
    const r = await fetch(`${base}/live/demo.flv`);
    return r.status === 200 ? r : undefined;
  }, 30_000);
  const reading = (async () => {
    const reader = viewer.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      flvBytes += value.length;
    }
  })().catch(() => undefined);

  await waitFor('ENOSPC counted', async () => /onair_recording_errors_total\{reason="ENOSPC"\} [1-9]/.test(await (await fetch(`${base}/metrics`)).text()), 40_000);
  // After the disk filled up: the stream is still live and still delivering.
  const bytesAtError = flvBytes;
  /** msnAt is the number of the newest complete segment of the source playlist. */
  const msnAt = async () => {
    const pl = await (await fetch(`${base}/live/demo/source/playlist.m3u8`)).text();
    return Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(pl)?.[1] ?? -1) + pl.split('#EXTINF').length - 1;
  };
  const segmentsAtError = await msnAt();
  await sleep(4000);
  assert.ok(hub.isLive('demo'), 'the publisher was not dropped');
  assert.ok(flvBytes > bytesAtError + 20_000, `the HTTP-FLV viewer kept receiving (${bytesAtError} → ${flvBytes} bytes)`);
  assert.ok((await msnAt()) > segmentsAtError, 'LL-HLS kept producing segments');
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /onair_recordings_active 0/, 'the recording was stopped');
  // The VOD row says why.
  await waitFor('publisher done', async () => ff.exitCode !== null, 30_000);
  const vods = await waitFor('recording row finished', async () => {
    const r = await s.api('GET', '/api/v1/vods?channel=demo&state=all');
    const v = r.body.vods?.[0];
    return v && (v.state === 'ready' || v.state === 'failed') ? v : undefined;
  }, 30_000);
  assert.match(String(vods.error), /ENOSPC|no space/i);
  await reading;
});
