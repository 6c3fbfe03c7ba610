// test-runs-alone: real GStreamer and ffmpeg publishers against live streams, with decode deadlines
/**
 * Interop, the ingest half (issue 20 #2, #3, #5, #7): publishers onair had not been tried with.
 *  - GStreamer RTMP (flvmux ! rtmp2sink) losing 5 % of its AAC buffers writes header-only AAC tags;
 *    they are dropped at ingest and counted, and the LL-HLS output decodes without an error.
 *  - ffmpeg x264 with yuv444p (High 4:4:4 Predictive) goes live with a warning for the owner.
 *  - GStreamer rtspclientsink with its defaults (RTP over UDP, AAC as MP4A-LATM): the FLV output has AAC audio.
 *  - RTSP over UDP: ffmpeg publishes with -rtsp_transport udp; ffprobe and GStreamer rtspsrc play over UDP;
 *    the port pairs are released when the sessions end.
 * One server for the file (each test its own channel).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';

let s: TestServer;
const children: ChildProcess[] = [];

before(async () => {
  s = await startTestServer({ 'record.enabled': false });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await s.close();
});

/** start spawns a publisher or reader, killed at the end of the file if still running; stderr is kept. */
function start(cmd: string, args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (c: Buffer) => { if (err.length < 20_000) err += c.toString(); });
  return { child, stderr: () => err };
}

