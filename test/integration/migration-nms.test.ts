// The migration kit with real Node-Media-Server: NMS and onair play the same channel behind
// Debian's nginx running docs/nginx/nms-split.conf. Of 100 simulated viewers (distinct
// User-Agents; nginx splits on address and agent) 10 ± 5 reach onair, each side plays FLV, one
// viewer always lands on the same side, and QoE beacons reach onair labelled by the side.
// Broadcasters keep their NMS URLs: onair takes NMS's signed publish path and an imported key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { LoopPublishers, exited } from '../../testkit/ffmpeg-loop.js';
import { freePort } from '../../testkit/ports.js';
import { until } from '../../testkit/wait.js';
import { httpTempPaths, mainConf, nginxPrefix, portOpen, startNginx, type NginxProcess } from '../../testkit/nginx.js';
import { replaceOnce, shippedConf } from '../../testkit/shipped-conf.js';
import { nmsSign } from '../../src/media/rtmp/nms-sign.js';

const CHANNEL = 'mig';
const NMS_SECRET = 'nms-auth-secret-0123456789';
const IMPORTED_KEY = 'encoder-kept-key-0123456789';
const VIEWERS = 100;

let s: TestServer;
let nms: ChildProcess | undefined;
let nmsDir = '';
let nmsHttp = 0;
let nginx: NginxProcess | undefined;
let nginxPort = 0;
const publishers = new LoopPublishers();

before(async () => {
  s = await startTestServer({ variant: 'onair', 'http.trustProxy': ['127.0.0.1'], 'migration.nms.secret': NMS_SECRET, 'qoe.burst': 1000 });
  await s.platform.channels.create({ name: CHANNEL, streamKey: IMPORTED_KEY });
  await s.platform.channels.create({ name: 'other' });

  // Node-Media-Server 4 (npm node-media-server), open publish and play, no admin UI.
  nmsDir = mkdtempSync(join(tmpdir(), 'onair-nms-'));
  const nmsRtmp = await freePort();
  nmsHttp = await freePort();
  writeFileSync(join(nmsDir, 'config.json'), JSON.stringify({
    bind: '127.0.0.1', notify: { url: '' }, store: { path: join(nmsDir, 'data'), maxHistory: 100 },
    auth: { play: false, publish: false, secret: NMS_SECRET, jwt: { secret: 'nms-jwt-secret-0123456789abcdef0123456789', expiresIn: '1h', refreshExpiresIn: '1h', algorithm: 'HS256', users: [] } },
    rtmp: { port: nmsRtmp }, http: { port: nmsHttp }, webadmin: { enable: false }, record: { auto: false, path: join(nmsDir, 'record') },
  }));
  nms = spawn(process.execPath, ['node_modules/node-media-server/bin/app.js', '-c', join(nmsDir, 'config.json'), '--no-admin'], { stdio: 'ignore' });
  await until(() => portOpen(nmsHttp), 15_000, 'Node-Media-Server listening');
  await until(() => portOpen(nmsRtmp), 15_000, 'Node-Media-Server RTMP listening');

  // The broadcaster's one NMS URL, signed the NMS way, goes to both servers unchanged.
  const expires = Math.floor(Date.now() / 1000) + 3600;
  const signed = `live/${CHANNEL}?sign=${nmsSign(`/live/${CHANNEL}`, expires, NMS_SECRET)}`;
  publishers.start(`rtmp://127.0.0.1:${nmsRtmp}/${signed}`);
  publishers.start(`rtmp://127.0.0.1:${s.rtmpPort}/${signed}`);
  await until(async () => (await s.api('GET', `/api/v1/channels/${CHANNEL}`)).body.channel.stream.live === true, 20_000, 'live on onair (signed NMS path)');
  await until(() => flvFrom(`http://127.0.0.1:${nmsHttp}/live/${CHANNEL}.flv`, 'probe').then((r) => r.flv, () => false), 20_000, 'live on NMS');

  const dir = nginxPrefix('nms-split');
  nginxPort = await freePort();
  const shipped = shippedConf('nginx/nms-split.conf');
  let conf = replaceOnce(shipped.text, 'server 10.0.0.21:8080;', `server 127.0.0.1:${s.httpPort};`, shipped.path);
  conf = replaceOnce(conf, 'server 10.0.0.31:8000;', `server 127.0.0.1:${nmsHttp};`, shipped.path);
  conf = replaceOnce(conf, 'listen 80;', `listen 127.0.0.1:${nginxPort};`, shipped.path);
  writeFileSync(join(dir, 'nms-split.conf'), conf);
  nginx = await startNginx(dir, `${mainConf(dir)}http {\n  access_log off;\n${httpTempPaths(dir)}\n  include ${dir}/nms-split.conf;\n}\n`, nginxPort, 'nginx (nms-split.conf)');
});

after(async () => {
  publishers.killAll();
  await nginx?.stop();
  if (nms?.exitCode === null) nms.kill('SIGKILL');
  if (nmsDir) rmSync(nmsDir, { recursive: true, force: true });
  await s?.close();
});

/** flvFrom GETs an FLV URL as one viewer (its User-Agent), reads the FLV header and keeps or ends the connection. */
function flvFrom(url: string, agent: string, keep = false): Promise<{ flv: boolean; variant: string | null; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { 'user-agent': agent } }, (res) => {
      let got = Buffer.alloc(0);
      const close = () => req.destroy();
      const timer = setTimeout(() => { close(); resolve({ flv: false, variant: String(res.headers['x-onair-variant'] ?? '') || null, close }); }, 10_000);
      res.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 13) return;
        clearTimeout(timer);
        res.removeAllListeners('data');
        if (!keep) close();
        else res.resume();
        resolve({ flv: got.subarray(0, 3).toString() === 'FLV', variant: (res.headers['x-onair-variant'] as string | undefined) ?? null, close });
      });
      res.on('error', () => undefined);
    });
    req.on('error', reject);
    req.end();
  });
}

