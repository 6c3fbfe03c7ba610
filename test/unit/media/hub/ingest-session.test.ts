/**
 * IngestSession against a real StreamHub: holding until the tracks are known, the audio header
 * wait and the held-frame bound, refusal, kick, explicit claim and end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamHub } from '../../../../src/media/hub/hub.js';
import { IngestSession, type IngestSessionOptions } from '../../../../src/media/hub/ingest-session.js';
import type { AudioTrackInfo, MediaFrame, VideoTrackInfo } from '../../../../src/media/hub/types.js';
import { silentLogger } from '../../../../src/observability/logger.js';

const video: VideoTrackInfo = { codec: 'avc', config: Buffer.from('0164001fff', 'hex'), width: 1280, height: 720, codecString: 'avc1.64001f' };
const audio: AudioTrackInfo = { codec: 'aac', config: Buffer.from('1210', 'hex'), sampleRate: 44100, channels: 2, codecString: 'mp4a.40.2' };
const v = (dts: number, keyframe = false): MediaFrame => ({ kind: 'video', codec: 'avc', dts, pts: dts, keyframe, data: Buffer.from([0, 0, 0, 1, keyframe ? 0x65 : 0x41]) });
const a = (dts: number): MediaFrame => ({ kind: 'audio', codec: 'aac', dts, pts: dts, keyframe: true, data: Buffer.from([0x21, dts & 0xff]) });

function setup(over: Partial<IngestSessionOptions> = {}) {
  const hub = new StreamHub({
    logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 22, viewerStallMs: 60_000,
    flushIntervalMs: 0, rtmpChunkSize: 4096,
  });
  const events: string[] = [];
  hub.subscribe('c', {
    onTracks: (vt, at) => events.push(`tracks ${vt?.codec ?? '-'} ${at?.codec ?? '-'}`),
    onFrame: (f) => events.push(`${f.kind} ${f.dts}`),
    onEnd: (r) => events.push(`end ${r}`),
  });
  let now = 1000;
  const calls: string[] = [];
  const session = new IngestSession({
    hub, channel: 'c', protocol: 'srt', clientIp: '192.0.2.1', logger: silentLogger(), encoder: 'test ingest',
    onKicked: (r) => calls.push(`kicked ${r}`),
    onRefused: () => calls.push('refused'),
    onLive: () => calls.push('live'),
    onFrame: (k) => calls.push(k),
    hold: { audioHeaderWaitMs: 500, maxFrames: 10 },
    now: () => now,
    ...over,
  });
  return { hub, session, events, calls, advance: (ms: number) => (now += ms) };
}

test('held until the expected audio header comes; then metadata, tracks first, then the frames in order', () => {
  const { hub, session, events, calls } = setup();
  session.expect({ video: true, audio: true });
  session.setTracks(video, undefined, 0);
  session.pushFrame(v(0, true));
  session.pushFrame(v(40));
  assert.equal(session.state, 'waiting');
  assert.equal(hub.isLive('c'), false, 'not claimed while the audio header is missing');
  session.setTracks(undefined, audio, 10);
  assert.equal(session.state, 'live');
  assert.ok(session.live);
  assert.deepEqual(events, ['tracks avc -', 'tracks avc aac', 'video 0', 'video 40']);
  assert.deepEqual(calls, ['video', 'video', 'live']);
  const live = hub.streams.get('c')!;
  assert.equal(live.metadata?.width, 1280);
  assert.equal(live.metadata?.audiosamplerate, 44100);
  assert.equal(live.metadata?.encoder, 'test ingest');
  assert.equal(live.metadata?.videocodecid, 7, 'the FLV output names the codec');
  assert.deepEqual(hub.stats('c')!.publisher, { protocol: 'srt', clientIp: '192.0.2.1' });
  // Live: frames and track changes go straight through.
  session.pushFrame(a(50));
  assert.deepEqual(events.slice(-1), ['audio 50']);
  assert.deepEqual(session.counters, { videoFrames: 2, audioFrames: 1, dropped: 0, badInput: 0 });
  session.end('publisher left');
  assert.equal(hub.isLive('c'), false);
  assert.equal(session.state, 'ended');
  assert.deepEqual(events.slice(-1), ['end publisher left']);
});

test('without the audio header the stream goes live audioHeaderWaitMs after its first frame (poll)', () => {
  const { hub, session, advance } = setup();
  session.expect({ video: true, audio: true });
  session.setTracks(video, undefined, 0);
  session.pushFrame(v(0, true));
  advance(499);
  session.poll();
  assert.equal(hub.isLive('c'), false);
  advance(1);
  session.poll();
  assert.equal(hub.isLive('c'), true);
  assert.equal(hub.streams.get('c')!.audio, undefined);
});

test('audio that will not come (expect changes) and the held-frame bound both release the stream', () => {
  const one = setup();
  one.session.expect({ video: true, audio: true });
  one.session.setTracks(video, undefined, 0);
  one.session.pushFrame(v(0, true));
  one.session.expect({ audio: false });
  assert.equal(one.hub.isLive('c'), true);

  const two = setup();
  two.session.expect({ video: true, audio: true });
  two.session.setTracks(video, undefined, 0);
  for (let i = 0; i < 9; i++) two.session.pushFrame(v(i * 40, i === 0));
  assert.equal(two.hub.isLive('c'), false);
  two.session.pushFrame(v(360));
  assert.equal(two.hub.isLive('c'), true, 'maxFrames reached');
  assert.equal(two.events.filter((e) => e.startsWith('video')).length, 10);
});

test('a refused claim ends the session and drops what it held; a kick ends it and tells the ingest', () => {
  const refused = setup();
  refused.hub.publish('c', { protocol: 'rtmp', close: () => undefined });
  refused.session.expect({ video: true });
  refused.session.setTracks(video, undefined, 0);
  refused.session.pushFrame(v(0, true));
  assert.equal(refused.session.state, 'ended');
  assert.deepEqual(refused.calls, ['refused']);
  assert.equal(refused.session.counters.dropped, 1);
  refused.session.pushFrame(v(40));
  assert.equal(refused.session.counters.videoFrames, 1, 'nothing taken after the end');

  const kicked = setup();
  kicked.session.expect({ video: true });
  kicked.session.setTracks(video, undefined, 0);
  kicked.session.pushFrame(v(0, true));
  assert.ok(kicked.hub.kick('c', 'banned'));
  assert.deepEqual(kicked.calls, ['video', 'live', 'kicked banned']);
  assert.equal(kicked.session.ended, true);
  assert.equal(kicked.session.live, false);
  kicked.session.pushFrame(v(40));
  assert.ok(!kicked.events.includes('video 40'));
});

test('explicit claim (no hold): frames before claim() are dropped; tracks known before it go out at the claim', () => {
  const { hub, session, events, calls } = setup({ hold: undefined, protocol: 'rtsp' });
  session.setTracks(video, audio, 0);
  session.pushFrame(v(0, true));
  assert.equal(hub.isLive('c'), false, 'no claim by itself');
  assert.equal(session.counters.dropped, 1);
  assert.equal(session.claim(), true);
  assert.equal(session.claim(), true, 'claiming again is a no-op');
  session.pushFrame(v(40, true));
  assert.deepEqual(events, ['tracks avc -', 'tracks avc aac', 'video 40']);
  assert.deepEqual(calls, ['live', 'video']);
  assert.equal(hub.stats('c')!.publisher.protocol, 'rtsp');
  // A second session for the same channel is refused.
  const other = new IngestSession({ hub, channel: 'c', protocol: 'whip', logger: silentLogger(), encoder: 'x', onKicked: () => undefined });
  assert.equal(other.claim(), false);
  assert.equal(other.state, 'ended');
});

test('a dropped track reported while held reaches the hub stream at the claim; later ones directly, each once', () => {
  const { hub, session } = setup();
  session.expect({ video: true, audio: false });
  session.droppedTrack({ kind: 'audio', codec: 'mp2', reason: 'unsupported_codec' });
  session.setTracks(video, undefined, 0);
  session.pushFrame(v(0, true));
  assert.equal(hub.isLive('c'), true);
  assert.deepEqual(hub.stats('c')!.droppedTracks, [{ kind: 'audio', codec: 'mp2', reason: 'unsupported_codec' }]);
  session.droppedTrack({ kind: 'data', codec: 'scte35', reason: 'unsupported_codec' });
  session.droppedTrack({ kind: 'audio', codec: 'mp2', reason: 'unsupported_codec' });
  assert.deepEqual(hub.stats('c')!.droppedTracks.map((t) => t.codec), ['mp2', 'scte35']);
});
