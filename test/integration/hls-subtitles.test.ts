// Live captions as an LL-HLS WebVTT rendition: browser caption cues posted by the owner
// appear in the subtitle segment that covers the same stretch of video, on its media timeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startTestServer } from '../../testkit/server.js';

const until = async <T>(fn: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
};

const vttSeconds = (t: string) => { const [h, m, s] = t.split(':'); return Number(h) * 3600 + Number(m) * 60 + Number(s); };

test('caption cues become a WebVTT subtitles rendition aligned with the media segments', { timeout: 120_000 }, async () => {
  const s = await startTestServer();
  const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${s.demoStreamKey}`], { stdio: 'ignore' });
  try {
    const owner = (await s.api('POST', '/api/v1/auth/register', { username: 'cap', password: 'hunter2hunter2' })).body.token;
    await s.api('PUT', '/api/v1/channels/demo/managers/cap', undefined, s.secrets.adminToken);
    const base = `http://127.0.0.1:${s.httpPort}/live/demo`;
    await until(async () => (await fetch(`${base}/source/playlist.m3u8`)).ok, 30_000, 'LL-HLS live');
    await until(async () => (await fetch(`${base}/subs/ko.m3u8`)).status === 404, 1000, 'no subtitles before any cue');

    const post = await s.api('POST', '/api/v1/channels/demo/captions/cues', { text: '안녕하세요 <여러분> & 반갑습니다', final: true, lang: 'ko' }, owner);
    assert.ok(post.status < 300, JSON.stringify(post.body));

    const master = await (await fetch(`${base}/index.m3u8`)).text();
    assert.match(master, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="한국어",LANGUAGE="ko",.*URI="subs\/ko.m3u8"/);
    assert.match(master, /#EXT-X-STREAM-INF:.*SUBTITLES="subs"/);

    // Wait until the segment holding the cue is complete and listed, then find it.
    const found = await until(async () => {
      const list = await (await fetch(`${base}/subs/ko.m3u8`)).text();
      for (const uri of list.split('\n').filter((l) => l.endsWith('.vtt'))) {
        const r = await fetch(`${base}/subs/${uri}`);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type')!, /text\/vtt/);
        const body = await r.text();
        assert.match(body, /^WEBVTT\n/);
        if (body.includes('안녕하세요')) return { uri, body, list };
      }
      return undefined;
    }, 30_000, 'a WebVTT segment with the cue');

    assert.match(found.body, /X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00\.000/);
    assert.ok(found.body.includes('&lt;여러분&gt; &amp; 반갑습니다'), 'cue text is escaped');
    // The subtitle playlist mirrors the source media sequence, and the cue sits inside its segment's media time.
    const msn = Number(/\/(\d+)\.vtt$/.exec(found.uri)![1]);
    const seg = s.app.hls!.packager('demo')!.windowed().find((x) => x.msn === msn)!;
    assert.ok(seg, 'segment with that MSN exists in the source rendition');
    const media = await (await fetch(`${base}/source/playlist.m3u8`)).text();
    assert.equal(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(found.list)![1], /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(media)![1]);
    const [startText, endText] = /(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})/.exec(found.body)!.slice(1);
    const cueStart = vttSeconds(startText!);
    const cueEnd = vttSeconds(endText!);
    assert.ok(cueEnd > seg.startMs / 1000 && cueStart < (seg.startMs + seg.durationMs) / 1000, `cue ${cueStart}-${cueEnd} overlaps segment ${seg.startMs / 1000}+${seg.durationMs / 1000}`);
    assert.equal((await fetch(`${base}/subs/ko/999999.vtt`)).status, 404);
    assert.equal((await fetch(`${base}/subs/..%2Fx.m3u8`)).status, 404);
  } finally {
    ffmpeg.kill('SIGKILL');
    await s.close();
  }
});
