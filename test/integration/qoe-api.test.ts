// POST /api/v1/qoe on a whole onair: the operators' kit acceptance beacon becomes histograms by
// variant in /metrics; other sites, junk, floods and oversized bodies are refused without a trace
// in the metrics; a node's variant is stamped on its answers and a trusted proxy's header wins.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestServer, type TestServer } from '../../testkit/server.js';

const ADMIN = 'qoe-admin-token-0123456789';
let s: TestServer;
let base: string;

before(async () => {
  s = await startTestServer({ adminToken: ADMIN, variant: 'stable', 'qoe.burst': 5, 'qoe.perMinutePerIp': 6, 'http.trustProxy': ['127.0.0.2'] });
  base = `http://127.0.0.1:${s.httpPort}`;
});
after(async () => {
  await s?.close();
});

const metrics = async () => (await fetch(`${base}/metrics`)).text();
const beacon = (body: unknown, headers: Record<string, string> = {}) => s.api('POST', '/api/v1/qoe', body, undefined, headers);

test('the acceptance beacon is accepted (202) and shows up as onair_qoe_* histograms labelled canary', async () => {
  const r = await beacon({ variant: 'canary', protocol: 'flv', startupMs: 800, latencyMs: 1200, stalls: 1, stallMs: 400, event: 'start' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.deepEqual(r.body, { accepted: 1 });
  const text = await metrics();
  assert.match(text, /onair_qoe_startup_seconds_bucket\{le="1",variant="canary",protocol="flv"\} 1/);
  assert.match(text, /onair_qoe_latency_seconds_count\{variant="canary",protocol="flv"\} 1/);
  assert.match(text, /onair_qoe_stalls_total\{variant="canary",protocol="flv"\} 1/);
  // A beacon naming no variant counts under the node's own (config variant).
  assert.equal((await beacon({ protocol: 'llhls', latencyMs: 2000 })).status, 202);
  assert.match(await metrics(), /onair_qoe_beacons_total\{variant="stable",protocol="llhls"\} 1/);
  // The admin comparison lists both arms; anonymous callers may not read it.
  const admin = await s.api('GET', '/api/v1/admin/qoe', undefined, ADMIN);
  assert.equal(admin.status, 200);
  assert.equal(admin.body.node, 'stable');
  assert.deepEqual(admin.body.variants.map((v: { variant: string; protocol: string }) => `${v.variant}/${v.protocol}`), ['canary/flv', 'stable/llhls']);
  assert.equal(admin.body.variants[0].sessions, 1);
  assert.equal((await s.api('GET', '/api/v1/admin/qoe')).status, 401);
});

test('every answer carries the node variant; a trusted proxy stamps the variant of the beacon request', async () => {
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.headers.get('x-onair-variant'), 'stable');
  // The peer 127.0.0.1 is not in http.trustProxy: its header is the client's word, not believed.
  assert.equal((await beacon({ protocol: 'webrtc' }, { 'x-onair-variant': 'forged' })).status, 202);
  const text = await metrics();
  assert.doesNotMatch(text, /variant="forged"/);
  assert.match(text, /onair_qoe_beacons_total\{variant="stable",protocol="webrtc"\} 1/);
  // From 127.0.0.2 (a proxy in http.trustProxy) the stamped variant counts, over the beacon's own.
  const status = await new Promise<number>((resolve, reject) => {
    const body = JSON.stringify({ protocol: 'webrtc', variant: 'from-player' });
    const req = request({ host: '127.0.0.1', port: s.httpPort, localAddress: '127.0.0.2', method: 'POST', path: '/api/v1/qoe', headers: { 'content-type': 'application/json', 'x-onair-variant': 'split-b' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status, 202);
  assert.match(await metrics(), /onair_qoe_beacons_total\{variant="split-b",protocol="webrtc"\} 1/);
});

test('a beacon from another site, junk and an oversized body are refused and leave no trace', async () => {
  const before = await metrics();
  const cross = await beacon({ protocol: 'flv', variant: 'evil' }, { 'sec-fetch-site': 'cross-site' });
  assert.equal(cross.status, 403);
  assert.equal(cross.body.error.code, 'cross_origin_beacon');
  const origin = await beacon({ protocol: 'flv', variant: 'evil' }, { origin: 'https://evil.example' });
  assert.equal(origin.status, 403);
  const junk = await beacon({ protocol: 'flv', variant: 'evil', startupMs: 'fast' });
  assert.equal(junk.status, 400);
  assert.match(junk.body.error.message, /startupMs/);
  const big = await beacon({ beacons: new Array(400).fill({ protocol: 'flv', variant: 'evil' }) });
  assert.equal(big.status, 413);
  const text = await metrics();
  assert.doesNotMatch(text, /variant="evil"/);
  assert.equal(text.match(/onair_qoe_beacons_total\{[^}]*\} \d+/g)?.join(), before.match(/onair_qoe_beacons_total\{[^}]*\} \d+/g)?.join());
});

test('a flood from one address is cut at the burst (429)', async () => {
  let refused = 0;
  for (let i = 0; i < 20; i++) if ((await beacon({ protocol: 'hls' })).status === 429) refused++;
  assert.ok(refused >= 10, `${refused} of 20 refused`);
  const r = await beacon({ protocol: 'hls' });
  assert.equal(r.status, 429);
  assert.equal(r.body.error.code, 'too_many_requests');
});
