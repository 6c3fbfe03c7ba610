// Server captions through the real media path: ffmpeg publishes over RTMP, the hub feeds the
// audio tap (one ffmpeg decoder), the sliding-window loop runs a scripted recogniser (no
// real whisper weights can be fetched here), cues reach a centrifuge client and the
// recording's captions-{lang}.vtt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Centrifuge } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { parseVtt } from '../../src/formats/webvtt.js';
import { ScriptedRecogniser, type Phrase } from '../../testkit/fake-recogniser.js';
import { sleep, until } from '../../testkit/wait.js';
import { listen } from '../../testkit/listen.js';


test('captions over RTMP: hub audio → ffmpeg tap → windows → captions:{channel} and the recording .vtt', async (t) => {
  // The recorder attaches its own folder through its captions dep (attachRecording); this test attaches one itself.
  const s: TestServer = await startTestServer({ 'captions.stepMs': 2000, 'captions.lengthMs': 8000, 'record.enabled': false });
  let ffmpeg: ChildProcess | undefined;
  const clients: Centrifuge[] = [];
  const recDir = mkdtempSync(join(tmpdir(), 'onair-rec-'));
  t.after(async () => {
    for (const c of clients) c.disconnect();
    if (ffmpeg?.pid && ffmpeg.exitCode === null) process.kill(ffmpeg.pid, 'SIGKILL');
    await s.close();
    rmSync(recDir, { recursive: true, force: true });
  });
  const captions = s.app.captions;
  assert.ok(captions, 'captions are wired into the media role');
  const admin = s.secrets.adminToken;
  assert.equal((await s.api('POST', '/api/v1/users', { username: 'host', password: 'password123' }, admin)).status, 201);
  const owner = (await s.api('POST', '/api/v1/auth/login', { username: 'host', password: 'password123' })).body.token as string;
  const created = await s.api('POST', '/api/v1/channels', { name: 'talk' }, owner);

  // Stream time starts near 0 with ffmpeg's RTMP timestamps; the script speaks in it.
  const script: Phrase[] = [
    { text: 'hello everyone', startMs: 1500, endMs: 3000 },
    { text: 'welcome to the stream', startMs: 5000, endMs: 7000 },
  ];
  let rec: ScriptedRecogniser | undefined;
  captions.setRecogniserFactory(async () => (rec = new ScriptedRecogniser(script)));

  // Captions toggled on before the stream: they start with it.
  const on = await s.api('POST', '/api/v1/channels/talk/captions', { enabled: true, engine: 'whisper', language: 'en' }, owner);
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.deepEqual([on.body.captions.enabled, on.body.captions.running], [true, false]);

  const { client: c, received } = await listen(s.httpPort, 'captions:talk');
  clients.push(c);

  ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=220',
    '-t', '11', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-c:a', 'aac', '-ar', '44100',
    '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${created.body.streamKey}`,
  ], { stdio: 'ignore' });
  await until(async () => (await s.api('GET', '/api/v1/channels/talk/captions')).body.captions.running === true, 20_000, 'captions running');
  captions.attachRecording('talk', { dir: recDir, startMs: 0 });
  const ended = new Promise((r) => captions.once('sessionEnd', r));
  await until(() => ffmpeg.exitCode !== null, 30_000, 'publisher done');
  await Promise.race([ended, sleep(20_000)]);

  assert.ok(rec && rec.calls.length >= 3, `windows run: ${rec?.calls.length}`);
  await until(() => received.filter((d) => d.type === 'final').length >= 2, 5000, 'final cues');
  const finals = received.filter((d) => d.type === 'final');
  assert.deepEqual(finals.map((d) => d.text), script.map((p) => p.text), JSON.stringify(received));
  for (const [i, f] of finals.entries()) {
    assert.equal(f.lang, 'en');
    assert.ok(Math.abs(f.startMs - script[i]!.startMs) < 500 && Math.abs(f.endMs - script[i]!.endMs) < 500, `${f.text} at ${f.startMs}-${f.endMs}`);
  }
  const vttPath = join(recDir, 'captions-en.vtt');
  assert.ok(existsSync(vttPath), `captions saved with the recording (${JSON.stringify(captions.state('talk'))})`);
  const vtt = parseVtt(readFileSync(vttPath, 'utf8'));
  assert.deepEqual(vtt.cues.map((x) => x.text), script.map((p) => p.text));
  const st = (await s.api('GET', '/api/v1/channels/talk/captions')).body.captions;
  assert.deepEqual([st.live, st.running, st.cues], [false, false, 2]);
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  assert.match(metrics, /onair_captions_delay_seconds_count\{engine="whisper"\} 2/);
  assert.match(metrics, /onair_captions_active\{engine="whisper"\} 0/);
});
