/**
 * The studio's health panel names a track the ingest does not forward (issue 19 #1) and warns about
 * video browsers cannot decode (issue 20 #7): ffmpeg publishes H.264 High 4:4:4 Predictive (yuv444p)
 * with PCM audio over RTMP; the owner's studio shows the audio as not forwarded and the profile
 * warning, in English and in Korean.
 */
import { after, before, test } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { ensureWebBuilt, launchBrowser, newContext, registerUser, stopProcess, waitFor } from './helpers/web.js';

let s: TestServer;
let browser: Browser;
let owner: { token: string; id: string };
let ffmpeg: ChildProcess | undefined;

before(async () => {
  s = await startTestServer({ 'web.dir': ensureWebBuilt() });
  owner = await registerUser(s, 'mina', 'Mina');
  const c = await s.api('POST', '/api/v1/channels', { name: 'pcmstudio' }, owner.token);
  ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '60',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv444p',
    '-c:a', 'pcm_s16le', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${c.body.streamKey}`], { stdio: 'ignore' });
  browser = await launchBrowser();
  await waitFor('the dropped track', async () => (await s.api('GET', '/api/v1/channels/pcmstudio/live', undefined, owner.token)).body.droppedTracks?.length > 0, 20_000, 200);
});
after(async () => {
  await browser?.close();
  stopProcess(ffmpeg);
  await s?.close();
});

const CASES = [
  ['en', 'audio pcm_le (codec not supported)', 'Browsers cannot play this video: it is H.264 High 4:4:4 Predictive (profile 244).'],
  ['ko', '오디오 pcm_le (지원하지 않는 코덱)', '브라우저에서 재생할 수 없는 영상이에요: H.264 High 4:4:4 Predictive (프로필 244).'],
] as const;

for (const [lang, text, warning] of CASES) {
  test(`the studio health panel shows the dropped PCM audio and the 4:4:4 warning (${lang})`, { timeout: 60_000 }, async () => {
    const ctx = await newContext(browser, { lang, token: owner.token });
    try {
      const page = await ctx.newPage();
      await page.goto(`http://127.0.0.1:${s.httpPort}/studio`);
      await page.locator('[data-stat="dropped"]', { hasText: text }).waitFor({ timeout: 15_000 });
      await page.locator('[data-stat="warnings"]', { hasText: warning }).waitFor({ timeout: 15_000 });
    } finally {
      await ctx.close();
    }
  });
}
