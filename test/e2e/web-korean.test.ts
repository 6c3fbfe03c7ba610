/**
 * The web app in Korean (a ko-KR browser), page by page in headless Chromium: home, watch (live
 * chat and offline), studio with its moderation panels, admin, a VOD that does not exist, the
 * not-found page and the login and super chat dialogs. Each fails on any visible English word
 * outside an allowlist of names (protocols, codecs, products) and the page's user content. Also:
 * `/slow 10` typed by the owner shows a Korean system line and no English (issue 22).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ensureWebBuilt, launchBrowser, newContext, registerUser } from './helpers/web.js';

/**
 * ALLOWED are the Latin-script words a Korean page may show: protocol, codec and product names,
 * units, the app's name and the chat commands' own words (typed as they are).
 */
const ALLOWED = new Set([
  'onair', 'live', 'rtmp', 'rtmps', 'srt', 'rtsp', 'whip', 'webrtc', 'obs', 'hls', 'flv', 'http', 'https', 'url',
  'h', 'hevc', 'avc', 'aac', 'opus', 'x264', 'cbr', 'kbps', 'mbps', 'khz', 'fps', 'veryfast', 'zerolatency', 'high', 'tts',
  'english', // the language switcher names each language in itself
  'whisper', 'pocketsphinx', // speech recognisers, by their names
  'youtube', 'twitch', 'bearer', 'kb', 'mb', 'gb', 'tb', 'b', 'p', 'gg', 'wp', 'ok', 'id',
  'wav', 'ogg', 'mp3', // sound file formats the alert-sound upload takes
  // chat commands and their arguments, typed as they are
  'help', 'ban', 'unban', 'timeout', 'untimeout', 'slow', 'off', 'on', 'subonly', 'followonly', 'emoteonly', 'uniquechat', 'blocklinks',
  'defaultfilter', 'clear', 'delete', 'mod', 'unmod', 'mods', 'filter', 'add', 'remove', 'list', 'mask', 'hold', 'block', 'allow',
]);

let s: TestServer;
let browser: Browser;
let base: string;
let owner: { token: string; id: string };
let admin: { token: string; id: string };
const contexts: BrowserContext[] = [];

/** USER_CONTENT is what users typed (names, titles, chat): shown as is in any language. */
const USER_CONTENT = ['minji', 'Minji Live', 'admin', 'demo', 'viewer1', 'hello everyone'];

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt() });
  base = `http://127.0.0.1:${s.httpPort}`;
  owner = await registerUser(s, 'minji', '민지');
  const c = await s.api('POST', '/api/v1/channels', { name: 'minji', title: 'Minji Live' }, owner.token);
  assert.equal(c.status, 201);
  const a = await s.platform.users.create({ username: 'admin', password: 'password1', admin: true });
  admin = { id: a.id, token: (await s.platform.sessions.create(a.id)).token };
  browser = await launchBrowser();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await s?.close();
});

async function koreanPage(token?: string): Promise<Page> {
  const ctx = await newContext(browser, { lang: 'ko', ...(token ? { token } : {}) });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

/** englishWords lists the Latin-script words visible on the page, URLs, commands, allowed names and user content left out. */
async function englishWords(page: Page): Promise<string[]> {
  const text = await page.evaluate(() => {
    // Visible text plus what users read in form controls (placeholders, the selected option, button values).
    const extra = [...document.querySelectorAll<HTMLInputElement>('input[placeholder], textarea[placeholder]')].map((e) => e.placeholder);
    const selected = [...document.querySelectorAll<HTMLSelectElement>('select')].map((e) => e.selectedOptions[0]?.textContent ?? '');
    return [document.body.innerText, ...extra, ...selected].join('\n');
  });
  let rest = text;
  for (const u of USER_CONTENT) rest = rest.split(u).join(' ');
  rest = rest
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, ' ') // URLs
    .replace(/\b[\w.-]+\.(?:jpg|png|mp4|m3u8|vtt)\b/gi, ' ') // file names
    .replace(/(^|\s)\/[a-z]+/gi, ' ') // chat commands
    .replace(/\b[A-Z0-9_]{2,}\b/g, ' '); // placeholders such as STREAM_KEY, codes such as H264
  const words = rest.match(/[A-Za-z][A-Za-z0-9]*/g) ?? [];
  return [...new Set(words.filter((w) => !ALLOWED.has(w.toLowerCase())))];
}

/** noEnglish asserts a page shows no English word (it names the page and the words). */
async function noEnglish(page: Page, what: string): Promise<void> {
  const words = await englishWords(page);
  assert.deepEqual(words, [], `${what}: English words in the Korean UI`);
}

