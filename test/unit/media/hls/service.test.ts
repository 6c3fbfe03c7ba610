import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { connect, type AddressInfo } from 'node:net';
import Fastify from 'fastify';
import prom from 'prom-client';
import { configSchema } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { createHlsService } from '../../../../src/media/hls/service.js';
import { HlsOriginProxy } from '../../../../src/media/hls/origin-proxy.js';
import { parsePlaylistQuery, checkRange } from '../../../../src/media/hls/blocking.js';
import { FakeClock, FakeHub } from '../../../../testkit/hls-fakes.js';
import { synthFrames, videoTrack, audioTrack } from '../../../../testkit/hls-frames.js';
import { parseMediaPlaylist, type ParsedPlaylist } from '../../helpers/m3u8.js';

async function setup(overrides: Record<string, unknown> = {}) {
  const config = configSchema.parse(overrides);
  const clock = new FakeClock();
  const hub = new FakeHub();
  const registry = new prom.Registry();
  const hls = createHlsService({ config, logger: silentLogger(), hub, registry, clock });
  const app = Fastify();
  hls.registerHttp(app);
  await hls.start();
  const frames = synthFrames({ seconds: 40 });
  let i = 0;
  /** feed pushes frames up to `ms` of media time. */
  const feed = (ms: number) => {
    while (i < frames.length && frames[i]!.dts < ms) hub.frame('ch', frames[i++]!);
  };
  const get = (url: string, headers: Record<string, string> = {}, remoteAddress?: string) => app.inject({ method: 'GET', url, headers, ...(remoteAddress ? { remoteAddress } : {}) });
  return { config, clock, hub, registry, hls, app, feed, get, frames, close: async () => { await hls.stop(); await app.close(); } };
}

test('hls service: offline channel is a 404 JSON error with CORS', async () => {
  const s = await setup();
  try {
    const r = await s.get('/live/nobody/index.m3u8');
    assert.equal(r.statusCode, 404);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.json().error.code, 'not_found');
  } finally {
    await s.close();
  }
});

test('hls service: multivariant, media playlist, init, segments and parts with headers', async () => {
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(4500);
    const mv = await s.get('/live/ch/index.m3u8');
    assert.equal(mv.statusCode, 200);
    assert.equal(mv.headers['content-type'], 'application/vnd.apple.mpegurl');
    assert.match(mv.body, /#EXT-X-STREAM-INF:BANDWIDTH=\d+,CODECS="avc1\.64001f,mp4a\.40\.2",RESOLUTION=1280x720,FRAME-RATE=25\.000\nsource\/playlist\.m3u8\n/);

    const pl = await s.get('/live/ch/source/playlist.m3u8');
    assert.equal(pl.statusCode, 200);
    // A live playlist changes every part: cacheable for HTTP's shortest max-age only, and served
    // stale by a cache at most one second more while one request refreshes it.
    assert.equal(pl.headers['cache-control'], 'public, max-age=1, stale-while-revalidate=1');
    assert.equal(pl.headers['access-control-allow-origin'], '*');
    assert.ok(pl.headers.etag);
    assert.match(pl.body, /#EXT-X-PART-INF:PART-TARGET=0\.333/);
    assert.match(pl.body, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-[0-9a-f]+-\d+\.m4s"/);
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(pl.body)![1]!;
    const seg = pl.body.split('\n').find((l) => l.startsWith('seg-'))!;
    const part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(pl.body)![1]!;

    const p = s.hls.packager('ch')!;
    for (const [name, type] of [[init, 'video/mp4'], [seg, 'video/iso.segment'], [part, 'video/iso.segment']] as const) {
      const r = await s.get(`/live/ch/source/${name}`);
      assert.equal(r.statusCode, 200, name);
      assert.equal(r.headers['content-type'], type);
      assert.equal(r.headers['cache-control'], 'public, max-age=86400, immutable');
      assert.deepEqual(r.rawPayload, p.resource(name)!.bytes);
    }
    assert.equal((await s.get('/live/ch/source/seg-ffff-1.m4s')).statusCode, 404);
    assert.equal((await s.get('/live/ch/other/playlist.m3u8')).statusCode, 404);

    // ETag revalidation and gzip
    const again = await s.get('/live/ch/source/playlist.m3u8', { 'if-none-match': pl.headers.etag });
    assert.equal(again.statusCode, 304);
    const gz = await s.get('/live/ch/source/playlist.m3u8', { 'accept-encoding': 'gzip, deflate' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.rawPayload).toString(), pl.body);
    s.feed(5000);
    const changed = await s.get('/live/ch/source/playlist.m3u8', { 'if-none-match': pl.headers.etag });
    assert.equal(changed.statusCode, 200, 'a new part changes the ETag');

    const st = s.hls.stats('ch')!;
    assert.equal(st.live, true);
    assert.equal(st.viewers, 1);
    assert.equal(st.segments, 2);
    assert.ok(st.parts > 10);
    const metrics = await s.registry.metrics();
    assert.match(metrics, /onair_hls_requests_total\{kind="playlist"\} [4-9]/);
    assert.match(metrics, /onair_hls_requests_total\{kind="part"\} 1/);
  } finally {
    await s.close();
  }
});

/** rawExchange sends raw HTTP/1.1 requests on one keep-alive connection and returns the bytes received once `until` holds. */
async function rawExchange(port: number, requests: string, until: (received: Buffer) => boolean): Promise<Buffer> {
  const sock = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('raw exchange timed out')), 5000);
      sock.on('error', reject);
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (until(all)) {
          clearTimeout(timer);
          resolve(all);
        }
      });
      sock.write(requests);
    });
  } finally {
    sock.destroy();
  }
}

