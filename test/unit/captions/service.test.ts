import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { CaptionCapacityError, CaptionsService, EngineLanguageError, applyFilterVerdict } from '../../../src/captions/service.js';
import { assertEngineSupported, availableServerEngines } from '../../../src/captions/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { encodeAudioSpecificConfig } from '../../../src/formats/aac.js';
import { parseVtt } from '../../../src/formats/webvtt.js';
import type { AudioTrackInfo, MediaFrame, StreamHubApi, StreamSubscriber } from '../../../src/media/hub/types.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { CaptionCue, StreamingRecogniser } from '../../../src/captions/types.js';
import { ScriptedRecogniser, type Phrase } from '../../../testkit/fake-recogniser.js';
import { at } from '../../../testkit/at.js';

/** FakeHub is the part of the stream hub captions use, driven by the test. */
class FakeHub extends EventEmitter implements StreamHubApi {
  subs = new Map<string, Set<StreamSubscriber>>();
  live = new Set<string>();
  subscribe(channel: string, s: StreamSubscriber): () => void {
    const set = this.subs.get(channel) ?? new Set();
    set.add(s);
    this.subs.set(channel, set);
    return () => set.delete(s);
  }
  isLive(channel: string): boolean {
    return this.live.has(channel);
  }
  liveChannels(): string[] {
    return [...this.live];
  }
  start(channel: string): void {
    this.live.add(channel);
    this.emit('streamStart', channel);
  }
  end(channel: string): void {
    this.live.delete(channel);
    for (const s of this.subs.get(channel) ?? []) s.onEnd?.('publisher left');
    this.emit('streamEnd', channel, 'publisher left');
  }
  send(channel: string, f: (s: StreamSubscriber) => void): void {
    for (const s of this.subs.get(channel) ?? []) f(s);
  }
}

