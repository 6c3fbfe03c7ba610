// PROXY protocol on the RTMP and RTSP listeners (issue 19 #7): ffmpeg publishes through a small
// loopback TCP proxy of this test's own that sends a PROXY header first; the owner's live view
// shows the address in the header. The trusted proxy without a header, and a header from an
// untrusted peer, are refused; untrusted peers without a header still publish.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { LOOP_FIXTURE, LoopPublishers, exited } from '../../testkit/ffmpeg-loop.js';
import { until } from '../../testkit/wait.js';
import { encodeProxyHeaderV1, encodeProxyHeaderV2, type ProxyHeader } from '../../src/formats/proxy-protocol.js';

/** headerProxy listens on loopback and forwards each connection to `target`, sending `header` first. */
async function headerProxy(target: number, header: Buffer): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1', () => {
      upstream.write(header);
      client.pipe(upstream).pipe(client);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

const proxied = (address: string, family: 'ipv4' | 'ipv6' = 'ipv4'): ProxyHeader => ({
  version: 1, kind: 'proxied', family, source: { address, port: 50000 }, destination: { address: family === 'ipv4' ? '127.0.0.1' : '::1', port: 1935 },
});

/** connectFrom opens a TCP connection from a given loopback address, sends `bytes` and resolves what came back before close (or 1.5 s). */
function exchangeFrom(localAddress: string, port: number, bytes: Buffer): Promise<{ closed: boolean; received: number }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    let received = 0;
    const t = setTimeout(() => { s.destroy(); resolve({ closed: false, received }); }, 1500);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => (received += d.length));
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(t); resolve({ closed: true, received }); });
  });
}

describe('PROXY protocol on RTMP and RTSP', () => {
  let s: TestServer;
  let owner: string;
  let key: string;
  const publishers = new LoopPublishers();
  const children = new Set<ChildProcess>();
  const proxies: { close(): Promise<void> }[] = [];

  before(async () => {
    s = await startTestServer({ 'media.proxyProtocol.enabled': true, 'media.proxyProtocol.trusted': ['127.0.0.1'] });
    owner = (await s.api('POST', '/api/v1/auth/register', { username: 'caster', password: 'correct-horse-9' })).body.token;
    key = (await s.api('POST', '/api/v1/channels', { name: 'behindlb' }, owner)).body.streamKey;
  });
  after(async () => {
    publishers.killAll();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const p of proxies) await p.close();
    await s?.close();
  });

  const live = async () => (await s.api('GET', '/api/v1/channels/behindlb/live', undefined, owner)).body;
  const offline = () => until(async () => !(await live()).live, 15_000, 'offline');

  test('RTMP through the proxy with a v1 header: the publisher is the address in the header', async () => {
    const proxy = await headerProxy(s.rtmpPort, encodeProxyHeaderV1(proxied('203.0.113.50')));
    proxies.push(proxy);
    const ff = publishers.start(`rtmp://127.0.0.1:${proxy.port}/live/${key}`);
    const d = await until(async () => { const x = await live(); return x.live ? x : undefined; }, 15_000, 'live through the proxy');
    assert.deepEqual(d.publisher, { protocol: 'rtmp', clientIp: '203.0.113.50' });
    ff.kill('SIGKILL');
    await offline();
  });

  test('RTSP through the proxy with a v2 IPv6 header', async () => {
    const proxy = await headerProxy(s.ports.rtsp!, encodeProxyHeaderV2(proxied('2001:db8::50', 'ipv6')));
    proxies.push(proxy);
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', LOOP_FIXTURE, '-c', 'copy', '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${proxy.port}/live/${key}`], { stdio: 'ignore' });
    children.add(ff);
    const d = await until(async () => { const x = await live(); return x.live ? x : undefined; }, 15_000, 'live over RTSP through the proxy');
    assert.deepEqual(d.publisher, { protocol: 'rtsp', clientIp: '2001:db8::50' });
    ff.kill('SIGKILL');
    await offline();
  });

  test('the trusted proxy address without a header is refused', async () => {
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', LOOP_FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${s.rtmpPort}/live/${key}`], { stdio: 'ignore' });
    children.add(ff);
    assert.notEqual(await exited(ff, 20_000), 0, 'ffmpeg could not publish');
    assert.equal((await live()).live, false);
  });

  test('a PROXY header from an untrusted peer is refused; its plain RTMP handshake is served', async () => {
    const header = encodeProxyHeaderV1(proxied('198.51.100.1'));
    const spoof = await exchangeFrom('127.0.0.2', s.rtmpPort, Buffer.concat([header, Buffer.from([3]), Buffer.alloc(1536)]));
    assert.deepEqual(spoof, { closed: true, received: 0 }, 'closed without an answer');
    const rtspSpoof = await exchangeFrom('127.0.0.2', s.ports.rtsp!, Buffer.concat([header, Buffer.from('OPTIONS rtsp://127.0.0.1/live/x RTSP/1.0\r\nCSeq: 1\r\n\r\n')]));
    assert.deepEqual(rtspSpoof, { closed: true, received: 0 });
    // C0 + C1: the server answers S0 S1 S2 (1 + 1536 + 1536 bytes).
    const plain = await exchangeFrom('127.0.0.2', s.rtmpPort, Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
    assert.equal(plain.received, 1 + 1536 * 2);
  });
});
