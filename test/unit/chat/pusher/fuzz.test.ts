// Fuzz: random bytes and mutated valid Pusher messages never throw out of the connection's
// message handler, every refused message is answered with pusher:error, and the connection
// still works afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { createChatService } from '../../../../src/chat/index.js';
import { createPusherService } from '../../../../src/chat/pusher/index.js';
import { PusherConnection } from '../../../../src/chat/pusher/connection.js';
import { channelAuth } from '../../../../src/chat/pusher/auth.js';
import { seededRandom } from '../../../../testkit/prng.js';

/** A stand-in for a ws WebSocket: records what the connection sends. */
function fakeWs(out: string[]) {
  return {
    readyState: 1,
    send: (m: string) => out.push(m),
    close: () => undefined,
    _socket: { write: (b: Buffer) => out.push(b.toString('latin1')), writableLength: 0 },
  };
}

const rng = seededRandom;

test('random and mutated frames never throw; the connection keeps answering', async () => {
  const base = loadConfig({ env: {} });
  const config = { ...base, chat: { ...base.chat, namespaces: { ...base.chat.namespaces, '': { presence: true, joinLeave: false, historySize: 0, historyTtlSeconds: 0, allowPublishForClient: true, allowSubscribeForAnonymous: true, forceRecovery: false } } } };
  const registry = new Registry();
  const chat = createChatService({ config, logger: silentLogger(), registry, tokenSecret: 'x'.repeat(32), apiKey: 'y'.repeat(32) });
  const secrets = { appId: 'a', key: 'k', secret: 's'.repeat(20) };
  const svc = createPusherService({ chat, config, registry, secrets });
  await chat.start();
  await svc.start();
  const out: string[] = [];
  const conn = new PusherConnection(svc.server, fakeWs(out) as never, '11.22');
  const rejections: unknown[] = [];
  const onRej = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRej);
  try {
    const valid = [
      '{"event":"pusher:subscribe","data":{"channel":"chat-f1"}}',
      '{"event":"pusher:subscribe","data":{"channel":"private-chat-f2","auth":"' + channelAuth('k', secrets.secret, '11.22', 'private-chat-f2') + '"}}',
      '{"event":"pusher:subscribe","data":{"channel":"presence-f3","auth":"k:00","channel_data":"{\\"user_id\\":\\"u\\"}"}}',
      '{"event":"pusher:unsubscribe","data":{"channel":"chat-f1"}}',
      '{"event":"client-x","channel":"private-chat-f2","data":{"a":[1,2,{"b":null}]}}',
      '{"event":"pusher:ping","data":{}}',
      '{"event":"pusher:signin","data":{"auth":"k:1","user_data":"{}"}}',
    ];
    const r = rng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const tokens = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '1e999', '"event"', '"data"', '"channel"', '\\u0000', '"pusher:subscribe"', '"client-"'];
    for (let i = 0; i < 4000; i++) {
      let msg: Buffer;
      const kind = i % 4;
      if (kind === 0) {
        msg = Buffer.alloc(Math.floor(r() * 64));
        for (let j = 0; j < msg.length; j++) msg[j] = Math.floor(r() * 256);
      } else if (kind === 1) {
        const b = Buffer.from(pick(valid));
        for (let k = 0, n = 1 + Math.floor(r() * 4); k < n; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        msg = b;
      } else if (kind === 2) {
        const s = pick(valid);
        const at = Math.floor(r() * s.length);
        msg = Buffer.from(s.slice(0, at) + pick(tokens) + s.slice(at + Math.floor(r() * 3)));
      } else {
        msg = Buffer.from(pick(valid).slice(0, Math.floor(r() * 80)));
      }
      assert.doesNotThrow(() => conn.onMessage(msg));
      if ((i & 255) === 0) await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(rejections, []);
    const errors = out.filter((m) => m.startsWith('{"event":"pusher:error"'));
    assert.ok(errors.length > 1000, `refused messages are answered (${errors.length})`);
    // Still serving: a ping gets a pong.
    out.length = 0;
    conn.onMessage(Buffer.from('{"event":"pusher:ping","data":{}}'));
    await new Promise((res) => setImmediate(res));
    assert.ok(out.includes('{"event":"pusher:pong","data":"{}"}'));
  } finally {
    process.off('unhandledRejection', onRej);
    conn.onClosed();
    await svc.stop();
    await chat.stop();
  }
});
