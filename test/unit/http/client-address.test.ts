// Client addresses (issue 19 #7): X-Forwarded-For counts only when a trusted proxy says it, hop by
// hop; HTTP routes (request.clientIp) and WebSocket upgrades (clientAddressOf) use the same rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientAddress, clientAddressOf, isAddressOrCidr, normalizeAddress, trustOf } from '../../../src/http/client-address.js';
import { buildHttpApp } from '../../../src/http/app.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { loadConfig } from '../../../src/config/index.js';

test('trustOf: false trusts nobody, true everybody, a list its addresses and CIDR blocks', () => {
  assert.equal(trustOf(false)('127.0.0.1'), false);
  assert.equal(trustOf([])('127.0.0.1'), false);
  assert.equal(trustOf(true)('198.51.100.1'), true);
  const t = trustOf(['10.0.0.0/8', '192.0.2.5', 'fd00::/8', '::1']);
  for (const a of ['10.1.2.3', '192.0.2.5', '::ffff:10.9.9.9', 'fd12::1', '::1']) assert.equal(t(a), true, a);
  for (const a of ['11.0.0.1', '192.0.2.6', 'fe80::1', '', 'garbage', '::2']) assert.equal(t(a), false, a);
});

test('isAddressOrCidr and normalizeAddress', () => {
  for (const ok of ['1.2.3.4', '0.0.0.0/0', '10.0.0.0/8', '::', '::/0', 'fd00::/8', '2001:db8::1/128']) assert.equal(isAddressOrCidr(ok), true, ok);
  for (const bad of ['', 'localhost', '10.0.0.0/33', '::/129', '1.2.3.4/', '1.2.3.4/08', '1.2.3', '10.0.0.0/8/8']) assert.equal(isAddressOrCidr(bad), false, bad);
  assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddress('FE80::1%eth0'), 'fe80::1');
  assert.equal(normalizeAddress(undefined), '');
});

test('clientAddress: the forwarded header is ignored unless the peer is trusted', () => {
  const none = trustOf(false);
  assert.equal(clientAddress('198.51.100.7', '203.0.113.9', none), '198.51.100.7', 'a client cannot claim an address');
  const lb = trustOf(['10.0.0.0/8']);
  assert.equal(clientAddress('198.51.100.7', '203.0.113.9', lb), '198.51.100.7', 'an untrusted peer cannot either');
  assert.equal(clientAddress('10.0.0.2', '203.0.113.9', lb), '203.0.113.9', 'the balancer vouches for its client');
  assert.equal(clientAddress('10.0.0.2', undefined, lb), '10.0.0.2', 'no header: the balancer itself');
  // A client's own spoofed entries sit left of what the balancer appended: they are not believed.
  assert.equal(clientAddress('10.0.0.2', '1.1.1.1, 203.0.113.9', lb), '203.0.113.9');
  // Two trusted hops: walk past both.
  assert.equal(clientAddress('10.0.0.2', '203.0.113.9, 10.0.0.3', lb), '203.0.113.9');
  assert.equal(clientAddress('10.0.0.2', ['203.0.113.9', '10.0.0.3'], lb), '203.0.113.9');
  // Every hop trusted: the left-most.
  assert.equal(clientAddress('10.0.0.2', '10.0.0.9, 10.0.0.3', lb), '10.0.0.9');
  // A malformed hop stops the walk at the last address a trusted proxy gave.
  assert.equal(clientAddress('10.0.0.2', 'evil, 10.0.0.3', lb), '10.0.0.3');
  assert.equal(clientAddress('10.0.0.2', '203.0.113.9, <script>', lb), '10.0.0.2');
  assert.equal(clientAddress('::ffff:10.0.0.2', '::ffff:203.0.113.9', lb), '203.0.113.9');
  assert.equal(clientAddress('10.0.0.2', '203.0.113.9', trustOf(true)), '203.0.113.9');
});

test('config: http.trustProxy takes false, true, a list, or a comma-separated env value; bad entries name the key', () => {
  assert.equal(loadConfig({ env: {} }).http.trustProxy, false);
  assert.equal(loadConfig({ env: { ONAIR_HTTP_TRUST_PROXY: 'true' } }).http.trustProxy, true);
  assert.deepEqual(loadConfig({ env: { ONAIR_HTTP_TRUST_PROXY: '10.0.0.0/8, ::1' } }).http.trustProxy, ['10.0.0.0/8', '::1']);
  assert.deepEqual(loadConfig({ env: {}, overrides: { 'http.trustProxy': ['192.0.2.1'] } }).http.trustProxy, ['192.0.2.1']);
  assert.throws(() => loadConfig({ env: { ONAIR_HTTP_TRUST_PROXY: '10.0.0.0/8,proxy.local' } }), /http\.trustProxy\.1.*"proxy\.local" is not an IP address or CIDR block/);
  assert.throws(() => loadConfig({ env: { ONAIR_MEDIA_PROXY_PROTOCOL_ENABLED: 'true' } }), /media\.proxyProtocol\.trusted/);
  const c = loadConfig({ env: { ONAIR_MEDIA_PROXY_PROTOCOL_ENABLED: 'true', ONAIR_MEDIA_PROXY_PROTOCOL_TRUSTED: '10.0.0.1,10.0.0.2' } });
  assert.deepEqual(c.media.proxyProtocol, { enabled: true, trusted: ['10.0.0.1', '10.0.0.2'], headerTimeoutSeconds: 5 });
});

/** get sends one request to the app over a real socket (so the peer address is real), with optional headers. */
function get(port: number, path: string, headers: Record<string, string>, upgrade = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: upgrade ? { ...headers, connection: 'Upgrade', upgrade: 'websocket' } : headers });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('upgrade', (_res, socket, head) => {
      socket.destroy();
      resolve(head.toString());
    });
    req.on('error', reject);
    req.end();
  });
}

test('HTTP routes and WebSocket upgrades get the same client address', async () => {
  for (const [trustProxy, expected] of [[false, '127.0.0.1'], [['127.0.0.0/8'], '203.0.113.9'], [['10.0.0.1'], '127.0.0.1']] as const) {
    const { app, addUpgradeHandler } = buildHttpApp({ logger: silentLogger(), bodyLimitBytes: 1 << 20, trustProxy });
    app.get('/ip', async (req) => ({ ip: req.clientIp, protocol: req.protocol }));
    addUpgradeHandler((req, socket) => {
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n${clientAddressOf(req)}`);
      return true;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const headers = { 'x-forwarded-for': '198.51.100.1, 203.0.113.9', 'x-forwarded-proto': 'https' };
      const body = JSON.parse(await get(port, '/ip', headers));
      assert.equal(body.ip, expected, `route, trustProxy ${JSON.stringify(trustProxy)}`);
      assert.equal(body.protocol, expected === '127.0.0.1' ? 'http' : 'https', 'X-Forwarded-Proto follows the same trust');
      assert.equal(await get(port, '/ws', headers, true), expected, `upgrade, trustProxy ${JSON.stringify(trustProxy)}`);
    } finally {
      await app.close();
    }
  }
});