test('hls service: segments and parts go out as the shared Buffer with Content-Length on keep-alive sockets; HEAD and 304 carry the headers only', async () => {
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(4500);
    const pl = await s.get('/live/ch/source/playlist.m3u8');
    const seg = pl.body.split('\n').find((l) => l.startsWith('seg-'))!;
    const part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(pl.body)![1]!;
    const p = s.hls.packager('ch')!;
    // Built once: every request gets the same Buffer, and a segment's parts are views of its bytes.
    assert.equal(p.resource(seg)!.bytes, p.resource(seg)!.bytes);
    const segBytes = p.resource(seg)!.bytes;
    const parts = [...pl.body.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)].map((m) => p.resource(m[1]!)!.bytes);
    assert.ok(parts.some((b) => b.buffer === segBytes.buffer), 'parts of a complete segment share its memory');

    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (s.app.server.address() as AddressInfo).port;
    const req = (method: string, name: string) => `${method} /live/ch/source/${name} HTTP/1.1\r\nHost: t\r\n\r\n`;
    // GET segment, GET part, HEAD segment pipelined on one connection: three complete responses.
    const expected = [segBytes, p.resource(part)!.bytes];
    const raw = await rawExchange(port, req('GET', seg) + req('GET', part) + req('HEAD', seg), (all) => {
      const heads = all.toString('latin1').split('HTTP/1.1 200 OK').length - 1;
      return heads === 3 && all.toString('latin1').endsWith('\r\n\r\n');
    });
    let off = 0;
    const parseHead = () => {
      const end = raw.indexOf('\r\n\r\n', off);
      const lines = raw.subarray(off, end).toString('latin1').split('\r\n');
      off = end + 4;
      const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      return { status: lines[0], headers };
    };
    for (const body of expected) {
      const r = parseHead();
      assert.equal(r.status, 'HTTP/1.1 200 OK');
      assert.equal(r.headers.get('content-length'), String(body.length));
      assert.equal(r.headers.get('transfer-encoding'), undefined, 'not chunked');
      assert.equal(r.headers.get('content-type'), 'video/iso.segment');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=86400, immutable');
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(r.headers.get('connection'), 'keep-alive');
      assert.ok(raw.subarray(off, off + body.length).equals(body), 'body is the packager bytes');
      off += body.length;
    }
    const head = parseHead();
    assert.equal(head.status, 'HTTP/1.1 200 OK');
    assert.equal(head.headers.get('content-length'), String(segBytes.length), 'HEAD announces the GET length');
    assert.equal(off, raw.length, 'HEAD carries no body');

    // 304 keeps the playlist headers a cache needs and sends no body.
    const nm = await s.get('/live/ch/source/playlist.m3u8', { 'if-none-match': pl.headers.etag as string });
    assert.equal(nm.statusCode, 304);
    assert.equal(nm.rawPayload.length, 0);
    assert.equal(nm.headers.etag, pl.headers.etag);
    assert.equal(nm.headers['cache-control'], 'public, max-age=1, stale-while-revalidate=1');
    assert.equal(nm.headers['access-control-allow-origin'], '*');
    assert.equal(nm.headers.vary, 'Accept-Encoding');
    const plHead = await s.app.inject({ method: 'HEAD', url: '/live/ch/source/playlist.m3u8' });
    assert.equal(plHead.statusCode, 200);
    assert.equal(plHead.headers['content-length'], String(Buffer.byteLength(pl.body)));
    assert.equal(plHead.rawPayload.length, 0);
  } finally {
    await s.close();
  }
});

