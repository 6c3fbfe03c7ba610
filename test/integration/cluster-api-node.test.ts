// An api-only node in a media cluster (issue 17): node A runs the media role with an ffmpeg
// publisher, node B runs `--roles api,web` (no hub, no media) on the same Redis and PostgreSQL.
// B's channel API says live with the viewers counted on A, B's /api/v1/streams lists the channel
// on A, B's thumbnail URL answers A's JPEG, B's home page (in Chromium) shows the channel with its
// viewers and thumbnail, and B sees the channel go offline when the publisher stops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { engines } from '../../testkit/db.js';
import { freePort } from '../../testkit/ports.js';
import { until } from '../../testkit/wait.js';
import { LoopPublishers } from '../../testkit/ffmpeg-loop.js';
import { ensureWebBuilt, launchBrowser, newContext } from '../e2e/helpers/web.js';

const ADMIN = 'api-node-admin-token-0123456789';
const publishers = new LoopPublishers();
let redis: RedisServer;
let dispose: (() => Promise<void>) | undefined;
let dbDir: string | undefined;
let A: TestServer;
let B: TestServer;
const players: ClientRequest[] = [];

/** play opens one HTTP-FLV player on a node and resolves once its first bytes arrived. */
function play(s: TestServer, channel: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${s.httpPort}/live/${channel}.flv`, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
      res.once('data', () => resolve());
      res.on('error', () => undefined);
    });
    req.on('error', reject);
    req.end();
    players.push(req);
  });
}

before(async () => {
  redis = await startRedis();
  const pgCase = engines().find((e) => e.engine === 'postgres' && !e.skip);
  let dbUrl: string;
  if (pgCase) {
    const opened = await pgCase.open();
    await opened.db.close();
    dbUrl = opened.url;
    dispose = () => opened.dispose().catch(() => undefined);
  } else {
    dbDir = mkdtempSync(join(tmpdir(), 'onair-apinode-'));
    dbUrl = `sqlite:${join(dbDir, 'shared.db')}`;
  }
  const portA = await freePort();
  const shared = { 'database.url': dbUrl, 'redis.url': redis.url, 'media.control.liveRefreshSeconds': 0.5, adminToken: ADMIN };
  A = await startTestServer({ ...shared, roles: ['media', 'api'], 'http.port': portA, 'media.control.advertiseUrl': `http://127.0.0.1:${portA}` });
  B = await startTestServer({ ...shared, roles: ['api', 'web'], 'web.dir': ensureWebBuilt() });
  const owner = await A.platform.users.create({ username: 'owner', password: 'password1' });
  const key = (await A.platform.channels.create({ name: 'cam', title: 'Camera one', ownerId: owner.id })).streamKey;
  await A.platform.channels.create({ name: 'idle', ownerId: owner.id });
  publishers.start(`rtmp://127.0.0.1:${A.rtmpPort}/live/${key}`);
  await until(() => A.app.media!.hub.isLive('cam'), 15_000, 'cam live on A');
  await Promise.all([play(A, 'cam'), play(A, 'cam')]);
});

after(async () => {
  for (const p of players) p.destroy();
  publishers.killAll();
  await B?.close();
  await A?.close();
  await redis?.stop();
  await dispose?.();
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

test('B runs no media: no hub, no edge pulls, only the cluster\'s live view', () => {
  assert.equal(B.app.media, undefined);
  assert.equal(B.app.edge, undefined);
  assert.ok(B.app.clusterLive, 'the live view runs on the api-only node');
  assert.ok(A.app.clusterLive, 'and on the media node');
});

test('B\'s channel API says live with the viewers counted on A; an idle channel is offline', { timeout: 20_000 }, async () => {
  const stream = await until(async () => {
    const r = await B.api('GET', '/api/v1/channels/cam');
    const st = r.body?.channel?.stream as { live: boolean; viewers?: Record<string, number> } | undefined;
    return st?.live && st.viewers?.flv === 2 && st;
  }, 10_000, 'cam live on B with A\'s 2 FLV viewers');
  assert.equal(stream.viewers?.flv, 2);
  const list = await B.api('GET', '/api/v1/channels?live=true');
  assert.deepEqual((list.body.channels as { name: string }[]).map((c) => c.name), ['cam']);
  const idle = await B.api('GET', '/api/v1/channels/idle');
  assert.equal(idle.body.channel.stream.live, false);
});

test('B\'s GET /api/v1/streams lists the channel on node A', async () => {
  const r = await B.api('GET', '/api/v1/streams', undefined, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const cam = (r.body.streams as { channel: string; nodeUrl?: string }[]).find((s) => s.channel === 'cam');
  assert.ok(cam, 'cam listed');
  assert.equal(cam.nodeUrl, `http://127.0.0.1:${A.httpPort}`);
  assert.equal(r.body.mediaHere, false);
});

test('B\'s thumbnail URL answers A\'s JPEG; a channel live nowhere has none', { timeout: 30_000 }, async () => {
  await until(async () => (await fetch(`http://127.0.0.1:${A.httpPort}/live/cam/thumbnail.jpg`)).status === 200, 20_000, 'a thumbnail on A');
  const r = await fetch(`http://127.0.0.1:${B.httpPort}/live/cam/thumbnail.jpg`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'image/jpeg');
  const jpeg = Buffer.from(await r.arrayBuffer());
  assert.deepEqual([jpeg[0], jpeg[1]], [0xff, 0xd8], 'JPEG SOI');
  assert.ok(jpeg.length > 1000, `${jpeg.length} bytes`);
  assert.equal((await fetch(`http://127.0.0.1:${B.httpPort}/live/idle/thumbnail.jpg`)).status, 404);
});

test('B\'s home page in Chromium lists the channel with A\'s viewers and its thumbnail', { timeout: 60_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const page = await (await newContext(browser, { lang: 'en' })).newPage();
    await page.goto(`http://127.0.0.1:${B.httpPort}/`);
    const card = page.locator('.channel-card', { hasText: 'Camera one' });
    await card.waitFor({ timeout: 15_000 });
    assert.match(await card.locator('.viewers').innerText(), /\b2\b/);
    const img = card.locator('.thumb img');
    await img.waitFor({ timeout: 10_000 });
    await page.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await img.elementHandle(), { timeout: 10_000 });
  } finally {
    await browser.close();
  }
});

test('the publisher stops: B says offline within a refresh of the live list', { timeout: 20_000 }, async () => {
  publishers.killAll();
  await until(() => !A.app.media!.hub.isLive('cam'), 10_000, 'cam ended on A');
  await until(async () => (await B.api('GET', '/api/v1/channels/cam')).body?.channel?.stream?.live === false, 5_000, 'cam offline on B');
  assert.equal((await fetch(`http://127.0.0.1:${B.httpPort}/live/cam/thumbnail.jpg`)).status, 404);
});
