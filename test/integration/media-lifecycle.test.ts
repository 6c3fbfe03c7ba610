import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import WebSocket from 'ws';
import { startMedia, publishLoop, waitFor } from './helpers/media-harness.js';
import { RtmpClient } from '../../src/media/index.js';

function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

test('stop() ends publishers, viewers of every protocol and relays, and leaves no handle open', async () => {
  await new Promise((r) => setTimeout(r, 100));
  const before = resources();
  const h = await startMedia();
  h.keys.set('k', 'life');
  const pub = await publishLoop(h.rtmpUrl('live/k'));
  await waitFor(() => h.media.hub.isLive('life'));
  let httpEnded = false;
  const req = get(h.httpUrl('live/life.flv'), (res) => {
    res.resume();
    res.on('end', () => (httpEnded = true));
    res.on('close', () => (httpEnded = true));
  });
  req.on('error', () => (httpEnded = true));
  const ws = new WebSocket(`ws://127.0.0.1:${h.httpPort}/live/life.flv`);
  let wsClosed = false;
  ws.on('close', () => (wsClosed = true));
  ws.on('error', () => {});
  const player = await RtmpClient.play(h.rtmpUrl('live/life'));
  let playerEnded = false;
  player.on('end', () => (playerEnded = true));
  h.media.startRelay({ direction: 'pull', channel: 'copy', url: h.rtmpUrl('live/life') });
  h.media.startRelay({ direction: 'push', channel: 'life', url: h.rtmpUrl('live/nobody-key') });
  await waitFor(() => h.media.hub.isLive('copy') && h.media.stats().find((s) => s.channel === 'life')!.viewers.wsflv === 1, 10_000, 'all attached');
  let pubEnded = false;
  pub.client.on('end', () => (pubEnded = true));
  await h.stop();
  pub.stop();
  await waitFor(() => httpEnded && wsClosed && playerEnded && pubEnded, 5000, 'every client ended');
  assert.deepEqual(h.media.hub.liveChannels(), []);
  assert.equal(h.media.connections().rtmp, 0);
  assert.deepEqual(h.media.listRelays(), []);
  assert.equal(await h.registry.getSingleMetricAsString('onair_media_streams_live').catch(() => 'removed'), 'removed');
  await new Promise((r) => setTimeout(r, 600));
  const after = resources();
  for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout']) {
    assert.ok((after[kind] ?? 0) <= (before[kind] ?? 0), `${kind}: ${before[kind] ?? 0} before, ${after[kind] ?? 0} after`);
  }
});