test('every page and dialog of the Korean UI shows no English', { timeout: 120_000 }, async () => {
  const anon = await koreanPage();
  await anon.goto(base + '/');
  await anon.locator('main').waitFor();
  await anon.waitForLoadState('networkidle');
  await noEnglish(anon, 'home');
  await anon.getByRole('button', { name: '로그인' }).first().click();
  await anon.locator('dialog#login').waitFor();
  await noEnglish(anon, 'login dialog');
  await anon.goto(base + '/watch/demo');
  await anon.locator('.offline-title').waitFor();
  await noEnglish(anon, 'watch (offline, anonymous)');
  await anon.goto(base + '/vod/nope');
  await anon.waitForLoadState('networkidle');
  await noEnglish(anon, 'vod not found');
  // The app's not-found page (the server answers unknown paths itself, so reach it inside the app).
  await anon.evaluate(() => { history.pushState(null, '', '/no/such/page'); dispatchEvent(new PopStateEvent('popstate')); });
  await anon.locator('main p.empty', { hasText: '404' }).waitFor();
  await noEnglish(anon, 'not found');

  const page = await koreanPage(owner.token);
  await page.goto(base + '/watch/minji');
  await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 });
  assert.match(await page.locator('.offline-title').innerText(), /민지 님은 오프라인이에요/, 'the offline line names the streamer');
  await noEnglish(page, 'watch (owner)');
  await page.getByRole('button', { name: /후원/ }).click();
  await page.locator('dialog#superchat').waitFor();
  assert.match(await page.locator('dialog#superchat').innerText(), /민지 님에게 후원하기/);
  await noEnglish(page, 'super chat dialog');
  await page.keyboard.press('Escape');

  await page.goto(base + '/studio');
  await page.locator('#held').waitFor({ timeout: 15_000 });
  await page.waitForLoadState('networkidle');
  await noEnglish(page, 'studio');

  const adminPage = await koreanPage(admin.token);
  await adminPage.goto(base + '/admin');
  await adminPage.locator('#health dd').first().waitFor({ timeout: 15_000 });
  await adminPage.waitForLoadState('networkidle');
  await noEnglish(adminPage, 'admin');
});

test('with ko-KR, /slow 10 shows a Korean system line on the watch page and no English', { timeout: 60_000 }, async () => {
  const page = await koreanPage(owner.token);
  await page.goto(base + '/watch/minji');
  await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 });
  const input = page.getByLabel('채팅을 입력하세요');
  await input.fill('/slow 10');
  await page.getByRole('button', { name: '전송' }).click();
  const line = page.locator('.chat-row.system[data-code="slow_mode_on"]').first();
  await line.waitFor({ timeout: 5_000 });
  assert.equal(await line.innerText(), '저속 모드가 켜졌어요: 10초에 한 번 보낼 수 있어요');
  await page.locator('.chat .chip', { hasText: '저속 모드 10초' }).waitFor();
  // /help answers the sender with the commands in Korean.
  await input.fill('/help');
  await page.getByRole('button', { name: '전송' }).click();
  await page.locator('.chat-row.system[data-code="help"]', { hasText: '쓸 수 있는 명령어' }).waitFor({ timeout: 5_000 });
  const chatWords = (await englishWords(page));
  assert.deepEqual(chatWords, [], 'no English on the watch page after /slow and /help');
  await input.fill('/slow off');
  await page.getByRole('button', { name: '전송' }).click();
  await page.locator('.chat-row.system[data-code="slow_mode_off"]', { hasText: '저속 모드가 꺼졌어요' }).waitFor({ timeout: 5_000 });
});

test('the studio review queue: a held message shows there and 승인 publishes it into the chat', { timeout: 60_000 }, async () => {
  assert.equal((await s.api('POST', '/api/v1/channels/minji/moderation/filters', { word: '홍보', action: 'hold' }, owner.token)).status, 200);
  const viewer = await registerUser(s, 'viewer1', '시청자');
  const watch = await koreanPage(viewer.token);
  await watch.goto(base + '/watch/minji');
  await watch.locator('.conn[data-state="connected"]').waitFor({ timeout: 15_000 });
  await watch.getByLabel('채팅을 입력하세요').fill('홍보 채널 놀러 오세요');
  await watch.getByRole('button', { name: '전송' }).click();
  await watch.locator('.chat-notice', { hasText: '메시지가 매니저의 승인을 기다리고 있어요.' }).waitFor({ timeout: 5_000 });
  assert.equal(await watch.locator('.chat-row .text', { hasText: '홍보 채널' }).count(), 0, 'held out of the room');

  const studio = await koreanPage(owner.token);
  await studio.goto(base + '/studio');
  const held = studio.locator('#held li', { hasText: '홍보 채널 놀러 오세요' });
  await held.waitFor({ timeout: 15_000 });
  assert.match(await held.innerText(), /“홍보” 때문에 보류됨/);
  await noEnglish(studio, 'studio with a held message');
  await held.getByRole('button', { name: '승인' }).click();
  await watch.locator('.chat-row[data-kind="message"] .text', { hasText: '홍보 채널 놀러 오세요' }).waitFor({ timeout: 5_000 });
  await studio.locator('#held', { hasText: '검토를 기다리는 메시지가 없어요.' }).waitFor({ timeout: 10_000 });
});
