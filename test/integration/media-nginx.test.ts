import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMedia, run, ffprobe, waitFor, killAll } from './helpers/media-harness.js';
import { freePort } from '../../testkit/ports.js';
import { mainConf, nginxPrefix, startNginx } from '../../testkit/nginx.js';

after(killAll);

const FIXTURE = new URL('../fixtures/media/h264-aac-640x360.flv', import.meta.url).pathname;

function assertPlayable(probe: { streams: Record<string, unknown>[] }): void {
  const v = probe.streams.find((s) => s.codec_type === 'video');
  const a = probe.streams.find((s) => s.codec_type === 'audio');
  assert.equal(v?.codec_name, 'h264');
  assert.equal(v?.width, 640);
  assert.equal(v?.height, 360);
  assert.equal(a?.codec_name, 'aac');
}

test('nginx-rtmp as a real peer: nginx pushes into onair, onair pushes and pulls with nginx; relays stop and reconnect', async () => {
  const h = await startMedia();
  const dir = nginxPrefix('rtmp-peer');
  const port = await freePort();
  const nginx = await startNginx(dir, `${mainConf(dir, { modules: ['ngx_rtmp_module.so'], errorLevel: 'info', connections: 128 })}rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application src {
      live on;
      push rtmp://127.0.0.1:${h.rtmpPort}/live/nginx-key;
    }
    application sink {
      live on;
    }
  }
}
`, port, 'nginx-rtmp').catch(async (err: unknown) => { await h.stop(); throw err; });
  try {
    h.keys.set('nginx-key', 'from-nginx');
    // a cheap source: the 1 s fixture looped in real time, no encoding
    let source = run('ffmpeg', ['-v', 'error', '-re', '-stream_loop', '-1', '-i', FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/src/cam`]);

    // 1. nginx push → onair
    await waitFor(() => !!h.media.hub.streams.get('from-nginx')?.video, 15_000, 'nginx push arrives in onair');
    assert.equal(h.media.hub.stats('from-nginx')!.publisher.protocol, 'rtmp');
    assertPlayable(await ffprobe(h.httpUrl('live/from-nginx.flv')));

    // 2. onair push relay → nginx, played back from nginx
    const push = h.media.startRelay({ direction: 'push', channel: 'from-nginx', url: `rtmp://127.0.0.1:${port}/sink/out` });
    await waitFor(() => h.media.listRelays().find((r) => r.id === push.id)?.state === 'running', 10_000, 'push relay running');
    assertPlayable(await ffprobe(`rtmp://127.0.0.1:${port}/sink/out`));

    // 3. onair pull relays: from nginx over RTMP, and from onair's own HTTP-FLV
    const pullRtmp = h.media.startRelay({ direction: 'pull', channel: 'pulled', url: `rtmp://127.0.0.1:${port}/src/cam` });
    const pullFlv = h.media.startRelay({ direction: 'pull', channel: 'pulled-flv', url: h.httpUrl('live/from-nginx.flv') });
    await waitFor(() => !!h.media.hub.streams.get('pulled')?.video && !!h.media.hub.streams.get('pulled-flv')?.video, 15_000, 'pulled channels live');
    assert.equal(h.media.hub.stats('pulled')!.publisher.protocol, 'relay');
    assertPlayable(await ffprobe(h.httpUrl('live/pulled.flv')));
    assertPlayable(await ffprobe(h.rtmpUrl('live/pulled-flv')));

    // 4. the source goes away: pulled channels go offline, then come back with backoff
    source.kill('SIGKILL');
    await waitFor(() => !h.media.hub.isLive('pulled') && !h.media.hub.isLive('from-nginx'), 15_000, 'source loss propagates');
    await waitFor(() => !h.media.hub.isLive('pulled-flv'), 15_000, 'http-flv pull ends');
    assert.ok(['waiting', 'connecting'].includes(h.media.listRelays().find((r) => r.id === pullRtmp.id)!.state));
    source = run('ffmpeg', ['-v', 'error', '-re', '-stream_loop', '-1', '-i', FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/src/cam`]);
    await waitFor(() => h.media.hub.isLive('from-nginx') && h.media.hub.isLive('pulled') && h.media.hub.isLive('pulled-flv'), 40_000, 'relays reconnect');
    await waitFor(() => h.media.listRelays().find((r) => r.id === push.id)?.state === 'running', 20_000, 'push relay resumes');
    assertPlayable(await ffprobe(`rtmp://127.0.0.1:${port}/sink/out`));
    assert.ok(h.media.listRelays().find((r) => r.id === pullRtmp.id)!.connects >= 2);

    // 5. stopping relays ends what they published
    assert.equal(await h.media.stopRelay(pullRtmp.id), true);
    assert.equal(await h.media.stopRelay(pullFlv.id), true);
    assert.equal(await h.media.stopRelay(push.id), true);
    await waitFor(() => !h.media.hub.isLive('pulled') && !h.media.hub.isLive('pulled-flv'), 5000, 'pulled channels offline');
    assert.deepEqual(h.media.listRelays(), []);
    source.kill('SIGKILL');
  } catch (err) {
    console.error(nginx.errorLog().split('\n').slice(-30).join('\n'));
    throw err;
  } finally {
    killAll();
    await h.stop();
    await nginx.stop();
  }
});
