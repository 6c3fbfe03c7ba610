/**
 * POST /whip on a whole server, without a browser: content type, keys, a live channel, the
 * on-publish callback (and the order of those checks), bad offers, unknown sessions, CORS.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from '../../testkit/server.js';

let callbackStatus = 200;
const calls: any[] = [];
const hook: Server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => { calls.push(JSON.parse(body)); res.writeHead(callbackStatus).end(); });
});
await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;

let s: TestServer | undefined;
after(async () => {
  await s?.close();
  hook.close();
});

const VP8_OFFER = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=sendonly', 'a=rtpmap:96 VP8/90000', ''].join('\r\n');

test('POST /whip: 415, 401, 403 from the callback, 400, 409, in that order; DELETE/PATCH/OPTIONS', async () => {
  s = await startTestServer({ 'record.enabled': false, 'media.onPublishUrl': hookUrl });
  const base = `http://127.0.0.1:${s.httpPort}`;
  const key = s.demoStreamKey!;
  const post = (body: string, headers: Record<string, string>) => fetch(`${base}/whip`, { method: 'POST', headers, body });
  const sdp = (k?: string) => ({ 'content-type': 'application/sdp', ...(k ? { authorization: `Bearer ${k}` } : {}) });

  const r415 = await post(VP8_OFFER, { 'content-type': 'text/plain', authorization: `Bearer ${key}` });
  assert.equal(r415.status, 415);
  assert.equal(r415.headers.get('access-control-allow-origin'), '*');
  const r401 = await post(VP8_OFFER, sdp());
  assert.equal(r401.status, 401);
  assert.equal(r401.headers.get('www-authenticate'), 'Bearer');
  assert.equal((await post(VP8_OFFER, sdp('live_wrong'))).status, 401);
  assert.equal((await post(VP8_OFFER, { 'content-type': 'application/sdp', authorization: `Basic ${key}` })).status, 401);
  assert.equal(calls.length, 0, 'no callback for a wrong key');

  callbackStatus = 403;
  const r403 = await post(VP8_OFFER, sdp(key));
  assert.equal(r403.status, 403);
  assert.match((await r403.json()).error.message, /refused by callback/);
  assert.deepEqual(calls.at(-1), { action: 'publish', channel: 'demo', clientIp: '127.0.0.1', app: 'live', protocol: 'whip' });

  callbackStatus = 204;
  const r400 = await post(VP8_OFFER, sdp(key));
  assert.equal(r400.status, 400);
  assert.match((await r400.json()).error.message, /H\.264/);
  assert.equal((await post('not sdp', sdp(key))).status, 400);
  assert.equal(s.app.hub!.isLive('demo'), false);

  // Live over RTMP (a publisher in the hub): 409, before the callback.
  const before = calls.length;
  const stream = s.app.media!.hub.publish('demo', { protocol: 'rtmp', close: () => undefined })!;
  assert.equal((await post(VP8_OFFER, sdp(key))).status, 409);
  assert.equal(calls.length, before);
  stream.end('test');
  assert.equal((await post(VP8_OFFER, sdp(key))).status, 400, 'offline again: the offer is looked at');

  assert.equal((await fetch(`${base}/whip/not-a-session`, { method: 'DELETE' })).status, 404);
  assert.equal((await fetch(`${base}/whip/00000000-0000-0000-0000-000000000000`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=end-of-candidates' })).status, 405);
  const opt = await fetch(`${base}/whip`, { method: 'OPTIONS' });
  assert.equal(opt.status, 204);
  assert.match(opt.headers.get('access-control-allow-headers') ?? '', /authorization/);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /onair_whip_refused_total\{status="401"\} 3/);
  assert.match(metrics, /onair_whip_sessions 0/);
});

test('POST /whip runs the same publish guards as RTMP (live ABR reserves rendition names): 403 with the reason', async () => {
  const t = await startTestServer({ 'record.enabled': false });
  try {
    const remove = t.app.media!.addPublishGuard(async (channel) => (channel === 'demo' ? 'demo is reserved by a guard' : null));
    const post = () => fetch(`http://127.0.0.1:${t.httpPort}/whip`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${t.demoStreamKey}` }, body: VP8_OFFER });
    const refused = await post();
    assert.equal(refused.status, 403);
    assert.match((await refused.json()).error.message, /reserved by a guard/);
    remove();
    assert.equal((await post()).status, 400, 'without the guard the offer is looked at');
  } finally {
    await t.close();
  }
});

test('media.whip.enabled=false: no /whip route', async () => {
  const t = await startTestServer({ 'record.enabled': false, 'media.whip.enabled': false });
  try {
    const r = await fetch(`http://127.0.0.1:${t.httpPort}/whip`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${t.demoStreamKey}` }, body: 'v=0\r\n' });
    assert.equal(r.status, 404);
  } finally {
    await t.close();
  }
});
