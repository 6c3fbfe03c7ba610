// The web pages of stream control in Chromium: the studio's Restream card adds a target (the
// key masked), shows its state (a target nobody listens on: reconnecting with the error),
// switches it off and ends the stream with a reconnect block; the admin page's End button
// (with its confirm) ends another stream. No page errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { until } from '../../testkit/wait.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, registerUser, screenshots } from '../e2e/helpers/web.js';

const FIXTURE = new URL('../fixtures/media/h264-aac-640x360.flv', import.meta.url).pathname;
const children = new Set<ChildProcess>();
let s: TestServer;
let browser: Browser;

function publish(key: string): ChildProcess {
  const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${key}`], { stdio: 'ignore' });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return p;
}

/** closedPort is a local port nobody listens on (a restream target that refuses connections). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Optional APIs answer 404 and the studio's probes 401/404; anything else is a bug. */
const realErrors = (errs: string[]) => errs.filter((e) => !/Failed to load resource: the server responded with a status of (40[14]|422)/.test(e));

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), 'media.restream.allowPrivateTargets': true, 'record.enabled': false });
  browser = await launchBrowser();
});
after(async () => {
  for (const p of children) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
  await browser?.close().catch(() => undefined);
  await s?.close();
});

test('studio Restream card: add, state, switch off, end with a block; admin End button', { timeout: 120_000 }, async () => {
  const owner = await registerUser(s, 'webcaster');
  const key = (await s.api('POST', '/api/v1/channels', { name: 'webch' }, owner.token)).body.streamKey as string;
  const key2 = (await s.api('POST', '/api/v1/channels', { name: 'webch2' }, owner.token)).body.streamKey as string;
  publish(key);
  await until(() => s.app.hub!.isLive('webch'), 15_000, 'webch live');
  const port = await closedPort();

  const ctx = await newContext(browser, { token: owner.token, lang: 'en' });
  const page = await ctx.newPage();
  const errors = collectErrors(page);
  page.on('dialog', (d) => void d.accept());
  await page.goto(`http://127.0.0.1:${s.httpPort}/studio`);
  const card = page.locator('#restream');
  await card.getByText('No restream targets yet.').waitFor();
  await card.getByLabel('Name').fill('Nowhere');
  await card.getByLabel('RTMP URL').fill(`rtmp://127.0.0.1:${port}/live2`);
  await card.getByLabel('Stream key').fill('secret-web-key-1234');
  await card.getByRole('button', { name: 'Add target' }).click();
  const item = card.locator('li[data-restream]');
  await item.waitFor();
  assert.match(await item.innerText(), /Nowhere/);
  assert.match(await item.innerText(), /\*\*\*\*1234/);
  assert.doesNotMatch(await page.content(), /secret-web-key-1234(?!")/, 'the key is not shown after saving');
  // nothing listens there: the relay keeps reconnecting and the card says why
  await card.locator('li[data-state="waiting"]').waitFor({ timeout: 20_000 });
  await card.getByText(/target unreachable/).waitFor();
  assert.equal(s.app.media!.listRelays().length, 1);
  await screenshots(page, 'studio-restream');

  await item.getByRole('checkbox').uncheck();
  await card.locator('li[data-state="stopped"]').waitFor();
  assert.equal(s.app.media!.listRelays().length, 0);

  // End stream with a 10 min block
  await card.getByLabel('Refuse reconnects for').selectOption('600');
  await card.getByRole('button', { name: 'End stream' }).click();
  await card.getByText(/Stream ended\. New publishes refused until/).waitFor();
  await until(() => !s.app.hub!.isLive('webch'), 5000, 'webch offline');
  assert.equal((await s.app.media!.authorizePublish(key, '127.0.0.1', 'rtmp')).ok, false);
  await card.getByRole('button', { name: 'Allow publishing now' }).click();
  await until(async () => (await s.app.media!.authorizePublish(key, '127.0.0.1', 'rtmp')).ok, 5000, 'block lifted');
  assert.deepEqual(realErrors(errors), []);
  await ctx.close();

  // Admin page: the live table has an End button per stream
  publish(key2);
  await until(() => s.app.hub!.isLive('webch2'), 15_000, 'webch2 live');
  const boss = await registerUser(s, 'bossy');
  await s.api('POST', '/api/v1/users', { username: 'root2', password: 'correct-horse-9', admin: true }, s.secrets.adminToken);
  const adminToken = (await s.api('POST', '/api/v1/auth/login', { username: 'root2', password: 'correct-horse-9' })).body.token as string;
  assert.ok(boss.token);
  const actx = await newContext(browser, { token: adminToken, lang: 'en' });
  const apage = await actx.newPage();
  const aerrors = collectErrors(apage);
  let confirmed = '';
  apage.on('dialog', (d) => { confirmed = d.message(); void d.accept(); });
  await apage.goto(`http://127.0.0.1:${s.httpPort}/admin`);
  const endBtn = apage.locator('button[data-end="webch2"]');
  await endBtn.waitFor({ timeout: 15_000 });
  await endBtn.click();
  await until(() => !s.app.hub!.isLive('webch2'), 5000, 'webch2 ended from the admin page');
  assert.match(confirmed, /webch2/);
  await apage.locator('button[data-end="webch2"]').waitFor({ state: 'detached', timeout: 10_000 });
  assert.deepEqual(realErrors(aerrors), []);
  await actx.close();
});
