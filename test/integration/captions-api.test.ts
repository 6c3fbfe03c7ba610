// Captions through the whole server: RTMP publish, the captions REST API (auth, validation,
// rate limit, toggle), a centrifuge SDK client on captions:{channel}, and the .vtt download.
import { pocketsphinxMissing } from '../../src/captions/engines/pocketsphinx.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Centrifuge } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { parseVtt } from '../../src/formats/webvtt.js';
import { until } from '../../testkit/wait.js';
import { listen } from '../../testkit/listen.js';


test('captions API: browser cues reach a centrifuge client on captions:{channel}; auth, validation, toggle, .vtt', async (t) => {
  const s: TestServer = await startTestServer();
  let ffmpeg: ChildProcess | undefined;
  const clients: Centrifuge[] = [];
  t.after(async () => {
    for (const c of clients) c.disconnect();
    if (ffmpeg?.pid) process.kill(ffmpeg.pid, 'SIGKILL');
    await s.close();
  });
  const admin = s.secrets.adminToken;
  const login = async (username: string) => {
    assert.equal((await s.api('POST', '/api/v1/users', { username, password: 'password123' }, admin)).status, 201);
    return (await s.api('POST', '/api/v1/auth/login', { username, password: 'password123' })).body.token as string;
  };
  const owner = await login('host');
  const viewer = await login('viewer');
  const created = await s.api('POST', '/api/v1/channels', { name: 'stage' }, owner);
  assert.equal(created.status, 201);
  assert.equal((await s.api('POST', '/api/v1/channels', { name: 'quiet' }, owner)).status, 201);

  // Publish a live stream (H.264 + AAC sine) so cues have a timeline.
  ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-f', 'lavfi', '-i', 'sine',
    '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-c:a', 'aac',
    '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${created.body.streamKey}`,
  ], { stdio: 'ignore' });
  await until(async () => (await s.api('GET', '/api/v1/channels/stage')).body.channel.stream.live === true, 20_000, 'stream live');

  // A viewer subscribes to captions:stage with the official SDK.
  const chatToken = (await s.api('POST', '/api/v1/chat/token', undefined, viewer)).body.token as string;
  const { client: c, sub, received } = await listen(s.httpPort, 'captions:stage', chatToken);
  clients.push(c);
  // Viewers may not publish captions themselves.
  await assert.rejects(sub.publish({ type: 'final', text: 'fake' }));

  const cues = '/api/v1/channels/stage/captions/cues';
  // Auth: anonymous 401, a non-manager 403.
  assert.equal((await s.api('POST', cues, { text: 'x', final: true })).status, 401);
  assert.equal((await s.api('POST', cues, { text: 'x', final: true }, viewer)).status, 403);
  // Malformed cues.
  for (const bad of [{ final: true }, { text: '', final: true }, { text: 'x' }, { text: 'x', final: true, lang: 'Korean!' }, { text: 'x', final: true, startMs: 10, endMs: 5 }, { text: 'x'.repeat(501), final: true }, { text: 'x', final: true, extra: 1 }, { text: '   ', final: true }]) {
    const r = await s.api('POST', cues, bad, owner);
    assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.status} ${JSON.stringify(r.body)}`);
  }
  // Not live: refused.
  assert.equal((await s.api('POST', '/api/v1/channels/quiet/captions/cues', { text: 'x', final: true }, owner)).status, 409);

  // The studio's Web Speech flow: interim results, then the final one.
  const i1 = await s.api('POST', cues, { text: '안녕', final: false, lang: 'ko-KR' }, owner);
  assert.equal(i1.status, 202, JSON.stringify(i1.body));
  const f1 = await s.api('POST', cues, { text: '안녕하세요 여러분', final: true, lang: 'ko-KR' }, owner);
  assert.equal(f1.status, 202);
  assert.equal(f1.body.cue.id, i1.body.cue.id, 'the final replaces its interim');
  await until(() => received.length >= 2, 5000, 'cues on captions:stage');
  assert.deepEqual(received.map((d) => [d.type, d.text, d.lang]), [['interim', '안녕', 'ko-KR'], ['final', '안녕하세요 여러분', 'ko-KR']]);
  assert.ok(received[1].endMs >= received[1].startMs && received[1].startMs >= 0);

  // The live session's cues as WebVTT.
  const vtt = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1/channels/stage/captions.vtt?lang=ko-KR`);
  assert.equal(vtt.status, 200);
  assert.match(vtt.headers.get('content-type') ?? '', /text\/vtt/);
  assert.deepEqual(parseVtt(await vtt.text()).cues.map((x) => x.text), ['안녕하세요 여러분']);

  // Toggle: whisper without a model is refused with the command that fixes it; browser mode is accepted.
  const w = await s.api('POST', '/api/v1/channels/stage/captions', { enabled: true, engine: 'whisper', language: 'ko' }, owner);
  assert.equal(w.status, 503, JSON.stringify(w.body));
  assert.match(JSON.stringify(w.body), /onair captions model download base/);
  // pocketsphinx is English only: Korean is refused with its own error code.
  const ps = await s.api('POST', '/api/v1/channels/stage/captions', { enabled: true, engine: 'pocketsphinx', language: 'ko' }, owner);
  assert.deepEqual([ps.status, ps.body.error?.code], [422, 'unsupported_language'], JSON.stringify(ps.body));
  assert.equal((await s.api('POST', '/api/v1/channels/stage/captions', { enabled: true, engine: 'vosk' }, owner)).status, 400);
  assert.equal((await s.api('POST', '/api/v1/channels/stage/captions', { enabled: true }, viewer)).status, 403);
  const b = await s.api('POST', '/api/v1/channels/stage/captions', { enabled: true, engine: 'browser', language: 'ko-KR' }, owner);
  assert.equal(b.status, 200);
  assert.deepEqual([b.body.captions.enabled, b.body.captions.engine, b.body.captions.running, b.body.captions.live], [true, 'browser', false, true]);
  const st = await s.api('GET', '/api/v1/channels/stage/captions');
  // The engines offered: pocketsphinx only where its binary and model are installed.
  const psReady = pocketsphinxMissing(s.config.captions.pocketsphinx) === undefined;
  assert.deepEqual(st.body.engines, ['browser', 'whisper', ...(psReady ? ['pocketsphinx'] : [])]);
  assert.equal(st.body.captions.cues, 1);
  assert.equal((await s.api('POST', '/api/v1/channels/stage/captions', { enabled: false }, owner)).body.captions.enabled, false);

  // Profanity: cue text goes through the channel's word filter, like chat (masked words; blocked ones masked too).
  assert.ok((await s.api('POST', '/api/v1/channels/stage/moderation/filters', { word: 'darn', action: 'mask' }, owner)).status < 300);
  assert.ok((await s.api('POST', '/api/v1/channels/stage/moderation/filters', { word: 'blimey', action: 'block' }, owner)).status < 300);
  const m1 = await s.api('POST', cues, { text: 'oh darn it', final: true, lang: 'en' }, owner);
  assert.equal(m1.status, 202, JSON.stringify(m1.body));
  assert.doesNotMatch(m1.body.cue.text, /darn/);
  assert.match(m1.body.cue.text, /^oh \*+ it$/);
  const m2 = await s.api('POST', cues, { text: 'well blimey', final: true, lang: 'en' }, owner);
  assert.equal(m2.body.cue.text, 'well ***');
  await until(() => received.some((d) => d.text === 'well ***'), 5000, 'masked cues on captions:stage');
  assert.ok(!received.some((d) => /darn|blimey/.test(d.text)), JSON.stringify(received));
  const enVtt = await (await fetch(`http://127.0.0.1:${s.httpPort}/api/v1/channels/stage/captions.vtt?lang=en`)).text();
  assert.deepEqual(parseVtt(enVtt).cues.map((x) => x.text), [m1.body.cue.text, 'well ***']);

  // Rate limit: a burst beyond the bucket gets 429.
  const codes: number[] = [];
  for (let i = 0; i < 30; i++) codes.push((await s.api('POST', cues, { text: `spam ${i}`, final: true }, owner)).status);
  assert.ok(codes.includes(429), codes.join(','));
  assert.ok(codes.filter((x) => x === 202).length >= 15);

  // Metrics are exposed.
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  assert.match(metrics, /onair_captions_cues_total\{engine="browser",type="final"\}/);
  assert.match(metrics, /onair_captions_active/);
});
