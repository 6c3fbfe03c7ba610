import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMedia, publishArgs, publishLoop, run, collect, waitFor, killAll } from './helpers/media-harness.js';
import { RtmpClient, RtmpClientError } from '../../src/media/index.js';

after(killAll);

async function refusal(p: Promise<unknown>): Promise<RtmpClientError> {
  try {
    await p;
  } catch (err) {
    return err as RtmpClientError;
  }
  throw new Error('expected the publish to be refused');
}

test('wrong, missing and rotated keys are refused with NetStream.Publish.BadName; a second publisher is refused; the first is undisturbed', async () => {
  const h = await startMedia();
  try {
    h.keys.set('key-A', 'alice');
    // ffmpeg with a wrong key fails fast
    const bad = await collect(run('ffmpeg', publishArgs(h.rtmpUrl('live/not-a-key'), ['-t', '5'])), 20_000);
    assert.notEqual(bad.code, 0);
    assert.equal(h.media.hub.isLive('alice'), false);

    const wrong = await refusal(RtmpClient.publish(h.rtmpUrl('live/nope')));
    assert.equal(wrong.code, 'NetStream.Publish.BadName');
    assert.match(wrong.message, /invalid stream key/);
    const missing = await refusal(RtmpClient.publish(h.rtmpUrl('live/%3F')));
    assert.equal(missing.code, 'NetStream.Publish.BadName');
    assert.match(missing.message, /missing stream key/);
    const wrongApp = await refusal(RtmpClient.publish(h.rtmpUrl('other/key-A')));
    assert.match(wrongApp.message, /Connect/);

    const first = await publishLoop(h.rtmpUrl('live/key-A'));
    await waitFor(() => h.media.hub.isLive('alice'));
    const second = await refusal(RtmpClient.publish(h.rtmpUrl('live/key-A')));
    assert.equal(second.code, 'NetStream.Publish.BadName');
    assert.match(second.message, /already publishing/);
    const before = first.sentVideo();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(first.sentVideo() > before, 'first publisher keeps sending');
    assert.equal(h.media.hub.isLive('alice'), true);
    assert.equal(h.media.hub.stats('alice')!.publisher.protocol, 'rtmp');

    // rotate: the old key stops working at once, the new one works
    h.keys.delete('key-A');
    h.keys.set('key-B', 'alice');
    first.stop();
    await waitFor(() => !h.media.hub.isLive('alice'), 5000, 'unpublished');
    const rotated = await refusal(RtmpClient.publish(h.rtmpUrl('live/key-A')));
    assert.equal(rotated.code, 'NetStream.Publish.BadName');
    const again = await publishLoop(h.rtmpUrl('live/key-B'));
    await waitFor(() => h.media.hub.isLive('alice'), 5000, 'republished');
    // kick ends the publisher's connection
    const gone = new Promise((r) => again.client.once('end', r));
    assert.equal(h.media.hub.kick('alice'), true);
    await gone;
    again.stop();
    assert.equal(h.media.hub.isLive('alice'), false);
    assert.deepEqual(h.events.map((e) => e.data.type), ['live', 'offline', 'live', 'offline']);
  } finally {
    await h.stop();
  }
});

test('on-publish callback may refuse; on-unpublish is told', async () => {
  const calls: Record<string, unknown>[] = [];
  const hooks = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const j = JSON.parse(body) as Record<string, unknown>;
      calls.push(j);
      res.statusCode = j.channel === 'blocked' ? 403 : 204;
      res.end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  const h = await startMedia({ 'media.onPublishUrl': `${base}/on_publish`, 'media.onUnpublishUrl': `${base}/on_unpublish` });
  try {
    h.keys.set('kb', 'blocked');
    h.keys.set('ko', 'open');
    const refused = await refusal(RtmpClient.publish(h.rtmpUrl('live/kb')));
    assert.match(refused.message, /refused by callback \(HTTP 403\)/);
    assert.equal(h.media.hub.isLive('blocked'), false);
    const p = await publishLoop(h.rtmpUrl('live/ko'));
    await waitFor(() => h.media.hub.isLive('open'));
    p.stop();
    await waitFor(() => calls.some((c) => c.action === 'unpublish'), 5000, 'unpublish callback');
    assert.deepEqual(calls.map((c) => [c.action, c.channel]), [['publish', 'blocked'], ['publish', 'open'], ['unpublish', 'open']]);
    assert.equal(calls[1]!.clientIp, '127.0.0.1');
  } finally {
    await h.stop();
    hooks.close();
  }
});
