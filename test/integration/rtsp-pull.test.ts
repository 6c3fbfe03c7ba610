/**
 * RTSP pull relays against a real RTSP server (onair's own): ffmpeg publishes `demo` over RTMP,
 * a relay pulls rtsp://127.0.0.1:{rtspPort}/live/demo into `cam1`; cam1 goes live with h264 + aac,
 * HTTP-FLV of cam1 probes and decodes cleanly; killing the publisher sends the relay to
 * reconnecting and a new publish brings cam1 back by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, stdout, stderr });
    });
  });
}

/** ffmpeg publishing a ~2 Mb/s 640x360 H.264 (High, B-frames) + AAC test stream over RTMP. */
function publishRtmp(port: number, key: string, seconds: number): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'high', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p', '-b:v', '2000k', '-maxrate', '2000k', '-bufsize', '2000k',
    '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${key}`], { stdio: 'ignore' });
}

function kill(p: ChildProcess | undefined): void {
  if (p && p.exitCode === null && p.pid) p.kill('SIGKILL');
}

function cam(s: TestServer, name: string) {
  return s.app.media!.stats().find((c) => c.channel === name);
}

test('a pull relay of rtsp://onair/live/demo makes cam1 live (h264 + aac), survives the source going away and comes back', async () => {
  const s = await startTestServer();
  const rtspPort = s.ports.rtsp!;
  const key = s.demoStreamKey ?? s.secrets.demoStreamKey!;
  const media = s.app.media!;
  let ff: ChildProcess | undefined;
  try {
    ff = publishRtmp(s.rtmpPort!, key, 60);
    await until(() => cam(s, 'demo')?.video && cam(s, 'demo')?.audio, 20_000, 'demo live with both tracks');

    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const info = media.startRelay({ direction: 'pull', channel: 'cam1', url: `rtsp://127.0.0.1:${rtspPort}/live/demo` });
    const relayState = () => media.listRelays().find((r) => r.id === info.id)!;
    await until(() => cam(s, 'cam1')?.video && cam(s, 'cam1')?.audio, 20_000, 'cam1 live with both tracks');
    const liveMs = Date.now() - t0;
    const c1 = cam(s, 'cam1')!;
    assert.equal(c1.publisher?.protocol, 'relay');
    assert.equal(relayState().state, 'running');
    assert.equal(relayState().connects, 1);

    const flv = `http://127.0.0.1:${s.httpPort}/live/cam1.flv`;
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height,sample_rate', '-of', 'json', flv], 20_000);
    const streams = JSON.parse(probe.stdout || '{"streams":[]}').streams as { codec_name: string; width?: number; height?: number; sample_rate?: string }[];
    assert.deepEqual(streams.map((x) => x.codec_name).sort(), ['aac', 'h264'], probe.stderr);
    assert.equal(streams.find((x) => x.codec_name === 'h264')!.width, 640);
    assert.equal(streams.find((x) => x.codec_name === 'aac')!.sample_rate, '44100');
    const dec = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', flv, '-t', '3', '-f', 'null', '-'], 30_000);
    assert.equal(dec.code, 0);
    assert.equal(dec.stderr.trim(), '', `decode errors: ${dec.stderr.slice(0, 500)}`);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = Date.now() - t0;
    console.log(`# rtsp pull: relay start → cam1 live ${liveMs} ms; server process CPU (RTMP ingest + RTSP play + RTSP pull + FLV viewers) ${(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(1)}% over ${wallMs} ms; loadavg ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

    // The source goes away: the relay reconnects (waiting, with the reason) and cam1 goes offline.
    kill(ff);
    await until(() => relayState().state === 'waiting' && !media.hub.isLive('cam1'), 20_000, 'relay reconnecting, cam1 offline');
    assert.ok(relayState().lastError, 'the relay says why');
    // A new publish: cam1 comes back by itself.
    ff = publishRtmp(s.rtmpPort!, key, 60);
    await until(() => cam(s, 'cam1')?.video && cam(s, 'cam1')?.audio && relayState().state === 'running', 45_000, 'cam1 back after republish');
    assert.ok(relayState().connects >= 2);
    const again = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', flv, '-t', '2', '-f', 'null', '-'], 30_000);
    assert.equal(again.stderr.trim(), '', `decode errors after reconnect: ${again.stderr.slice(0, 500)}`);
    assert.equal(await media.stopRelay(info.id), true);
    await until(() => !media.hub.isLive('cam1'), 10_000, 'cam1 offline after the relay stops');
  } finally {
    kill(ff);
    await s.close();
  }
});
