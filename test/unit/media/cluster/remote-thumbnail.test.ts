import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RemoteThumbnails } from '../../../../src/media/cluster/remote-thumbnail.js';
import type { ClusterLive } from '../../../../src/media/cluster/live-view.js';

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(100, 1)]);
let hits = 0;
const origin = createServer((req, res) => {
  hits++;
  if (req.url === '/live/cam/thumbnail.jpg') {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'last-modified': new Date(5000).toUTCString() });
    res.end(JPEG);
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
after(() => origin.close());

const view = (entries: Record<string, ClusterLive>) => ({ remote: (ch: string) => entries[ch] });

test('the origin\'s thumbnail is fetched once per max age, concurrent asks share one fetch', async () => {
  let now = 1_000_000;
  hits = 0;
  const t = new RemoteThumbnails(view({ cam: { node: 'a', entry: { channel: 'cam', nodeUrl: url } } }), 10_000, () => now);
  const [x, y] = await Promise.all([t.get('cam'), t.get('cam')]);
  assert.deepEqual(x?.jpeg, JPEG);
  assert.equal(x?.at, 5000);
  assert.equal(y, x);
  assert.equal(hits, 1);
  now += 5_000;
  await t.get('cam');
  assert.equal(hits, 1, 'still fresh');
  now += 6_000;
  await t.get('cam');
  assert.equal(hits, 2, 'fetched again after the max age');
});

test('no thumbnail for a channel not live elsewhere, one the origin has none of, or an origin that is away', async () => {
  hits = 0;
  const t = new RemoteThumbnails(view({
    idle: { node: 'a', entry: { channel: 'idle', nodeUrl: url } },
    gone: { node: 'b', entry: { channel: 'gone', nodeUrl: 'http://127.0.0.1:9' } },
    nourl: { node: 'c', entry: { channel: 'nourl' } },
  }), 10_000);
  assert.equal(await t.get('nobody'), undefined);
  assert.equal(await t.get('nourl'), undefined);
  assert.equal(await t.get('idle'), undefined);
  assert.equal(await t.get('gone'), undefined);
  assert.equal(hits, 1);
});