const RATE = 48000;
/** aacFrames asks ffmpeg for AAC-LC frames (ADTS stripped), as the hub would carry them. */
function aacFrames(seconds: number): Buffer[] {
  const adts = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=300:sample_rate=${RATE}:duration=${seconds}`, '-ac', '1', '-c:a', 'aac', '-b:a', '64k', '-f', 'adts', 'pipe:1'], { maxBuffer: 64 << 20 });
  const frames: Buffer[] = [];
  for (let i = 0; i + 7 <= adts.length;) {
    const len = ((at(adts, i + 3) & 3) << 11) | (at(adts, i + 4) << 3) | (at(adts, i + 5) >> 5);
    frames.push(adts.subarray(i + 7, i + len));
    i += len;
  }
  return frames;
}

const T0 = 20_000; // first audio dts
const SCRIPT: Phrase[] = [
  { text: '안녕하세요 여러분', startMs: T0 + 1000, endMs: T0 + 2800 },
  { text: '자막 테스트 입니다', startMs: T0 + 4500, endMs: T0 + 6500 },
  { text: 'the quick brown fox', startMs: T0 + 9000, endMs: T0 + 11_000 },
];

test('captions service: hub audio → ffmpeg → windows → cues on captions:{channel}, .vtt with the recording, metrics', async () => {
  const hub = new FakeHub();
  const registry = new Registry();
  const published: { channel: string; data: CaptionCue }[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'onair-cap-'));
  let rec: ScriptedRecogniser | undefined;
  const svc = new CaptionsService({
    logger: silentLogger(), hub, registry, ffmpegPath: 'ffmpeg',
    publisher: { publish: async (channel, data) => (published.push({ channel, data: data as CaptionCue }), {}) },
    stepMs: 3000, lengthMs: 10_000, defaultLanguage: 'ko', defaultEngine: 'whisper', autostart: false,
    createRecogniser: async () => (rec = new ScriptedRecogniser(SCRIPT)),
  });
  const ended = new Promise<[string, unknown[]]>((r) => svc.once('sessionEnd', (ch, tracks) => r([ch, tracks])));
  try {
    await svc.start();
    hub.start('demo');
    assert.equal(svc.state('demo').running, false, 'not enabled: nothing runs');
    const st = await svc.enable('demo', { engine: 'whisper', language: 'ko' });
    assert.equal(st.running, true);
    assert.equal(hub.subs.get('demo')?.size, 1, 'one hub subscription per channel');
    svc.attachRecording('demo', { dir, startMs: T0 });

    const info: AudioTrackInfo = { codec: 'aac', config: encodeAudioSpecificConfig(2, RATE, 1), sampleRate: RATE, channels: 1, codecString: 'mp4a.40.2' };
    hub.send('demo', (s) => s.onTracks?.(undefined, info));
    const frames = aacFrames(14);
    for (let i = 0; i < frames.length; i++) {
      const dts = Math.round(T0 + (i * 1024 * 1000) / RATE);
      const f: MediaFrame = { kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: at(frames, i) };
      hub.send('demo', (s) => s.onFrame(f));
      if (i % 40 === 0) await new Promise((r) => setTimeout(r, 15));
    }
    await new Promise((r) => setTimeout(r, 500));
    hub.end('demo');
    const [channel] = await ended;
    assert.equal(channel, 'demo');
  } finally {
    await svc.stop();
  }
  try {
    assert.ok(rec && rec.calls.length >= 3, `windows: ${rec?.calls.length}`);
    assert.ok(published.every((p) => p.channel === 'captions:demo'));
    const finals = published.filter((p) => p.data.type === 'final').map((p) => p.data);
    assert.deepEqual(finals.map((c) => c.text), SCRIPT.map((p) => p.text), 'one final cue per phrase');
    for (const [i, c] of finals.entries()) {
      assert.ok(Math.abs(c.startMs - at(SCRIPT, i).startMs) < 400 && Math.abs(c.endMs - at(SCRIPT, i).endMs) < 400, `cue ${c.text} at ${c.startMs}-${c.endMs}`);
      assert.equal(c.lang, 'ko');
    }
    // The recording gets captions-ko.vtt with times relative to its first frame.
    const vtt = parseVtt(readFileSync(join(dir, 'captions-ko.vtt'), 'utf8'));
    assert.deepEqual(vtt.cues.map((c) => c.text.replace(/\n/g, ' ')), SCRIPT.map((p) => p.text));
    assert.ok(Math.abs(at(vtt.cues, 0).startMs - 1000) < 400);
    const metrics = await registry.metrics();
    for (const m of ['onair_captions_active', 'onair_captions_realtime_factor', 'onair_captions_delay_seconds', 'onair_captions_dropped_audio_seconds_total']) assert.ok(metrics.includes(m), m);
    assert.match(metrics, /onair_captions_active\{engine="whisper"\} 0/);
    assert.match(metrics, /onair_captions_delay_seconds_count\{engine="whisper"\} 3/);
    assert.equal(svc.state('demo').cues, 3, 'cues stay readable after the stream');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('captions service: browser cues share the publication path; interim and final share an id', async () => {
  const hub = new FakeHub();
  const published: CaptionCue[] = [];
  const svc = new CaptionsService({
    logger: silentLogger(), hub, ffmpegPath: 'ffmpeg',
    publisher: { publish: async (_c, data) => (published.push(data as CaptionCue), {}) },
    stepMs: 3000, lengthMs: 10_000, defaultLanguage: 'ko', defaultEngine: 'whisper', autostart: false,
    createRecogniser: async () => { throw new Error('not used'); },
  });
  await svc.start();
  hub.start('web');
  const st = await svc.enable('web', { engine: 'browser', language: 'ko-KR' });
  assert.equal(st.running, false, 'browser captions run no server recogniser');
  assert.equal(st.engine, 'browser');
  hub.send('web', (s) => s.onFrame({ kind: 'video', codec: 'avc', dts: 50_000, pts: 50_000, keyframe: true, data: Buffer.alloc(1) }));
  const a = await svc.addBrowserCue('web', { text: '안녕', final: false, lang: 'ko-KR' });
  const b = await svc.addBrowserCue('web', { text: '안녕하세요  여러분', final: true, lang: 'ko-KR' });
  const c = await svc.addBrowserCue('web', { text: 'next', final: true, lang: 'ko-KR', startMs: 60_000, endMs: 61_000 });
  assert.equal(a.id, b.id);
  assert.notEqual(b.id, c.id);
  assert.equal(b.text, '안녕하세요 여러분');
  assert.ok(b.endMs >= 50_000 && b.endMs < 56_000 && b.startMs < b.endMs, `${b.startMs}-${b.endMs}`);
  assert.deepEqual([c.startMs, c.endMs], [60_000, 61_000]);
  assert.deepEqual(published.map((p) => p.type), ['interim', 'final', 'final']);
  assert.deepEqual(svc.track('web', 'ko-KR')?.cues.map((x) => x.text), ['안녕하세요 여러분', 'next']);
  await svc.stop();
});

test('captions service: a recogniser that cannot start leaves the channel without a runner; autostart uses the channel language', async () => {
  const hub = new FakeHub();
  const langs: string[] = [];
  const svc = new CaptionsService({
    logger: silentLogger(), hub, ffmpegPath: 'ffmpeg',
    stepMs: 3000, lengthMs: 10_000, defaultLanguage: 'ko', defaultEngine: 'whisper', autostart: true,
    channelLanguage: async (ch) => (ch === 'en-channel' ? 'en' : null),
    createRecogniser: async (_e, lang) => {
      langs.push(lang);
      throw new Error('whisper model "base" is not installed; run `onair captions model download base`');
    },
  });
  await svc.start();
  hub.start('en-channel');
  hub.start('ko-channel');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(langs.sort(), ['en', 'ko']);
  assert.equal(svc.state('en-channel').running, false);
  await assert.rejects(svc.enable('en-channel', { engine: 'whisper' }), /onair captions model download base/);
  await svc.stop();
});

test('captions service: autostart skips derived streams (live ABR renditions), which carry the source\'s audio', async () => {
  const hub = new FakeHub();
  const asked: string[] = [];
  const svc = new CaptionsService({
    logger: silentLogger(), hub, ffmpegPath: 'ffmpeg',
    stepMs: 3000, lengthMs: 10_000, defaultLanguage: 'en', defaultEngine: 'whisper', autostart: true,
    isDerivedStream: (ch) => ch.endsWith('_240p'),
    createRecogniser: async () => {
      throw new Error('no model here');
    },
    channelLanguage: async (ch) => {
      asked.push(ch);
      return null;
    },
  });
  await svc.start();
  hub.start('show');
  hub.start('show_240p');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(asked, ['show'], 'only the source stream is considered for captions');
  await svc.stop();
});

test('config: pocketsphinx is refused at start with the key named (non-English language, missing binary or model)', () => {
  // The default language is Korean: pocketsphinx is English only.
  const ko = loadConfig({ env: { ONAIR_CAPTIONS_ENGINE: 'pocketsphinx' } });
  assert.throws(() => assertEngineSupported(ko), (e: Error) => /captions\.language/.test(e.message) && /English only/.test(e.message));
  const noBinary = loadConfig({ env: { ONAIR_CAPTIONS_ENGINE: 'pocketsphinx', ONAIR_CAPTIONS_LANGUAGE: 'en' }, overrides: { 'captions.pocketsphinx.command': '/nonexistent/pocketsphinx_continuous' } });
  assert.throws(() => assertEngineSupported(noBinary), (e: Error) => /captions\.engine/.test(e.message) && /apt-get install pocketsphinx pocketsphinx-en-us/.test(e.message));
  const noModel = loadConfig({ env: { ONAIR_CAPTIONS_ENGINE: 'pocketsphinx', ONAIR_CAPTIONS_LANGUAGE: 'en' }, overrides: { 'captions.pocketsphinx.command': process.execPath, 'captions.pocketsphinx.lm': '/nonexistent/en-us.lm.bin' } });
  assert.throws(() => assertEngineSupported(noModel), (e: Error) => /captions\.pocketsphinx\.lm/.test(e.message) && /pocketsphinx-en-us/.test(e.message));
  assert.deepEqual(availableServerEngines(noBinary), ['whisper']);
  assert.doesNotThrow(() => assertEngineSupported(loadConfig({ env: {} })));
});

test('captions service: a streaming engine (pocketsphinx) gets the PCM and publishes through the same path; English only', async () => {
  const hub = new FakeHub();
  const registry = new Registry();
  const published: CaptionCue[] = [];
  let pushedMs = 0;
  let firstMs = NaN;
  let flushed = false;
  let closed = false;
  const streaming: StreamingRecogniser = {
    name: 'pocketsphinx', streaming: true,
    open: ({ language, idPrefix }, sink) => ({
      push(samples, startMs) {
        if (Number.isNaN(firstMs)) firstMs = startMs;
        pushedMs += samples.length / 16;
        if (pushedMs >= 2000 && published.length === 0) {
          sink.onCue({ type: 'final', id: `${idPrefix}1`, text: 'hello everyone', startMs: firstMs + 500, endMs: firstMs + 1500, lang: language });
          sink.onWindow?.({ audioMs: 2000, inferMs: 300 });
          sink.onDelay?.(700);
          sink.onError?.(new Error('pocketsphinx exited with 1: boom'));
        }
      },
      async flush() {
        flushed = true;
        sink.onCue({ type: 'final', id: `${idPrefix}2`, text: 'thank you for watching', startMs: firstMs + 3000, endMs: firstMs + 4000, lang: language });
      },
      close() {},
    }),
    close: async () => { closed = true; },
  };
  const svc = new CaptionsService({
    logger: silentLogger(), hub, registry, ffmpegPath: 'ffmpeg',
    publisher: { publish: async (_channel, data) => (published.push(data as CaptionCue), {}) },
    stepMs: 3000, lengthMs: 10_000, defaultLanguage: 'ko', defaultEngine: 'pocketsphinx', autostart: false,
    createRecogniser: async () => streaming,
  });
  try {
    await svc.start();
    hub.start('en-talk');
    // The default language is Korean: refused before anything starts.
    await assert.rejects(svc.enable('en-talk'), (e: Error) => e instanceof EngineLanguageError && /English only/.test(e.message));
    assert.equal(svc.state('en-talk').running, false);
    const st = await svc.enable('en-talk', { language: 'en' });
    assert.deepEqual([st.running, st.engine, st.language], [true, 'pocketsphinx', 'en']);
    const info: AudioTrackInfo = { codec: 'aac', config: encodeAudioSpecificConfig(2, RATE, 1), sampleRate: RATE, channels: 1, codecString: 'mp4a.40.2' };
    hub.send('en-talk', (s) => s.onTracks?.(undefined, info));
    const frames = aacFrames(4);
    for (let i = 0; i < frames.length; i++) {
      const dts = Math.round(T0 + (i * 1024 * 1000) / RATE);
      hub.send('en-talk', (s) => s.onFrame({ kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: at(frames, i) }));
      if (i % 40 === 0) await new Promise((r) => setTimeout(r, 15));
    }
    const deadline = Date.now() + 10_000;
    while (published.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(Math.abs(firstMs - T0) < 100, `PCM on the stream timeline: ${firstMs}`);
    const stats = svc.state('en-talk').stats!;
    assert.equal(stats.windows, 1);
    assert.equal(stats.lastRealtimeFactor, 0.15);
    assert.match(stats.lastError!, /boom/);
    hub.end('en-talk');
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await svc.stop();
  }
  assert.ok(flushed && closed, 'the stream end flushes the engine, then closes it');
  assert.deepEqual(published.map((c) => [c.type, c.text, c.lang]), [['final', 'hello everyone', 'en'], ['final', 'thank you for watching', 'en']]);
  assert.deepEqual(svc.tracks('en-talk').map((t) => t.cues.length), [2]);
  const metrics = await registry.metrics();
  assert.match(metrics, /onair_captions_realtime_factor\{engine="pocketsphinx"\} 0\.15/);
  assert.match(metrics, /onair_captions_delay_seconds_count\{engine="pocketsphinx"\} 1/);
  assert.match(metrics, /onair_captions_errors_total\{engine="pocketsphinx"\} 1/);
  assert.match(metrics, /onair_captions_cues_total\{engine="pocketsphinx",type="final"\} 2/);
});

test('captions service: every cue passes the word filter, in order even when the filter answers out of order', async () => {
  const hub = new FakeHub();
  const published: CaptionCue[] = [];
  let n = 0;
  const svc = new CaptionsService({
    logger: silentLogger(), hub, ffmpegPath: 'ffmpeg',
    publisher: { publish: async (_c, data) => (published.push(data as CaptionCue), {}) },
    stepMs: 3000, lengthMs: 10_000, defaultLanguage: 'en', defaultEngine: 'whisper', autostart: false,
    createRecogniser: async () => { throw new Error('not used'); },
    // Later calls answer sooner: the service must still publish in arrival order.
    filterText: async (_channel, text) => {
      await new Promise((r) => setTimeout(r, 60 - 20 * n++));
      if (text.includes('boom')) throw new Error('database down');
      return text.includes('heck') ? { action: 'mask', text: text.replace('heck', '****') } : text.includes('gosh') ? { action: 'block', word: 'GOSH' } : { action: 'pass' };
    },
  });
  await svc.start();
  hub.start('m');
  const all = await Promise.all([
    svc.addBrowserCue('m', { text: 'what the heck', final: true, startMs: 1000, endMs: 2000 }),
    svc.addBrowserCue('m', { text: 'oh gosh oh Gosh', final: true, startMs: 3000, endMs: 4000 }),
    svc.addBrowserCue('m', { text: 'boom', final: true, startMs: 5000, endMs: 6000 }),
  ]);
  assert.deepEqual(all.map((c) => c.text), ['what the ****', 'oh *** oh ***', 'boom']);
  assert.deepEqual(published.map((c) => c.text), ['what the ****', 'oh *** oh ***', 'boom'], 'in order; a failing filter publishes the text as is');
  assert.deepEqual(svc.track('m', 'en')?.cues.map((c) => c.text), ['what the ****', 'oh *** oh ***', 'boom']);
  await svc.stop();
  assert.equal(applyFilterVerdict('a b', { action: 'block', word: 'zzz' }), '***', 'a blocked word not found literally masks the whole cue');
  assert.equal(applyFilterVerdict('x (y) x', { action: 'block', word: '(y)' }), 'x *** x');
});

test('captions service: beyond captions.maxRecognisers captions are refused with the reason, the stream stays live, and a freed slot is usable (#8)', async () => {
  const hub = new FakeHub();
  let made = 0;
  const svc = new CaptionsService({
    logger: silentLogger(), hub, ffmpegPath: 'ffmpeg',
    stepMs: 3000, lengthMs: 10_000, defaultLanguage: 'en', defaultEngine: 'whisper', autostart: false, maxRecognisers: 2,
    createRecogniser: async () => { made++; return new ScriptedRecogniser([]); },
  });
  await svc.start();
  for (const ch of ['a', 'b', 'c']) hub.start(ch);
  await svc.enable('a');
  await svc.enable('b');
  await assert.rejects(svc.enable('c'), (err: CaptionCapacityError) => err instanceof CaptionCapacityError && err.max === 2 && /captions\.maxRecognisers/.test(err.message));
  assert.equal(made, 2, 'no third recogniser was made');
  assert.equal(svc.state('c').running, false);
  assert.equal(hub.isLive('c'), true, 'the stream itself goes on');
  // Turning one off frees its slot; re-enabling a running one is not counted twice.
  await svc.disable('a');
  await svc.enable('c');
  await svc.enable('c');
  assert.equal(svc.state('c').running, true);
  assert.equal(made, 3);
  await svc.stop();
});
