// Chat replay in Chromium: a recorded live session with chat (two messages from the SDK, a super
// chat, one message a manager deletes) gives GET /api/v1/vods/{id}/chat with offsets, and the VOD
// page shows each message once the video reaches it: nothing before the first, a seek jumps,
// a seek back hides what comes later, and playback at 2x brings the next one in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { WebSocket } from 'ws';
import { Centrifuge } from 'centrifuge';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { sleep } from '../../testkit/wait.js';
import { collectErrors, ensureWebBuilt, launchBrowser, newContext, publishTestStream, registerUser, stopProcess, waitFor } from './helpers/web.js';

let s: TestServer;
let browser: Browser;
let ff: ChildProcess | undefined;
let client: Centrifuge | undefined;

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt(), 'hls.enabled': false });
  browser = await launchBrowser();
});
after(async () => {
  client?.disconnect();
  stopProcess(ff);
  await browser?.close().catch(() => undefined);
  await s?.close();
});

test('a recorded session with chat replays in sync on the VOD page', { timeout: 180_000 }, async () => {
  const owner = await registerUser(s, 'replayhost');
  const fan = await registerUser(s, 'replayfan', '리플팬');
  const key = (await s.api('POST', '/api/v1/channels', { name: 'replay' }, owner.token)).body.streamKey as string;
  assert.equal((await s.api('POST', '/api/v1/wallet/credits', { username: 'replayfan', amount: 10_000 }, s.secrets.adminToken)).status, 201);
  ff = publishTestStream(s.rtmpPort!, key, 14);
  await waitFor('recording', async () => (await s.api('GET', '/api/v1/vods?channel=replay&state=all')).body.vods?.[0], 20_000);

  const { token } = (await s.api('POST', '/api/v1/chat/token', undefined, fan.token)).body as { token: string };
  client = new Centrifuge(`ws://127.0.0.1:${s.httpPort}/connection/websocket`, { websocket: WebSocket, token });
  const sub = client.newSubscription('chat:replay');
  const subscribed = new Promise((r) => sub.once('subscribed', r));
  sub.subscribe();
  client.connect();
  await subscribed;
  await sleep(1500);
  await sub.publish({ text: '첫 번째 메시지' });
  await sub.publish({ text: '지워질 메시지' });
  await sleep(3000);
  await sub.publish({ text: '두 번째 메시지' });
  const sc = await s.api('POST', '/api/v1/channels/replay/superchats', { amount: 2_000, message: '응원합니다' }, fan.token, { 'idempotency-key': 'replay-1' });
  assert.equal(sc.status, 201, JSON.stringify(sc.body));
  // A manager deletes one message: the replay leaves it out.
  const history = await sub.history({ limit: 20 });
  const doomed = history.publications.map((p) => p.data as { id?: string; text?: string }).find((d) => d.text === '지워질 메시지');
  assert.ok(doomed?.id);
  const del = await s.api('DELETE', `/api/v1/channels/replay/moderation/messages/${doomed.id}`, undefined, owner.token);
  assert.ok(del.status === 200 || del.status === 204, `delete: ${del.status} ${JSON.stringify(del.body)}`);

  const vod = await waitFor('ready VOD', async () => {
    const list = (await s.api('GET', '/api/v1/vods?channel=replay&state=all')).body.vods as { id: string; state: string }[] | undefined;
    return list?.find((v) => v.state === 'ready');
  }, 60_000, 250);
  const replay = (await s.api('GET', `/api/v1/vods/${vod.id}/chat`)).body as { messages: { offsetMs: number; type: string; text?: string; message?: string; user: { name: string } }[]; next: string | null };
  assert.deepEqual(replay.messages.map((m) => [m.type, m.text ?? m.message]), [['message', '첫 번째 메시지'], ['message', '두 번째 메시지'], ['superchat', '응원합니다']]);
  assert.equal(replay.next, null);
  const [first, second] = replay.messages.map((m) => m.offsetMs);
  assert.ok(first !== undefined && second !== undefined && first > 0 && second - first >= 2500, `offsets ${first} ${second}`);
  assert.equal(replay.messages[0]?.user.name, '리플팬');
  const fromSecond = await s.api("GET", `/api/v1/vods/${vod.id}/chat?from=${second}`);
  assert.equal(fromSecond.body.messages?.length, 2, `from: the second message on: ${JSON.stringify(fromSecond.body)}`);
  assert.equal((await s.api('GET', '/api/v1/vods/nope/chat')).status, 404);

  const ctx = await newContext(browser, { lang: 'ko' });
  const page = await ctx.newPage();
  const errors = collectErrors(page);
  await page.goto(`http://127.0.0.1:${s.httpPort}/vod/${vod.id}`);
  await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 1, undefined, { timeout: 20_000 });
  const texts = () => page.locator('.chat-replay .chat-row .text').allTextContents().then((l) => l.map((x) => x.trim()));
  const seekTo = (ms: number) => page.evaluate(async (at) => {
    const v = document.querySelector('video');
    if (!v) throw new Error('no video');
    v.pause();
    await new Promise<void>((r) => { v.addEventListener('seeked', () => r(), { once: true }); v.currentTime = at / 1000; });
  }, ms);
  await page.getByText('채팅 다시보기').waitFor();
  await seekTo(Math.max(0, first - 500));
  await page.getByText('이 시점까지 채팅이 없어요.').waitFor({ timeout: 5_000 });
  await seekTo(second + 300);
  await waitFor('both messages after a seek past the second', async () => (await texts()).join('|') === '첫 번째 메시지|두 번째 메시지|응원합니다' || (await texts()).join('|') === '첫 번째 메시지|두 번째 메시지', 5_000);
  await seekTo(first + 200);
  await waitFor('a seek back hides the later ones', async () => (await texts()).join('|') === '첫 번째 메시지', 5_000);
  // Play at 2x from just after the first: the second appears once the video reaches its offset.
  await page.evaluate(() => { const v = document.querySelector('video'); if (v) { v.muted = true; v.playbackRate = 2; void v.play(); } });
  const shownAt = await waitFor('the second message while playing at 2x', async () => {
    const l = await texts();
    return l.includes('두 번째 메시지') ? page.evaluate(() => (document.querySelector('video')?.currentTime ?? 0) * 1000) : undefined;
  }, 15_000, 50);
  assert.ok(shownAt >= second, `shown at ${shownAt} ms, offset ${second}`);
  assert.ok(shownAt < second + 1500, `shown late: ${shownAt} ms, offset ${second}`);
  assert.deepEqual(errors.filter((e) => !/status of 40[14]/.test(e)), []);
  await ctx.close();
});
