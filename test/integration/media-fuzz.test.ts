import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { get } from 'node:http';
import { startMedia, publishLoop, waitFor, killAll } from './helpers/media-harness.js';
import { clientHello } from '../../src/media/rtmp/handshake.js';
import { seededRandom as prng } from '../../testkit/prng.js';

after(killAll);

const CAPTURE = readFileSync(new URL('../fixtures/media/ffmpeg-publish.rtmp', import.meta.url));


function bytes(rnd: () => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => (rnd() * 256) | 0));
}

function mutate(rnd: () => number, src: Buffer): Buffer {
  const b = Buffer.from(src.subarray(0, 1 + ((rnd() * src.length) | 0)));
  for (let k = 0; k < 1 + ((rnd() * 6) | 0); k++) b[(rnd() * b.length) | 0] = (rnd() * 256) | 0;
  return b;
}

/** fuzzPeer connects, optionally handshakes, sends junk; resolves with ms until the server closed it. */
function fuzzPeer(port: number, rnd: () => number, kind: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, '127.0.0.1');
    const t0 = Date.now();
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`fuzz peer kind ${kind} was not disconnected`));
    }, 8000);
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
    if (kind === 0) {
      s.write(bytes(rnd, 1 + ((rnd() * 5000) | 0)));
      return;
    }
    const hello = clientHello(kind === 2);
    s.write(hello.c0c1);
    let got = 0;
    s.on('data', (d: Buffer) => {
      const before = got;
      got += d.length;
      if (before < 3073 && got >= 3073) {
        s.write(Buffer.alloc(1536)); // C2
        s.write(kind === 1 ? bytes(rnd, 1 + ((rnd() * 3000) | 0)) : mutate(rnd, CAPTURE));
      }
    });
  });
}

test('fuzzing RTMP peers are disconnected; a normal publisher and its viewer are undisturbed', async () => {
  const h = await startMedia({ 'rtmp.idleTimeoutSeconds': 1 });
  h.keys.set('good-key', 'steady');
  const pub = await publishLoop(h.rtmpUrl('live/good-key'), 1);
  try {
    await waitFor(() => h.media.hub.isLive('steady'));
    let viewerBytes = 0;
    const req = get(h.httpUrl('live/steady.flv'), (res) => res.on('data', (d: Buffer) => (viewerBytes += d.length)));
    req.on('error', () => {});
    await waitFor(() => viewerBytes > 0, 5000, 'viewer data');
    const rnd = prng(2024);
    const samples: number[] = [];
    for (let round = 0; round < 6; round++) {
      const before = viewerBytes;
      const peers = Array.from({ length: 10 }, (_, i) => fuzzPeer(h.rtmpPort, rnd, (round * 10 + i) % 3));
      const times = await Promise.all(peers);
      assert.ok(times.every((t) => t < 8000));
      assert.equal(h.media.hub.isLive('steady'), true, 'publisher still live');
      assert.ok(viewerBytes > before, 'viewer still receiving');
      samples.push(viewerBytes - before);
    }
    await waitFor(() => h.media.connections().rtmp === 1, 5000, 'only the publisher left');
    assert.deepEqual(h.media.hub.liveChannels(), ['steady']);
    const sent = pub.sentVideo();
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(pub.sentVideo() > sent);
    req.destroy();
  } finally {
    pub.stop();
    await h.stop();
  }
});
