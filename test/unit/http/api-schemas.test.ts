// The shared API shapes (src/api/schemas.ts) are imported by the web app: they must stay free of
// server code, and the public stream schema must drop the publisher's fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChannelWithLiveSchema, LiveDetailSchema, PublicStreamSchema } from '../../../src/api/schemas.js';

test('src/api/schemas.ts imports zod and nothing else', () => {
  const src = readFileSync(new URL('../../../src/api/schemas.ts', import.meta.url), 'utf8');
  const imports = [...src.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
  assert.deepEqual(imports, ['zod']);
});

test('web/src/api.ts takes the shapes from the shared schemas as types only', () => {
  const src = readFileSync(new URL('../../../web/src/api.ts', import.meta.url), 'utf8');
  // Whole statements (an export list may span lines), from their first keyword to the module path.
  const fromServer = [...src.matchAll(/^(?:import|export)\b[^;]*?from '\.\.\/\.\.\/src\/[^']+'/gm)].map((m) => m[0]);
  assert.ok(fromServer.length > 0);
  for (const statement of fromServer) assert.match(statement, /^(import|export) type /);
});

const hubStats = {
  channel: 'show', live: true, since: '2026-12-07T15:00:00.000Z',
  publisher: { protocol: 'rtmp', clientIp: '203.0.113.7' },
  video: { codec: 'avc', codecString: 'avc1.64001f', width: 1280, height: 720 },
  audio: { codec: 'aac', codecString: 'mp4a.40.2', sampleRate: 48000, channels: 2 },
  bitrateIn: 3_000_000, bitrateOut: 9_000_000, fps: 30, viewers: { flv: 3, hls: 1 }, keyframeIntervalSeconds: 2,
};

test('PublicStreamSchema keeps live, since, viewers and the picture size only', () => {
  assert.deepEqual(PublicStreamSchema.parse(hubStats), { live: true, since: hubStats.since, viewers: hubStats.viewers, video: { codec: 'avc', width: 1280, height: 720 } });
  assert.deepEqual(PublicStreamSchema.parse({ live: false }), { live: false });
  const channel = ChannelWithLiveSchema.parse({ id: 'c1', name: 'show', title: '', ownerId: 'u1', recordEnabled: true, captionsLanguage: null, createdAt: 1, updatedAt: 1, followers: 0, ownerName: 'Show 쇼', stream: hubStats, streamKeyHash: 'x' });
  assert.doesNotMatch(JSON.stringify(channel), /203\.0\.113\.7|bitrate|streamKeyHash/);
});

test('LiveDetailSchema keeps the owner fields and drops the internal channel name', () => {
  const d = LiveDetailSchema.parse(hubStats);
  assert.equal(d.live && d.publisher.clientIp, '203.0.113.7');
  assert.equal('channel' in d, false);
  assert.deepEqual(LiveDetailSchema.parse({ live: false }), { live: false });
  assert.throws(() => LiveDetailSchema.parse({ live: true }));
});