test('hls service: blocking reload answers as soon as the part exists; 400 and 503 cases', async () => {
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(3000);
    const p = s.hls.packager('ch')!;
    const pos = p.lastPosition()!;
    // the next part
    let answered = false;
    const pending = s.get(`/live/ch/source/playlist.m3u8?_HLS_msn=${pos.msn}&_HLS_part=${pos.part + 1}`).then((r) => ((answered = true), r));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(answered, false, 'held until the part exists');
    assert.equal((await s.registry.getSingleMetric('onair_hls_blocked_requests')!.get()).values[0]!.value, 1);
    s.feed(3400);
    const r = await pending;
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['cache-control'], 'public, max-age=1');
    const after = p.lastPosition()!;
    assert.ok(after.msn > pos.msn || after.part > pos.part);
    assert.equal((await s.registry.getSingleMetric('onair_hls_blocked_requests')!.get()).values[0]!.value, 0);

    // already available: immediate
    assert.equal((await s.get(`/live/ch/source/playlist.m3u8?_HLS_msn=0`)).statusCode, 200);
    // _HLS_part without _HLS_msn
    assert.equal((await s.get('/live/ch/source/playlist.m3u8?_HLS_part=1')).statusCode, 400);
    // msn more than two beyond the last
    const last = p.lastPosition()!;
    assert.equal((await s.get(`/live/ch/source/playlist.m3u8?_HLS_msn=${last.msn + 3}`)).statusCode, 400);
    assert.equal((await s.get(`/live/ch/source/playlist.m3u8?_HLS_msn=${last.msn}&_HLS_part=${last.part + 20}`)).statusCode, 400);
    assert.equal((await s.get(`/live/ch/source/playlist.m3u8?_HLS_msn=abc`)).statusCode, 400);
    // not ready within 3 target durations → 503
    const late = s.get(`/live/ch/source/playlist.m3u8?_HLS_msn=${last.msn + 2}`);
    await new Promise((r) => setTimeout(r, 10));
    s.clock.advance(6001);
    const lr = await late;
    assert.equal(lr.statusCode, 503);
    assert.equal(lr.json().error.code, 'unavailable');
  } finally {
    await s.close();
  }
});

/**
 * videojsNextReload is the blocking reload video.js 8 (VHS, addLLHLSQueryDirectives) asks for after
 * a playlist: the open segment's next part, counting the preload hint as a part; with no part of an
 * open segment listed, it asks for part 0 of the newest complete segment instead.
 */
function videojsNextReload(pl: ParsedPlaylist): { msn: number; part: number } {
  const newest = pl.segments.at(-1)!;
  if (newest.uri === undefined) return { msn: newest.msn, part: newest.parts.length };
  return { msn: newest.msn, part: 0 };
}

