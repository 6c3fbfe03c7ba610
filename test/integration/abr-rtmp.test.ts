/**
 * Live ABR end to end on a whole server: ffmpeg publishes 640x360 over RTMP, the ABR
 * transcoder (one ffmpeg fed from the hub over stdin) publishes 240p and 160p renditions
 * back into the hub; they play as HTTP-FLV and are listed in the channel's LL-HLS
 * multivariant playlist; kill -9 of the transcoder restarts it without touching the source;
 * the source's end stops it; a user cannot publish to a rendition name; ABR off → no variants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { publish, run, sleep, waitFor } from '../../testkit/record.js';
import { startTestServer } from '../../testkit/server.js';

const LADDER = [{ name: '240p', height: 240, videoKbps: 300 }, { name: '160p', height: 160, videoKbps: 150 }];

async function flvProbe(url: string): Promise<{ codec_type: string; codec_name: string; width?: number; height?: number }[]> {
  const r = await run('ffprobe', ['-v', 'error', '-rw_timeout', '5000000', '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'json', url], 20_000);
  if (r.status !== 0) throw new Error(`ffprobe ${url}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { streams: [] }).streams;
}

const streamInf = (m3u8: string) => m3u8.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));

test('live ABR: renditions in the hub and the LL-HLS multivariant playlist; restart, stop, guard, off', { timeout: 240_000 }, async (t) => {
  const s = await startTestServer({ 'media.abr.enabled': true, 'media.abr.ladder': LADDER, 'media.abr.restartMinMs': 300, 'record.enabled': false });
  t.after(() => s.close());
  const base = `http://127.0.0.1:${s.httpPort}`;
  const hub = s.app.media!.hub;
  const abr = s.app.abr!;
  const ff = publish(s.rtmpPort!, s.demoStreamKey!, 40);
  let ffErr = '';
  ff.stderr!.on('data', (c) => (ffErr += c));
  t.after(() => { if (ff.exitCode === null) ff.kill('SIGKILL'); });

  // Both renditions go live in the hub, with the rung heights.
  await waitFor('renditions live', async () => hub.isLive('demo_240p') && hub.isLive('demo_160p'), 40_000);
  const streams240 = await flvProbe(`${base}/live/demo_240p.flv`);
  const v240 = streams240.find((x) => x.codec_type === 'video')!;
  assert.equal(v240.codec_name, 'h264');
  assert.equal(v240.height, 240);
  assert.equal(v240.width, 426);
  assert.ok(streams240.some((x) => x.codec_type === 'audio' && x.codec_name === 'aac'), 'audio copied into the rendition');
  assert.equal(hub.stats('demo_160p')?.video?.height, 160);
  // RTMP players pick a rendition by its stream name too.
  const rtmp160 = (await flvProbe(`rtmp://127.0.0.1:${s.rtmpPort}/live/demo_160p`)).find((x) => x.codec_type === 'video')!;
  assert.deepEqual([rtmp160.codec_name, rtmp160.width, rtmp160.height], ['h264', 284, 160]);

  // The multivariant playlist lists the source and both renditions.
  const mv = await waitFor('3 variants with AVERAGE-BANDWIDTH', async () => {
    const r = await fetch(`${base}/live/demo/index.m3u8`);
    const text = r.status === 200 ? await r.text() : '';
    const inf = streamInf(text);
    return inf.length === 3 && inf.every((l) => /AVERAGE-BANDWIDTH=\d+/.test(l)) ? text : undefined;
  }, 40_000);
  const inf = streamInf(mv);
  for (const [res, uri] of [['640x360', 'source/playlist.m3u8'], ['426x240', '240p/playlist.m3u8'], ['284x160', '160p/playlist.m3u8']] as const) {
    const i = inf.findIndex((l) => l.includes(`RESOLUTION=${res}`));
    assert.ok(i >= 0, `variant ${res} in\n${mv}`);
    assert.match(inf[i]!, /^#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=\d+x\d+,FRAME-RATE=2\d\.\d{3}$/);
    assert.equal(mv.split('\n')[mv.split('\n').indexOf(inf[i]!) + 1], uri);
  }
  const bw = (res: string) => Number(/BANDWIDTH=(\d+)/.exec(inf.find((l) => l.includes(res))!)![1]);
  assert.ok(bw('284x160') < bw('426x240'), `bandwidths ${bw('284x160')} < ${bw('426x240')}`);
  // The hub does not package the renditions as channels of their own.
  assert.equal((await fetch(`${base}/live/demo_240p/index.m3u8`)).status, 404);

  // The rendition's LL-HLS media playlist, init segment and a segment.
  const pl = await (await fetch(`${base}/live/demo/240p/playlist.m3u8`)).text();
  assert.match(pl, /#EXT-X-PART:DURATION=/);
  const seg = pl.split('\n').find((l) => l && !l.startsWith('#'));
  assert.ok(seg, pl);
  const segRes = await fetch(`${base}/live/demo/240p/${seg}`);
  assert.equal(segRes.status, 200);
  const mapUri = /#EXT-X-MAP:URI="([^"]+)"/.exec(pl)![1]!;
  assert.equal((await fetch(`${base}/live/demo/240p/${mapUri}`)).status, 200);

  // The rendition borrows the source's clock: its segments start where the source's do (PROGRAM-DATE-TIME).
  const pdts = (text: string) => [...text.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/g)].map((m) => Date.parse(m[1]!));
  const renPdts = await waitFor('3 rendition segments', async () => {
    const x = pdts(await (await fetch(`${base}/live/demo/240p/playlist.m3u8`)).text());
    return x.length >= 3 ? x : undefined;
  }, 30_000);
  const srcPdts = pdts(await (await fetch(`${base}/live/demo/source/playlist.m3u8`)).text());
  const skew = renPdts.map((r) => Math.min(...srcPdts.map((x) => Math.abs(x - r))));
  t.diagnostic(`rendition vs source segment PDT skew (ms): ${skew.join(' ')}`);
  assert.ok(skew.filter((d) => d <= 200).length >= skew.length - 1, `segments line up with the source's (skew ms: ${skew})`);

  // Metrics: one transcoder, its speed from -progress.
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /onair_abr_transcoders_running 1/);
  assert.match(metrics, /onair_abr_transcoder_speed\{channel="demo"\} [0-9.]+/);

  // kill -9 the transcoder: the source stays live, the transcoder comes back (new pid).
  const pid1 = abr.info('demo')[0]!.pid!;
  assert.ok(pid1 > 0);
  const got = await s.api('GET', '/api/v1/channels/demo/abr');
  assert.equal(got.status, 200);
  assert.deepEqual({ ...got.body.abr, ladder: undefined }, {
    enabled: null, default: true, effective: true, ladder: undefined,
    transcoder: { channel: 'demo', running: true, pid: pid1, rungs: ['240p', '160p'], renditions: ['demo_240p', 'demo_160p'], restarts: 0 },
  });
  // Cost figures (reported, not asserted: the machine is shared): CPU of the transcoder, speed.
  const cpuTicks = () => { const f = readFileSync(`/proc/${pid1}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };
  const c0 = cpuTicks();
  await sleep(3000);
  const cpu = (cpuTicks() - c0) / 100 / 3;
  const speed = /onair_abr_transcoder_speed\{channel="demo"\} ([0-9.]+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1];
  t.diagnostic(`transcoder 640x360 → 240p+160p: ${(cpu * 100).toFixed(0)}% of one core, ffmpeg speed ${speed}x`);
  const sourceFramesBefore = hub.stats('demo')!.fps;
  process.kill(pid1, 'SIGKILL');
  const pid2 = await waitFor('transcoder restarted', async () => {
    const i = abr.info('demo')[0];
    return i?.pid && i.pid !== pid1 ? i.pid : undefined;
  }, 20_000);
  assert.ok(hub.isLive('demo'), 'the source is unaffected');
  assert.ok(sourceFramesBefore > 0);
  assert.equal(abr.info('demo')[0]!.restarts, 1);
  assert.match(await (await fetch(`${base}/metrics`)).text(), /onair_abr_transcoder_restarts_total\{channel="demo"\} 1/);
  await waitFor('renditions back', async () => hub.isLive('demo_240p') && hub.isLive('demo_160p'), 20_000);

  // Stop publishing → the transcoder exits and its renditions go offline.
  ff.kill('SIGKILL');
  await waitFor('source offline', async () => !hub.isLive('demo'), 20_000);
  await waitFor('transcoder process gone', async () => !existsSync(`/proc/${pid2}`) || /State:\s+Z/.test(await import('node:fs').then((f) => f.readFileSync(`/proc/${pid2}/status`, 'utf8')).catch(() => 'State: Z')), 10_000);
  assert.equal(hub.isLive('demo_240p'), false);
  assert.equal(hub.isLive('demo_160p'), false);
  assert.equal(abr.info('demo').length, 0);
  assert.match(await (await fetch(`${base}/metrics`)).text(), /onair_abr_transcoders_running 0/);

  // A user channel named like a rendition cannot publish while "demo" has ABR on.
  const squatter = await s.platform.channels.create({ name: 'demo_240p' });
  const sq = publish(s.rtmpPort!, squatter.streamKey, 5);
  const sqCode = await new Promise<number | null>((r) => sq.on('exit', (c) => r(c)));
  assert.notEqual(sqCode, 0, 'the publish to a rendition name was refused');
  assert.equal(hub.isLive('demo_240p'), false);

  // ABR off for the channel (owner/admin API) → the next session has only the source variant.
  const admin = s.secrets.adminToken;
  assert.equal((await s.api('PUT', '/api/v1/channels/demo/abr', { enabled: false })).status, 401);
  const off = await s.api('PUT', '/api/v1/channels/demo/abr', { enabled: false }, admin);
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.deepEqual({ enabled: off.body.abr.enabled, default: off.body.abr.default, effective: off.body.abr.effective }, { enabled: false, default: true, effective: false });
  const ff2 = publish(s.rtmpPort!, s.demoStreamKey!, 12);
  t.after(() => { if (ff2.exitCode === null) ff2.kill('SIGKILL'); });
  await waitFor('second session live', async () => hub.isLive('demo'), 20_000);
  await sleep(3000); // ABR would have started by now (it waits for the first keyframe)
  const mv2 = await waitFor('source segments', async () => {
    const r = await fetch(`${base}/live/demo/index.m3u8`);
    const text = r.status === 200 ? await r.text() : '';
    return /#EXT-X-STREAM-INF:BANDWIDTH/.test(text) ? text : undefined;
  }, 40_000);
  assert.equal(streamInf(mv2).length, 1, mv2);
  assert.equal(hub.isLive('demo_240p'), false);
  assert.equal(abr.info('demo').length, 0);
  ff2.kill('SIGKILL');
  assert.doesNotMatch(ffErr, /Connection refused|Broken pipe/, 'the first publisher ran until we stopped it');
});
