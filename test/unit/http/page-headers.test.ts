import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentSecurityPolicy, pageHeaders } from '../../../src/http/page-headers.js';

test('page headers: pages deny framing by others, overlays do not; the CSP stays strict either way', () => {
  const page = pageHeaders({ host: 'tv.example:8080', framable: false });
  assert.equal(page['x-frame-options'], 'DENY');
  assert.match(page['content-security-policy']!, /frame-ancestors 'self'/);
  assert.match(page['content-security-policy']!, /connect-src 'self' ws:\/\/tv\.example:8080 wss:\/\/tv\.example:8080/);
  const overlay = pageHeaders({ host: 'tv.example', framable: true });
  assert.equal(overlay['x-frame-options'], undefined);
  assert.doesNotMatch(overlay['content-security-policy']!, /frame-ancestors/);
  for (const h of [page, overlay]) {
    const csp = h['content-security-policy']!;
    for (const d of ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "worker-src 'self' blob:"]) assert.ok(csp.includes(d), d);
    assert.doesNotMatch(csp, /unsafe/);
  }
});

test('page headers: a Host that is not a host name never reaches the policy', () => {
  for (const host of ['evil.example; script-src *', "x' 'unsafe-inline", 'a b', 'x\r\ny', '']) {
    const csp = contentSecurityPolicy({ host, framable: false });
    assert.match(csp, /connect-src 'self'; /, JSON.stringify(host));
    assert.doesNotMatch(csp, /unsafe-inline|script-src \*/);
  }
  assert.match(contentSecurityPolicy({ host: '[::1]:8080', framable: false }), /ws:\/\/\[::1\]:8080/);
});
