/**
 * Issue 19 #4, with real sockets: a push relay connects to the address the restream check
 * approved, never to a fresh DNS answer for the target's name. The target's name here
 * (rebind.invalid) resolves nowhere, so the push can only come up by using the pinned address;
 * the name still goes into the RTMP tcUrl. Without the pinned address the same URL fails to resolve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmpClient } from '../../src/media/rtmp/client.js';
import { startMedia, publishLoop, waitFor } from './helpers/media-harness.js';

test('a push relay given connectAddress connects there on every attempt, keeping the name for the RTMP tcUrl (#4)', async (t) => {
  const h = await startMedia();
  t.after(() => h.stop());
  h.keys.set('src-key', 'src');
  h.keys.set('out-key', 'out');
  const pub = await publishLoop(h.rtmpUrl('live/src-key'));
  t.after(() => pub.stop());

  // Without a pinned address the client resolves the name: nothing there.
  await assert.rejects(RtmpClient.publish(`rtmp://rebind.invalid:${h.rtmpPort}/live/out-key`, { timeoutMs: 5000 }), /ENOTFOUND|EAI_AGAIN/);

  const info = h.media.startRelay({ direction: 'push', channel: 'src', url: `rtmp://rebind.invalid:${h.rtmpPort}/live/out-key`, connectAddress: '127.0.0.1' });
  await waitFor(() => h.media.listRelays().some((r) => r.id === info.id && r.state === 'running'), 15_000, 'push relay running at the pinned address');
  const shown = h.media.listRelays().find((r) => r.id === info.id)!;
  assert.equal('connectAddress' in shown, false, 'the relay listing keeps its own fields');
  assert.match(shown.url, /^rtmp:\/\/rebind\.invalid:\d+\/live\//, 'the name stays in the URL (and tcUrl)');
  assert.equal(shown.lastError, undefined);
  await h.media.stopRelay(info.id);
});
