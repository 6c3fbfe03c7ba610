/**
 * The web app words the server's refusals (issue 19): with one chat WebSocket and one HTTP-FLV
 * viewer allowed per address and both held by this test, a browser from the same address reads
 * in its language why its chat and its HTTP-FLV player are refused (too_many_connections: the
 * chat asks GET /api/v1/chat/admission, the player maps mpegts.js's 429); and the owner's studio
 * says why the stream is not recorded (disk_floor). Korean and English.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ensureWebBuilt, launchBrowser, newContext, publishTestStream, registerUser, stopProcess, waitFor } from './helpers/web.js';

const CHANNEL = 'refusecam';
const WORDS = {
  ko: { connections: '같은 네트워크에서 이미 너무 많이 연결돼 있어요', disk: '녹화 안 함: 서버의 디스크 공간이 부족해요.' },
  en: { connections: 'Too many connections from your network are open already', disk: 'Not recording: the server is low on disk space.' },
} as const;

let s: TestServer;
let browser: Browser;
let owner: { token: string; id: string };
let ffmpeg: ChildProcess | undefined;
let chatHolder: Centrifuge | undefined;
const flvHolder = new AbortController();
const chatStreamHolder = new AbortController();

before(async () => {
  s = await startTestServer({
    'web.dir': ensureWebBuilt(),
    // WebSocket and the HTTP fallbacks (http_stream, sse) each take one connection per address here.
    'limits.chatWs.perIp': 1, 'limits.chatHttp.perIp': 1, 'limits.flv.perIp': 1,
    // Every recording is refused at once: the free-disk floor is above any disk.
    'record.minFreeBytes': Number.MAX_SAFE_INTEGER,
  });
  owner = await registerUser(s, 'refusals');
  const c = await s.api('POST', '/api/v1/channels', { name: CHANNEL }, owner.token);
  ffmpeg = publishTestStream(s.rtmpPort!, c.body.streamKey as string, 90);
  await waitFor('the channel live', async () => (await s.api('GET', `/api/v1/channels/${CHANNEL}/live`, undefined, owner.token)).body.live === true, 20_000, 200);
  // The address's only chat WebSocket and only HTTP-FLV viewer, held for the whole file.
  // A connected client (a bare socket would be closed as stale after 10 s).
  const token = (await s.api('POST', '/api/v1/chat/token', {})).body.token as string;
  const holder = new Centrifuge(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, { websocket: WebSocket, token });
  chatHolder = holder;
  const up = new Promise<void>((resolve) => holder.once('connected', () => resolve()));
  holder.connect();
  await up;
  // …and its only chat HTTP stream, so the web app's fallback transports are refused too.
  const stream = await fetch(`http://127.0.0.1:${s.httpPort}/connection/uni_http_stream`, { method: 'POST', body: JSON.stringify({ token }), headers: { 'content-type': 'application/json' }, signal: chatStreamHolder.signal });
  assert.equal(stream.status, 200);
  void stream.body?.pipeTo(new WritableStream()).catch(() => undefined);
  const flv = await fetch(`http://127.0.0.1:${s.httpPort}/live/${CHANNEL}.flv`, { signal: flvHolder.signal });
  assert.equal(flv.status, 200);
  void flv.body?.pipeTo(new WritableStream()).catch(() => undefined);
  assert.equal((await s.api('GET', '/api/v1/chat/admission')).body.error.code, 'too_many_connections');
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  chatHolder?.disconnect();
  flvHolder.abort();
  chatStreamHolder.abort();
  stopProcess(ffmpeg);
  await s?.close();
});

for (const lang of ['ko', 'en'] as const) {
  test(`a viewer whose address is at the caps reads why chat and HTTP-FLV are refused (${lang})`, { timeout: 60_000 }, async () => {
    const ctx = await newContext(browser, { lang });
    try {
      const page = await ctx.newPage();
      await page.goto(`http://127.0.0.1:${s.httpPort}/watch/${CHANNEL}?protocol=flv`);
      await page.locator('.chat [data-state="refused"]', { hasText: WORDS[lang].connections }).waitFor({ timeout: 20_000 });
      await page.locator('.player-status.error', { hasText: WORDS[lang].connections }).waitFor({ timeout: 20_000 });
    } finally {
      await ctx.close();
    }
  });

  test(`the studio says why the live stream is not recorded (${lang})`, { timeout: 60_000 }, async () => {
    const ctx = await newContext(browser, { lang, token: owner.token });
    try {
      const page = await ctx.newPage();
      await page.goto(`http://127.0.0.1:${s.httpPort}/studio`);
      await page.locator('[data-stat="recording-refused"]', { hasText: WORDS[lang].disk }).waitFor({ timeout: 15_000 });
    } finally {
      await ctx.close();
    }
  });
}
