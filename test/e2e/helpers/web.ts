/**
 * Helpers for the web app's browser tests: build the app when its sources are newer
 * than dist/web, drive Debian's Chromium through playwright-core, publish a test
 * stream with ffmpeg, and save screenshots under test-artifacts/screenshots/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestServer } from '../../../testkit/server.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WEB = join(ROOT, 'web');
const BUILD_CACHE = join(ROOT, 'test-artifacts', 'web-build');
export const SCREENSHOT_DIR = join(ROOT, 'test-artifacts', 'screenshots');

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 360, height: 740 } as const;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else out.push(p);
  }
  return out;
}

/**
 * ensureWebBuilt builds the web app into a private folder named by a hash of its
 * sources (test-artifacts/web-build/HASH) and answers that folder. Tests serve it with
 * the `web.dir` config key, so a concurrent `npm run build` rewriting dist/web never
 * pulls files from under a running test.
 */
export function ensureWebBuilt(): string {
  const h = createHash('sha256');
  for (const f of sourceFiles(WEB)) h.update(f.slice(WEB.length)).update(readFileSync(f));
  const dir = join(BUILD_CACHE, h.digest('hex').slice(0, 16));
  if (existsSync(join(dir, 'index.html'))) return dir;
  mkdirSync(BUILD_CACHE, { recursive: true });
  // Builds of older sources (and crashed attempts) are dropped after a day.
  for (const name of readdirSync(BUILD_CACHE)) {
    const p = join(BUILD_CACHE, name);
    if (Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true });
  }
  const tmp = mkdtempSync(join(BUILD_CACHE, 'tmp-'));
  // `npm test` has just run `npm run build`: reuse dist/web when it is newer than every source.
  const dist = join(ROOT, 'dist', 'web');
  const newest = Math.max(...sourceFiles(WEB).map((f) => statSync(f).mtimeMs));
  if (existsSync(join(dist, 'index.html')) && statSync(join(dist, 'index.html')).mtimeMs > newest) {
    try {
      cpSync(dist, tmp, { recursive: true });
      const html = readFileSync(join(tmp, 'index.html'), 'utf8');
      const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
      if (refs.length && refs.every((r) => existsSync(join(tmp, r)))) {
        try { renameSync(tmp, dir); } catch { rmSync(tmp, { recursive: true, force: true }); }
        return dir;
      }
    } catch { /* fall through to a fresh build */ }
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
  }
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'web', '--outDir', tmp, '--emptyOutDir', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`vite build failed (${r.status ?? r.signal})`);
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another test file built the same sources first
  }
  return dir;
}

/** CHROMIUM_ARGS: headless, no sandbox/GPU/QUIC, nothing phoning home, autoplay allowed. */
export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
];

/** launchBrowser starts Debian's Chromium (no browser download) with a fresh profile. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** newContext opens an isolated context, optionally logged in (token in localStorage) and in a given language. */
export async function newContext(browser: Browser, opts: { token?: string; lang?: 'ko' | 'en'; viewport?: { width: number; height: number }; reducedMotion?: 'reduce' | 'no-preference' } = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({
    viewport: opts.viewport ?? DESKTOP,
    locale: opts.lang === 'ko' ? 'ko-KR' : 'en-US',
    reducedMotion: opts.reducedMotion ?? 'no-preference',
  });
  await ctx.addInitScript(({ token, lang }) => {
    if (token && !localStorage.getItem('onair.token')) localStorage.setItem('onair.token', token);
    if (lang && !localStorage.getItem('onair.lang')) localStorage.setItem('onair.lang', lang);
  }, { token: opts.token ?? null, lang: opts.lang ?? null });
  return ctx;
}

/** collectErrors records uncaught page errors and console errors (for asserting a clean page). */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  // A failed request's console text does not name it; its location does.
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}${m.text().startsWith('Failed to load resource') ? ` (${m.location().url})` : ''}`); });
  return errors;
}

/** screenshot saves the page at desktop and phone sizes as NAME-desktop.png / NAME-phone.png. */
export async function screenshots(page: Page, name: string, ready?: (p: Page) => Promise<unknown>): Promise<string[]> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const out: string[] = [];
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(size);
    if (ready) await ready(page);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const file = join(SCREENSHOT_DIR, `${name}-${label}.png`);
    await page.screenshot({ path: file });
    out.push(file);
  }
  await page.setViewportSize(DESKTOP);
  return out;
}

/** registerUser creates an account through the REST API and answers its bearer token. */
export async function registerUser(s: TestServer, username: string, displayName?: string): Promise<{ token: string; id: string }> {
  const r = await s.api('POST', '/api/v1/auth/register', { username, password: 'correct-horse-9', ...(displayName ? { displayName } : {}) });
  if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return { token: r.body.token, id: r.body.user.id };
}

/** publishTestStream runs ffmpeg sending a test pattern with a tone over RTMP until stopped. */
export function publishTestStream(rtmpPort: number, streamKey: string, seconds = 60): ChildProcess {
  const ff = spawn(process.env.FFMPEG_PATH ?? 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '30', '-b:v', '800k',
    '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${streamKey}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  ff.stderr?.setEncoding('utf8');
  let err = '';
  ff.stderr?.on('data', (d: string) => { err = (err + d).slice(-2000); });
  (ff as ChildProcess & { lastError: () => string }).lastError = () => err;
  return ff;
}

export function stopProcess(p: ChildProcess | undefined): void {
  if (p && p.exitCode === null && p.pid) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** waitFor polls an async condition until it is truthy or the time is up. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** videoAdvances waits until the page's <video> has played `seconds` of media. */
export async function videoAdvances(page: Page, seconds: number, timeoutMs: number): Promise<{ from: number; to: number }> {
  await page.waitForFunction(() => { const v = document.querySelector('video'); return !!v && v.currentTime > 0 && !v.paused; }, undefined, { timeout: timeoutMs, polling: 100 });
  const from = await page.evaluate(() => document.querySelector('video')!.currentTime);
  await page.waitForFunction((f) => document.querySelector('video')!.currentTime >= f, from + seconds, { timeout: timeoutMs, polling: 100 });
  const to = await page.evaluate(() => document.querySelector('video')!.currentTime);
  return { from, to };
}