test('hls service: a blocking answer that closes a segment lists the next one\'s first part, so video.js never asks one URL twice (issue 20)', async () => {
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    let mediaMs = 2100;
    s.feed(mediaMs);
    let pl = parseMediaPlaylist((await s.get('/live/ch/source/playlist.m3u8')).body);
    const asked = new Set<string>();
    let closes = 0;
    while (mediaMs < 9000) {
      const next = videojsNextReload(pl);
      const url = `/live/ch/source/playlist.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`;
      assert.ok(!asked.has(url), `video.js would ask ${url} again (from its browser cache)`);
      asked.add(url);
      let answered = false;
      const pending = s.get(url).then((r) => ((answered = true), r));
      // One frame at a time until the answer comes, so it is released at the first state that satisfies it.
      for (;;) {
        await new Promise((r) => setTimeout(r, 2));
        if (answered) break;
        mediaMs += 40;
        s.feed(mediaMs);
      }
      const r = await pending;
      assert.equal(r.statusCode, 200);
      const answer = parseMediaPlaylist(r.body);
      const newest = answer.segments.at(-1)!;
      assert.equal(newest.uri, undefined, `${url}: the answer ends with the open segment`);
      assert.ok(newest.parts.length > 0, `${url}: the answer lists a part of the open segment`);
      if (newest.msn > pl.segments.at(-1)!.msn) closes++;
      pl = answer;
    }
    assert.ok(closes >= 3, `${closes} answers closed a segment`);
  } finally {
    await s.close();
  }
});

test('hls service: a preload-hinted part request is held until the part completes', async () => {
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(2500);
    const pl = await s.get('/live/ch/source/playlist.m3u8');
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(pl.body)![1]!;
    let done = false;
    const pending = s.get(`/live/ch/source/${hint}`).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false);
    s.feed(3000);
    const r = await pending;
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.rawPayload, s.hls.packager('ch')!.resource(hint)!.bytes);
    // a far-future part name is not held
    assert.equal((await s.get('/live/ch/source/part-' + s.hls.packager('ch')!.tag + '-99999.m4s')).statusCode, 404);
  } finally {
    await s.close();
  }
});

