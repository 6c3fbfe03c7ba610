/**
 * Chat behind a network that breaks WebSocket, in headless Chromium: the page's WebSocket fails
 * as a proxy refusing the upgrade would, the SDK falls back to HTTP streaming (commands through
 * POST /emulation), and the user chats with a user on WebSocket both ways.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ensureWebBuilt, launchBrowser, newContext, registerUser } from './helpers/web.js';

const CHANNEL = 'fallback';

let s: TestServer;
let browser: Browser;
let base: string;
const contexts: BrowserContext[] = [];

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt() });
  base = `http://127.0.0.1:${s.httpPort}`;
  browser = await launchBrowser();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await s?.close();
});

async function openWatch(token: string, blockWebSocket: boolean): Promise<{ page: Page; requests: string[] }> {
  const ctx = await newContext(browser, { token });
  contexts.push(ctx);
  if (blockWebSocket) {
    // Every WebSocket fails before it opens, as behind a proxy that refuses the upgrade.
    // A string: the test's compiled class syntax could use helpers the page does not have.
    await ctx.addInitScript(`
      class BrokenWebSocket extends EventTarget {
        constructor() {
          super();
          this.readyState = 0;
          this.binaryType = 'blob';
          this.onopen = null;
          this.onerror = null;
          this.onclose = null;
          this.onmessage = null;
          setTimeout(() => {
            this.readyState = 3;
            if (this.onerror) this.onerror(new Event('error'));
            if (this.onclose) this.onclose(new CloseEvent('close', { code: 1006, reason: '' }));
          }, 10);
        }
        send() { throw new Error('not open'); }
        close() { this.readyState = 3; }
      }
      window.WebSocket = BrokenWebSocket;
    `);
  }
  const page = await ctx.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  page.on('websocket', (w) => requests.push('ws:' + new URL(w.url()).pathname));
  page.setDefaultTimeout(15_000);
  await page.goto(`${base}/watch/${CHANNEL}`);
  await page.locator('.conn[data-state="connected"]').waitFor({ timeout: 20_000 });
  return { page, requests };
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByLabel('Send a message').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

test('WebSocket blocked: the page falls back to http_stream and chats both ways', { timeout: 90_000 }, async () => {
  const owner = await registerUser(s, 'wendy', 'Wendy');
  const blocked = await registerUser(s, 'hugo', 'Hugo');
  const c = await s.api('POST', '/api/v1/channels', { name: CHANNEL, title: 'Fallback' }, owner.token);
  assert.equal(c.status, 201);
  const ws = await openWatch(owner.token, false);
  const http = await openWatch(blocked.token, true);
  assert.ok(http.requests.includes('/connection/http_stream'), `requests: ${http.requests.join(' ')}`);
  assert.ok(!ws.requests.includes('/connection/http_stream'));
  assert.ok(!http.requests.includes('ws:/connection/websocket'), 'no WebSocket got through');
  await say(http.page, 'over http_stream 안녕');
  await ws.page.locator('.chat-row[data-kind="message"] .text', { hasText: 'over http_stream 안녕' }).waitFor();
  await say(ws.page, 'over websocket');
  await http.page.locator('.chat-row[data-kind="message"] .text', { hasText: 'over websocket' }).waitFor();
  assert.ok(http.requests.includes('/emulation'), 'commands went through POST /emulation');
});