/** run waits for a tool to exit (never spawnSync: the server lives in this process). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function owned(name: string): Promise<{ token: string; key: string }> {
  const token = (await s.api('POST', '/api/v1/auth/register', { username: `${name}owner`, password: 'correct-horse-9' })).body.token;
  const c = await s.api('POST', '/api/v1/channels', { name }, token);
  assert.equal(c.status, 201);
  return { token, key: c.body.streamKey };
}

test('GStreamer RTMP losing 5 % of its audio buffers: empty AAC tags dropped and counted, LL-HLS decodes cleanly', { timeout: 120_000 }, async () => {
  const { token, key } = await owned('gstdrop');
  // identity drops whole AAC buffers after the encoder; flvmux then writes header-only AAC tags.
  const gst = start('gst-launch-1.0', ['-q',
    'flvmux', 'name=m', 'streamable=true', '!', 'rtmp2sink', `location=rtmp://127.0.0.1:${s.rtmpPort}/live/${key}`,
    'videotestsrc', 'is-live=true', '!', 'video/x-raw,width=320,height=180,framerate=25/1', '!', 'x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', 'key-int-max=25', '!', 'video/x-h264,profile=main', '!', 'queue', '!', 'm.',
    'audiotestsrc', 'is-live=true', 'samplesperbuffer=1024', '!', 'audio/x-raw,rate=44100', '!', 'voaacenc', '!', 'identity', 'drop-probability=0.05', '!', 'queue', '!', 'm.',
  ]);
  const live = await until(async () => {
    const d = (await s.api('GET', '/api/v1/channels/gstdrop/live', undefined, token)).body;
    return d.live && d.audio && (d.droppedFrames.empty_payload ?? 0) >= 2 && d;
  }, 40_000, `gstdrop live with dropped empty AAC frames (gst: ${gst.stderr()})`);
  assert.equal(live.audio.codec, 'aac');
  assert.deepEqual(Object.keys(live.droppedFrames), ['empty_payload']);
  const metrics = String((await s.api('GET', '/metrics')).body);
  const m = /onair_ingest_dropped_frames_total\{protocol="rtmp",reason="empty_payload"\} (\d+)/.exec(metrics);
  assert.ok(m && Number(m[1]) >= 2, 'the metric counts them');
  // The public answers do not show them.
  assert.doesNotMatch(JSON.stringify((await s.api('GET', '/api/v1/channels/gstdrop')).body), /droppedFrames|empty_payload/);

  await until(async () => {
    const r = await fetch(`http://127.0.0.1:${s.httpPort}/live/gstdrop/source/playlist.m3u8`);
    return r.status === 200 && (await r.text()).split('#EXTINF').length > 3;
  }, 30_000, 'three LL-HLS segments');
  // ffmpeg decodes 6 s of the LL-HLS output with no error line (with the empty samples kept, it cannot read it at all).
  const dec = await run('ffmpeg', ['-v', 'error', '-i', `http://127.0.0.1:${s.httpPort}/live/gstdrop/index.m3u8`, '-t', '6', '-fps_mode', 'passthrough', '-f', 'null', '-'], 60_000);
  assert.equal(dec.status, 0, dec.stderr);
  // Decoder and demuxer errors only: the null muxer may still note a repeated timestamp of GStreamer's (not a decode error).
  assert.doesNotMatch(dec.stderr, /Error while decoding|Invalid argument|Invalid data|error reading|corrupt/i, 'decode errors');
  gst.child.kill('SIGINT');
});

test('ffmpeg x264 in yuv444p (High 4:4:4 Predictive): live, with a warning for the owner', { timeout: 60_000 }, async () => {
  const { token, key } = await owned('yuv444');
  const ff = start('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '30',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv444p', '-g', '25', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${key}`]);
  const live = await until(async () => {
    const d = (await s.api('GET', '/api/v1/channels/yuv444/live', undefined, token)).body;
    return d.live && d.video && d;
  }, 30_000, `yuv444 live (ffmpeg: ${ff.stderr()})`);
  assert.deepEqual(live.warnings, [{ code: 'video_profile_unplayable_in_browsers', params: { codec: 'avc', profile: 244, profileName: 'High 4:4:4 Predictive' } }]);
  assert.deepEqual(live.droppedFrames, {});
  ff.child.kill('SIGKILL');
});

test('GStreamer rtspclientsink with defaults (UDP, AAC as MP4A-LATM): live with AAC audio, which the FLV output carries and ffmpeg decodes', { timeout: 90_000 }, async () => {
  const { token, key } = await owned('gstlatm');
  const gst = start('gst-launch-1.0', ['-q',
    // Defaults: rtspclientsink sets up UDP first (issue 20 #5) and payloads AAC with rtpmp4apay (LATM).
    'rtspclientsink', 'name=s', `location=rtsp://127.0.0.1:${s.ports.rtsp}/live/${key}`,
    'videotestsrc', 'is-live=true', '!', 'video/x-raw,width=320,height=180,framerate=25/1', '!', 'x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', 'key-int-max=25', '!', 'video/x-h264,profile=main', '!', 's.sink_0',
    'audiotestsrc', 'is-live=true', '!', 'voaacenc', '!', 's.sink_1',
  ]);
  const live = await until(async () => {
    const d = (await s.api('GET', '/api/v1/channels/gstlatm/live', undefined, token)).body;
    return d.live && d.video && d;
  }, 40_000, `gstlatm live (gst: ${gst.stderr()})`);
  assert.deepEqual(live.audio, { codec: 'aac', codecString: 'mp4a.40.2', sampleRate: 44100, channels: 1 });
  assert.deepEqual(live.droppedTracks, []);
  const flv = `http://127.0.0.1:${s.httpPort}/live/gstlatm.flv`;
  const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', flv], 30_000);
  assert.equal(probe.status, 0, probe.stderr);
  const streams = (JSON.parse(probe.stdout) as { streams: { codec_type: string; codec_name: string; sample_rate?: string }[] }).streams;
  assert.deepEqual(streams.map((x) => `${x.codec_type} ${x.codec_name}`).sort(), ['audio aac', 'video h264']);
  const dec = await run('ffmpeg', ['-v', 'error', '-i', flv, '-t', '3', '-map', '0:a', '-f', 'null', '-'], 30_000);
  assert.equal(dec.status, 0, dec.stderr);
  // Decoder errors only (the null muxer may note a timestamp a fraction of a millisecond back at the start).
  assert.doesNotMatch(dec.stderr, /Error while decoding|Invalid argument|Invalid data|corrupt/i);
  gst.child.kill('SIGINT');
});

test('RTSP over UDP: ffmpeg publishes, ffprobe and GStreamer rtspsrc play, port pairs released at the end', { timeout: 120_000 }, async () => {
  const { token, key } = await owned('udpch');
  const pub = start('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '40',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-f', 'rtsp', '-rtsp_transport', 'udp', `rtsp://127.0.0.1:${s.ports.rtsp}/live/${key}`]);
  const live = await until(async () => {
    const d = (await s.api('GET', '/api/v1/channels/udpch/live', undefined, token)).body;
    return d.live && d.video && d.audio && d;
  }, 30_000, `udpch live (ffmpeg: ${pub.stderr()})`);
  assert.equal(live.publisher.protocol, 'rtsp');
  const rtsp = s.app.rtsp;
  assert.ok(rtsp?.udpPorts);
  assert.equal(rtsp.udpPorts.inUse.size, 2, 'one port pair per published track');
  const url = `rtsp://127.0.0.1:${s.ports.rtsp}/live/udpch`;

  const probe = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'udp', '-show_streams', '-of', 'json', url], 30_000);
  assert.equal(probe.status, 0, probe.stderr);
  const streams = (JSON.parse(probe.stdout) as { streams: { codec_type: string; codec_name: string }[] }).streams;
  assert.deepEqual(streams.map((x) => `${x.codec_type} ${x.codec_name}`).sort(), ['audio aac', 'video h264']);

  // rtspsrc with UDP only: 50 decoded frames reach the sink (it ends the pipeline with EOS, exit 0).
  const gst = await run('gst-launch-1.0', ['-q', 'rtspsrc', `location=${url}`, 'protocols=udp', '!', 'rtph264depay', '!', 'h264parse', '!', 'avdec_h264', '!', 'fakesink', 'num-buffers=50'], 40_000);
  assert.equal(gst.status, 0, gst.stderr);
  await until(async () => rtsp.udpPorts?.inUse.size === 2, 10_000, 'the players\' port pairs released');

  pub.child.kill('SIGINT');
  await until(async () => !(await s.api('GET', '/api/v1/channels/udpch/live', undefined, token)).body.live, 20_000, 'udpch offline');
  await until(async () => rtsp.udpPorts?.inUse.size === 0, 10_000, 'the publisher\'s port pairs released');
});