const onairViewers = async (): Promise<number> => {
  const viewers = (await s.api('GET', `/api/v1/channels/${CHANNEL}`)).body.channel.stream.viewers as Record<string, number> | number | undefined;
  return typeof viewers === 'number' ? viewers : Object.values(viewers ?? {}).reduce((a, n) => a + n, 0);
};

test('100 viewers through the split: 10 ± 5 reach onair, both sides play, a viewer keeps its side, beacons come labelled', { timeout: 120_000 }, async () => {
  const url = `http://127.0.0.1:${nginxPort}/live/${CHANNEL}.flv`;
  const base = await onairViewers();
  const seen: { agent: string; variant: string | null; flv: boolean; close: () => void }[] = [];
  for (let i = 0; i < VIEWERS; i += 10) {
    seen.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => `Mozilla/5.0 viewer-${i + j}`).map(async (agent) => ({ agent, ...(await flvFrom(url, agent, true)) })))));
  }
  try {
    const onair = seen.filter((v) => v.variant === 'onair');
    const other = seen.filter((v) => v.variant === 'nms');
    assert.equal(onair.length + other.length, VIEWERS, `variants: ${seen.map((v) => v.variant).join(',')}`);
    assert.ok(onair.length >= 5 && onair.length <= 15, `${onair.length} of ${VIEWERS} on onair`);
    assert.deepEqual(seen.filter((v) => !v.flv).map((v) => `${v.agent} (${v.variant})`), [], 'every viewer gets FLV');
    // The ones labelled onair are onair's viewers: its own count went up by exactly that many.
    await until(async () => (await onairViewers()) - base === onair.length, 10_000, `onair counts ${onair.length} more viewers`);
  } finally {
    for (const v of seen) v.close();
  }
  // Sticky: the same address and agent land on the same side again.
  for (const v of seen.slice(0, 12)) assert.equal((await flvFrom(url, v.agent)).variant, v.variant, v.agent);

  // QoE beacons from each viewer, through nginx: onair counts them under the viewer's side.
  for (const v of seen) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`http://127.0.0.1:${nginxPort}/api/v1/qoe`, { method: 'POST', headers: { 'user-agent': v.agent, 'content-type': 'application/json' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end(JSON.stringify({ protocol: 'flv', event: 'start', startupMs: 700, latencyMs: 1500 }));
    });
    assert.equal(status, 202);
  }
  const metrics = await (await fetch(`${s.httpUrl.replace('0.0.0.0', '127.0.0.1')}/metrics`)).text();
  const count = (variant: string) => Number(new RegExp(`onair_qoe_sessions_total\\{variant="${variant}",protocol="flv"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  assert.equal(count('onair'), seen.filter((v) => v.variant === 'onair').length);
  assert.equal(count('nms'), seen.filter((v) => v.variant === 'nms').length);
});

test('the NMS publish path needs a valid sign (or a listed address); the imported key publishes', { timeout: 60_000 }, async () => {
  const rtmp = `rtmp://127.0.0.1:${s.rtmpPort}`;
  const refusedWithin = async (path: string) => {
    const p = publishers.start(`${rtmp}/${path}`);
    const code = await exited(p, 15_000);
    assert.notEqual(code, 0, `${path} refused`);
  };
  await refusedWithin('live/other');
  await refusedWithin(`live/other?sign=${nmsSign('/live/other', Math.floor(Date.now() / 1000) - 10, NMS_SECRET)}`);
  await refusedWithin(`live/other?sign=${nmsSign('/live/other', Math.floor(Date.now() / 1000) + 60, 'a-different-secret-0123')}`);
  await refusedWithin(`live/nosuchchannel?sign=${nmsSign('/live/nosuchchannel', Math.floor(Date.now() / 1000) + 60, NMS_SECRET)}`);
  assert.equal((await s.api('GET', '/api/v1/channels/other')).body.channel.stream.live, false);
  // The key the encoder already had, imported with the channel, publishes as any stream key does.
  publishers.killAll();
  await until(async () => (await s.api('GET', `/api/v1/channels/${CHANNEL}`)).body.channel.stream.live === false, 15_000, 'mig offline');
  publishers.start(`${rtmp}/live/${IMPORTED_KEY}`);
  await until(async () => (await s.api('GET', `/api/v1/channels/${CHANNEL}`)).body.channel.stream.live === true, 20_000, 'live with the imported key');
});

test('encoders at migration.nms.publishers addresses publish to live/NAME without a key; other addresses cannot', { timeout: 60_000 }, async () => {
  const listed = await startTestServer({ 'migration.nms.publishers': ['127.0.0.1'] });
  const unlisted = await startTestServer({ 'migration.nms.publishers': ['10.9.9.0/24'] });
  try {
    for (const node of [listed, unlisted]) await node.platform.channels.create({ name: 'cam' });
    const p = publishers.start(`rtmp://127.0.0.1:${unlisted.rtmpPort}/live/cam`);
    assert.notEqual(await exited(p, 15_000), 0, 'refused from an unlisted address');
    publishers.start(`rtmp://127.0.0.1:${listed.rtmpPort}/live/cam`);
    await until(async () => (await listed.api('GET', '/api/v1/channels/cam')).body.channel.stream.live === true, 20_000, 'live from a listed address');
    // Only existing channels: the path is not a way to make one.
    const q = publishers.start(`rtmp://127.0.0.1:${listed.rtmpPort}/live/ghost`);
    assert.notEqual(await exited(q, 15_000), 0, 'no channel ghost');
  } finally {
    publishers.killAll();
    await listed.close();
    await unlisted.close();
  }
});