test('hls service: end → ENDLIST, restart within retention → discontinuity, later → 404', async () => {
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(4500);
    s.hub.end('ch');
    const ended = await s.get('/live/ch/source/playlist.m3u8');
    assert.match(ended.body, /#EXT-X-ENDLIST\n$/);
    assert.equal(s.hls.stats('ch')!.live, false);
    // restart
    s.hub.publish('ch', videoTrack, audioTrack);
    for (const f of synthFrames({ seconds: 4.5 })) s.hub.frame('ch', f);
    const again = await s.get('/live/ch/source/playlist.m3u8');
    assert.doesNotMatch(again.body, /ENDLIST/);
    assert.match(again.body, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-[0-9a-f]+-2\.mp4"/);
    s.hub.end('ch');
    s.clock.advance(60_000);
    assert.equal((await s.get('/live/ch/source/playlist.m3u8')).statusCode, 404);
    assert.equal(s.hls.stats('ch'), undefined);
  } finally {
    await s.close();
  }
});

test('hls service: delta update with _HLS_skip=YES', async () => {
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(30_000);
    const full = await s.get('/live/ch/source/playlist.m3u8');
    const delta = await s.get('/live/ch/source/playlist.m3u8?_HLS_skip=YES');
    assert.match(delta.body, /#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n/);
    assert.ok(delta.body.length < full.body.length);
    assert.notEqual(delta.headers.etag, full.headers.etag);
  } finally {
    await s.close();
  }
});

test('hls service: stop releases held requests with 503 and removes timers', async () => {
  const s = await setup();
  s.hub.publish('ch', videoTrack, audioTrack);
  s.feed(2500);
  const last = s.hls.packager('ch')!.lastPosition()!;
  const held = s.get(`/live/ch/source/playlist.m3u8?_HLS_msn=${last.msn + 1}`);
  await new Promise((r) => setTimeout(r, 10));
  const hint = /PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec((await s.get('/live/ch/source/playlist.m3u8')).body)![1]!;
  const heldPart = s.get(`/live/ch/source/${hint}`);
  await new Promise((r) => setTimeout(r, 10));
  await s.hls.stop();
  assert.equal((await held).statusCode, 503);
  assert.equal((await heldPart).statusCode, 503);
  assert.equal(s.clock.pending(), 0);
  assert.equal(s.hub.subs.get('ch')?.size ?? 0, 0, 'detached from the hub');
  assert.equal(s.hub.listenerCount('streamStart'), 0);
  await s.app.close();
});

test('hls blocking: query parsing fuzz never throws and keeps the rules', async () => {
  const alphabet = ['_HLS_msn', '_HLS_part', '_HLS_skip', '1', '-1', 'YES', 'v2', 'x', '99999999999999999999', '', '0', '1e3', ' 2'];
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 5000; i++) {
    const q: Record<string, unknown> = {};
    for (let k = 0; k < rnd(4); k++) {
      const key = alphabet[rnd(3)]!;
      const val = rnd(5) === 0 ? [alphabet[rnd(alphabet.length)]!, alphabet[rnd(alphabet.length)]!] : alphabet[rnd(alphabet.length)]!;
      q[key] = val;
    }
    const r = parsePlaylistQuery(q);
    if (r.ok) {
      if (r.value.part !== undefined) assert.notEqual(r.value.msn, undefined);
      for (const v of [r.value.msn, r.value.part]) if (v !== undefined) assert.ok(Number.isSafeInteger(v) && v >= 0);
      checkRange(r.value, { msn: rnd(10) - 1, part: rnd(8) - 1 }, 7, 0.333);
    } else if ('_HLS_part' in q && !('_HLS_msn' in q)) assert.match(r.error, /requires _HLS_msn/);
  }
  // and through HTTP: never a 5xx other than the spec's 503
  const s = await setup();
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(3000);
    for (let i = 0; i < 200; i++) {
      const parts = [];
      for (let k = 0; k < rnd(4); k++) parts.push(`${alphabet[rnd(3)]}=${encodeURIComponent(alphabet[rnd(alphabet.length)]!)}`);
      const pending = s.get(`/live/ch/source/playlist.m3u8?${parts.join('&')}`);
      s.clock.advance(6001);
      const r = await pending;
      assert.ok([200, 400, 503].includes(r.statusCode), `${parts.join('&')} → ${r.statusCode}`);
    }
  } finally {
    await s.close();
  }
});

