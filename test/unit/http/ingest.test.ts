import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/index.js';
import { ingestAddresses } from '../../../src/http/routes/ingest.js';

test('ingest addresses: a media node names the ports it bound; switched-off protocols are left out', () => {
  const c = loadConfig({ env: { ONAIR_RTMP_PORT: '0', ONAIR_MEDIA_SRT_PORT: '0' } });
  const a = ingestAddresses(c, { rtmp: 41935, srt: 48890, rtsp: 48554 }, true);
  assert.deepEqual(a, {
    rtmp: { port: 41935, app: 'live' },
    srt: { port: 48890, streamid: 'publish:{streamKey}' },
    rtsp: { port: 48554, app: 'live' },
    whip: { path: '/whip' },
  });
  // A listener that could not bind (SRT's UDP port taken) leaves its protocol out.
  assert.equal(ingestAddresses(c, { rtmp: 41935, rtsp: 48554 }, true).srt, undefined);
  const off = loadConfig({ env: { ONAIR_MEDIA_RTSP_ENABLED: 'false', ONAIR_MEDIA_WHIP_ENABLED: 'false' } });
  const b = ingestAddresses(off, { rtmp: 1935, srt: 8890 }, true);
  assert.equal(b.rtsp, undefined);
  assert.equal(b.whip, undefined);
});

test('ingest addresses: an api-only node answers from the shared config; port 0 there is unknown', () => {
  const c = loadConfig({ env: { ONAIR_MEDIA_SRT_PORT: '0' } });
  const a = ingestAddresses(c, {}, false);
  assert.deepEqual(a.rtmp, { port: 1935, app: 'live' });
  assert.deepEqual(a.rtsp, { port: 8554, app: 'live' });
  assert.equal(a.srt, undefined, 'port 0 on another node: unknown here');
  assert.equal(a.rtmps, undefined, 'RTMPS is off by default');
});
