// The LL-HLS origin proxy against a real local HTTP origin: identical requests share one origin
// request, unique URLs are reused within their max-age and the byte bound, other answers never,
// and the in-flight bound, the answer size bound and the timeout answer with clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cacheLifetimeMs, HlsOriginProxy, MAX_ANSWER_BYTES, OriginProxyError } from '../../../../src/media/hls/origin-proxy.js';
import { CLUSTER_SECRET_HEADER } from '../../../../src/media/cluster/secret.js';

interface Origin { url: string; seen: IncomingMessage[]; close(): Promise<void> }

/** origin answers after `holdMs` with what `answer` says for the URL. */
async function startOrigin(answer: (url: string) => { status: number; cacheControl: string; body: string }, holdMs = 0): Promise<Origin> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req);
    setTimeout(() => {
      const a = answer(req.url ?? '');
      res.writeHead(a.status, { 'cache-control': a.cacheControl, 'content-type': 'application/vnd.apple.mpegurl', 'x-internal': 'dropped' });
      res.end(a.body);
    }, holdMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const options = { secret: 'proxy-test-secret-0123456789', timeoutMs: 2000, maxInFlight: 10, cacheBytes: 1000, cacheMaxAgeMs: 30_000 };

test('cacheLifetimeMs: only 200 public answers with a unique URL (immutable or blocking), for their max-age', () => {
  assert.equal(cacheLifetimeMs(200, 'public, max-age=86400, immutable', false), 86_400_000);
  assert.equal(cacheLifetimeMs(200, 'public, max-age=12', true), 12_000);
  assert.equal(cacheLifetimeMs(200, 'public, max-age=1, stale-while-revalidate=1', false), 0, 'a plain playlist is only coalesced');
  assert.equal(cacheLifetimeMs(200, 'no-cache', true), 0);
  assert.equal(cacheLifetimeMs(404, 'public, max-age=12', true), 0);
  assert.equal(cacheLifetimeMs(200, undefined, true), 0);
});

test('concurrent identical requests are one origin request with the secret; the answer passes on its own headers only', async () => {
  const origin = await startOrigin(() => ({ status: 200, cacheControl: 'public, max-age=12', body: '#EXTM3U\n' }), 100);
  const proxy = new HlsOriginProxy(options);
  try {
    const path = '/live/cam/source/playlist.m3u8?_HLS_msn=4&_HLS_part=1';
    const answers = await Promise.all(Array.from({ length: 20 }, () => proxy.get(origin.url, path)));
    assert.equal(origin.seen.length, 1);
    assert.equal(origin.seen[0]?.headers[CLUSTER_SECRET_HEADER], options.secret);
    assert.equal(origin.seen[0]?.url, path);
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.body.toString(), '#EXTM3U\n');
      assert.deepEqual(a.headers, { 'cache-control': 'public, max-age=12', 'content-type': 'application/vnd.apple.mpegurl' });
    }
    // A blocking answer is reused afterwards; a plain playlist is asked again.
    await proxy.get(origin.url, path);
    assert.equal(origin.seen.length, 1);
    assert.deepEqual(proxy.stats(), { originRequests: 1, cacheHits: 1, coalesced: 19, inFlight: 0, cacheBytes: 8 });
  } finally {
    proxy.close();
    await origin.close();
  }
});

test('plain playlists and errors are not reused; the cache stays within its bytes, dropping the least recently used', async () => {
  const origin = await startOrigin((url) => url.endsWith('.m4s')
    ? { status: 200, cacheControl: 'public, max-age=86400, immutable', body: 'x'.repeat(400) }
    : url.includes('missing') ? { status: 404, cacheControl: 'no-store', body: '{}' } : { status: 200, cacheControl: 'public, max-age=1', body: '#EXTM3U\n' });
  const proxy = new HlsOriginProxy(options);
  try {
    await proxy.get(origin.url, '/live/cam/source/playlist.m3u8');
    await proxy.get(origin.url, '/live/cam/source/playlist.m3u8');
    assert.equal((await proxy.get(origin.url, '/live/cam/source/missing.m4s.x')).status, 404);
    await proxy.get(origin.url, '/live/cam/source/missing.m4s.x');
    assert.equal(origin.seen.length, 4);
    // Three 400-byte parts in a 1000-byte cache: the first is dropped, unless read since.
    await proxy.get(origin.url, '/live/cam/source/p1.m4s');
    await proxy.get(origin.url, '/live/cam/source/p2.m4s');
    await proxy.get(origin.url, '/live/cam/source/p1.m4s');
    await proxy.get(origin.url, '/live/cam/source/p3.m4s');
    assert.equal(proxy.stats().cacheBytes, 800);
    const seen = origin.seen.length;
    await proxy.get(origin.url, '/live/cam/source/p1.m4s');
    assert.equal(origin.seen.length, seen, 'p1 was read recently: kept');
    await proxy.get(origin.url, '/live/cam/source/p2.m4s');
    assert.equal(origin.seen.length, seen + 1, 'p2 was the least recently used: dropped');
  } finally {
    proxy.close();
    await origin.close();
  }
});

test('more distinct requests than maxInFlight are refused; an origin that does not answer in time is a timeout; answers are bounded in size', async () => {
  const origin = await startOrigin(() => ({ status: 200, cacheControl: 'public, max-age=12', body: 'late' }), 500);
  const proxy = new HlsOriginProxy({ ...options, maxInFlight: 2, timeoutMs: 200 });
  try {
    const a = proxy.get(origin.url, '/live/cam/a');
    const b = proxy.get(origin.url, '/live/cam/b');
    await assert.rejects(proxy.get(origin.url, '/live/cam/c'), (err: OriginProxyError) => err.reason === 'busy' && /too many origin requests in flight \(2\)/.test(err.message));
    await assert.rejects(a, (err: OriginProxyError) => err.reason === 'timeout' && /did not answer within 200 ms/.test(err.message));
    await assert.rejects(b, OriginProxyError);
    assert.equal(proxy.stats().inFlight, 0);
  } finally {
    proxy.close();
    await origin.close();
  }
  const huge = await startOrigin(() => ({ status: 200, cacheControl: 'no-store', body: 'x'.repeat(MAX_ANSWER_BYTES + 1) }));
  const bounded = new HlsOriginProxy(options);
  try {
    await assert.rejects(bounded.get(huge.url, '/live/cam/big.m4s'), (err: OriginProxyError) => err.reason === 'too_large');
  } finally {
    bounded.close();
    await huge.close();
  }
  const gone = new HlsOriginProxy(options);
  await assert.rejects(gone.get(origin.url, '/live/cam/a'), (err: OriginProxyError) => err.reason === 'unreachable');
  gone.close();
});