test('hls service: an added rendition shows in the multivariant playlist and in rendition reports', async () => {
  const s = await setup();
  try {
    assert.equal(s.hls.addRendition('ch', 'low'), undefined, 'not live yet');
    s.hub.publish('ch', videoTrack, audioTrack);
    const low = s.hls.addRendition('ch', 'low')!;
    assert.equal(s.hls.addRendition('ch', '../x'), undefined, 'names are one path segment');
    low.onTracks!({ ...videoTrack, width: 640, height: 360, codecString: 'avc1.42c01e' }, audioTrack);
    const lowFrames = synthFrames({ seconds: 4.5 });
    for (const f of lowFrames) low.onFrame(f);
    s.feed(4500);
    const mv = (await s.get('/live/ch/index.m3u8')).body;
    assert.match(mv, /RESOLUTION=1280x720[^\n]*\nsource\/playlist\.m3u8\n/);
    assert.match(mv, /CODECS="avc1\.42c01e,mp4a\.40\.2",RESOLUTION=640x360[^\n]*\nlow\/playlist\.m3u8\n/);
    const src = (await s.get('/live/ch/source/playlist.m3u8')).body;
    const lowPos = s.hls.packager('ch', 'low')!.lastPosition()!;
    assert.match(src, new RegExp(`#EXT-X-RENDITION-REPORT:URI="\\.\\./low/playlist\\.m3u8",LAST-MSN=${lowPos.msn},LAST-PART=${lowPos.part}\\n$`));
    const lowPl = await s.get('/live/ch/low/playlist.m3u8');
    assert.equal(lowPl.statusCode, 200);
    assert.match(lowPl.body, /#EXT-X-RENDITION-REPORT:URI="\.\.\/source\/playlist\.m3u8"/);
    const seg = lowPl.body.split('\n').find((l) => l.startsWith('seg-'))!;
    assert.equal((await s.get(`/live/ch/low/${seg}`)).statusCode, 200);
    assert.deepEqual(s.hls.stats('ch')!.renditions, ['source', 'low']);
  } finally {
    await s.close();
  }
});

test('hls service: one address counts as at most limits.hls.viewersPerIp viewers, whatever its User-Agents (issue 19 #10)', async () => {
  const s = await setup({ limits: { hls: { viewersPerIp: 5 } } });
  try {
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(4500);
    for (let i = 0; i < 201; i++) {
      const r = await s.get('/live/ch/source/playlist.m3u8', { 'user-agent': `fake-player/${i}` }, '203.0.113.9');
      assert.equal(r.statusCode, 200);
    }
    assert.equal(s.hls.stats('ch')!.viewers, 5, '201 User-Agents from one address are 5 viewers');
    // IPv6: one /64 is one address.
    for (let i = 0; i < 20; i++) await s.get('/live/ch/source/playlist.m3u8', { 'user-agent': `v6/${i}` }, `2001:db8:1:2::${i + 1}`);
    assert.equal(s.hls.stats('ch')!.viewers, 10);
    // Real viewers elsewhere still count, one each.
    for (let i = 1; i <= 3; i++) await s.get('/live/ch/source/playlist.m3u8', { 'user-agent': 'Safari' }, `198.51.100.${i}`);
    assert.equal(s.hls.stats('ch')!.viewers, 13);
    // Entries expire as before, so the address's slots come free again.
    s.clock.advance(11_000);
    assert.equal(s.hls.stats('ch')!.viewers, 0);
  } finally {
    await s.close();
  }
});

test('hls service with an origin: another node\'s channel is proxied; no node → 404; list or origin down → 503; a local live channel is served here', async () => {
  const s = await setup();
  const proxy = new HlsOriginProxy({ secret: 'unit-secret-0123456789', timeoutMs: 1000, maxInFlight: 10, cacheBytes: 1 << 20, cacheMaxAgeMs: 1000 });
  const origin = Fastify();
  origin.get('/live/*', async (req, reply) => reply.header('cache-control', 'public, max-age=12').type('application/vnd.apple.mpegurl').send(`#EXTM3U\n# ${req.url}\n`));
  await origin.listen({ port: 0, host: '127.0.0.1' });
  const originUrl = `http://127.0.0.1:${(origin.server.address() as AddressInfo).port}`;
  const where: Record<string, string | Error> = { far: originUrl, dead: 'http://127.0.0.1:1', broken: new Error('redis down'), ch: originUrl };
  s.hls.setOrigin({
    locate: async (channel) => {
      const w = where[channel];
      if (w instanceof Error) throw w;
      return w;
    },
    proxy,
  });
  try {
    const far = await s.get('/live/far/source/playlist.m3u8?_HLS_msn=3&_HLS_part=1');
    assert.equal(far.statusCode, 200);
    assert.equal(far.body, '#EXTM3U\n# /live/far/source/playlist.m3u8?_HLS_msn=3&_HLS_part=1\n');
    assert.equal(far.headers['cache-control'], 'public, max-age=12');
    assert.equal(s.hls.proxiedViewers('far'), 1);
    assert.equal((await s.get('/live/nowhere/index.m3u8')).statusCode, 404);
    const dead = await s.get('/live/dead/index.m3u8');
    assert.equal(dead.statusCode, 503);
    assert.equal(dead.json().error.code, 'unavailable');
    assert.equal((await s.get('/live/broken/index.m3u8')).statusCode, 503);
    // A channel live here is this node's, whatever the list says.
    s.hub.publish('ch', videoTrack, audioTrack);
    s.feed(3000);
    const local = await s.get('/live/ch/source/playlist.m3u8');
    assert.equal(local.statusCode, 200);
    assert.match(local.body, /#EXT-X-PART-INF/);
  } finally {
    s.hls.setOrigin(undefined);
    proxy.close();
    await origin.close();
    await s.close();
  }
});
