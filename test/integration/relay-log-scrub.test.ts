/**
 * Relay logs and status fields never show a stream key (issue 19 #16): a push relay publishes to
 * a real RTMP server (onair's own RtmpServer) that refuses the key and, like many servers, echoes
 * it in the refusal; every log line written while it reconnects, its lastError and its listed URL
 * are checked for the key and the URL's password.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { silentLogger } from '../../src/observability/logger.js';
import { StreamHub } from '../../src/media/hub/hub.js';
import { RtmpServer } from '../../src/media/rtmp/server.js';
import { RelayManager } from '../../src/media/relay/manager.js';
import { maskRelayUrl, scrubSecrets, urlSecrets } from '../../src/media/relay/scrub.js';

const KEY = 'live_8837261_SeCrEtStreamKey';
const PASSWORD = 'hunter2pass';

const newHub = () => new StreamHub({ logger: silentLogger(), gopCacheMaxFrames: 1000, viewerQueueSkipBytes: 1 << 20, viewerQueueMaxBytes: 1 << 23, viewerStallMs: 10_000, flushIntervalMs: 0, rtmpChunkSize: 4096 });

test('a failing push relay logs and reports its reconnects without the stream key or password', { timeout: 30_000 }, async (t) => {
  const refusals: string[] = [];
  const remote = new RtmpServer({
    logger: silentLogger(), hub: newHub(), chunkSize: 4096, maxMessageBytes: 1 << 20, idleTimeoutMs: 10_000,
    // A remote service that names the key it refuses.
    authorizePublish: async (key) => {
      refusals.push(key);
      return { ok: false, reason: `stream key ${key} is not registered`, kind: 'key' };
    },
    onUnpublished: () => undefined,
  });
  const port = await remote.listen(0, '127.0.0.1');
  t.after(() => remote.close());

  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
  const hub = newHub();
  const source = hub.publish('show', { protocol: 'rtmp', close: () => undefined });
  assert.ok(source);
  const relays = new RelayManager(hub, logger);
  t.after(() => relays.stopAll());
  const url = `rtmp://restreamer:${PASSWORD}@127.0.0.1:${port}/live/${KEY}`;
  const info = relays.start({ direction: 'push', channel: 'show', url });

  // Two refusals: the first attempt and one reconnect after the backoff.
  const deadline = Date.now() + 15_000;
  while (refusals.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(refusals.length >= 2, `the remote saw ${refusals.length} publish attempts`);
  assert.equal(refusals[0], KEY, 'the relay really published with the key');
  const listed = relays.list().find((r) => r.id === info.id)!;
  const log = lines.join('');
  assert.ok(log.includes('relay reconnecting'), log);
  assert.ok(log.includes('is not registered'), 'the reason is still logged');
  for (const secret of [KEY, PASSWORD]) {
    assert.ok(!log.includes(secret), `log lines hold ${secret}:\n${log}`);
    assert.ok(!JSON.stringify(listed).includes(secret), `relay info holds ${secret}: ${JSON.stringify(listed)}`);
  }
  assert.match(listed.lastError ?? '', /stream key \*\*\* is not registered/);
  assert.equal(listed.url, `rtmp://***@127.0.0.1:${port}/live/***`);
});

test('scrubSecrets: keys, percent-encoded keys, query tokens and any URL userinfo', () => {
  const url = 'rtmps://user:p%40ss@ingest.example:443/app/key%2Fwith%20parts?token=abcd1234';
  const secrets = urlSecrets(url);
  const text = `publish ${url} failed; server said key/with parts and token=abcd1234 and p@ss; other rtmp://x:y@host/a`;
  const out = scrubSecrets(text, secrets);
  for (const s of ['p%40ss', 'p@ss', 'key/with parts', 'key%2Fwith%20parts', 'abcd1234', 'x:y@']) assert.ok(!out.includes(s), `${s} left in ${out}`);
  assert.equal(maskRelayUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl'), 'rtmp://a.rtmp.youtube.com/live2/***');
  assert.deepEqual(urlSecrets('rtmp://host/app'), [], 'an app without a stream name has no key');
  assert.equal(scrubSecrets('nothing to hide', urlSecrets('not a url')), 'nothing to hide');
});
