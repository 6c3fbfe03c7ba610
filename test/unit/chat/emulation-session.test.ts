// Emulation session ids: issued for a node, refused for another node, a changed id or MAC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueSession, sessionIssuedBy } from '../../../src/chat/transport/emulation-session.js';

test('a session passes for its node only; any changed character fails', () => {
  const s = issueSession('secret-0123456789', 'node-a');
  assert.ok(sessionIssuedBy('secret-0123456789', 'node-a', s));
  assert.ok(!sessionIssuedBy('secret-0123456789', 'node-b', s));
  assert.ok(!sessionIssuedBy('another-secret-01', 'node-a', s));
  for (let i = 0; i < s.length; i++) {
    const c = s[i] === 'A' ? 'B' : 'A';
    const forged = s.slice(0, i) + c + s.slice(i + 1);
    assert.ok(!sessionIssuedBy('secret-0123456789', 'node-a', forged), `changed at ${i}`);
  }
  for (const bad of ['', '.', 'abc', s + 'x', 'x'.repeat(200)]) assert.ok(!sessionIssuedBy('secret-0123456789', 'node-a', bad), bad);
});
