// Golden JSON of the proxy protocol: request bodies onair sends, responses it accepts or refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeConnectResponse,
  decodePublishResponse,
  decodeRefreshResponse,
  decodeRpcResponse,
  decodeSubscribeResponse,
  encodeConnectRequest,
  encodePublishRequest,
  encodeRefreshRequest,
  encodeRpcRequest,
  encodeSubRefreshRequest,
  encodeSubscribeRequest,
  truncateUtf8,
  ProxyResponseError,
  type ProxyClientContext,
} from '../../../../src/chat/proxy/protocol.js';
import { loadConfig, ConfigError } from '../../../../src/config/index.js';

const CLIENT = '9336a229-2400-4ebc-8c50-0a643d22e8a0';
const CTX: ProxyClientContext = { client: CLIENT, transport: 'websocket', user: '56' };
const HEAD = `{"client":"${CLIENT}","transport":"websocket","protocol":"json","encoding":"json"`;

/** Request bodies: each must be exactly these bytes (and valid JSON). */
const REQUESTS: { name: string; got: string; want: string }[] = [
  { name: 'connect, bare', got: encodeConnectRequest({ client: CLIENT, transport: 'websocket' }, { name: '', version: '' }), want: HEAD + '}' },
  {
    name: 'connect with name, version, data',
    got: encodeConnectRequest({ client: CLIENT, transport: 'uni_sse' }, { name: 'js', version: '5.0.0', data: '{"k":"v"}' }),
    want: `{"client":"${CLIENT}","transport":"uni_sse","protocol":"json","encoding":"json","name":"js","version":"5.0.0","data":{"k":"v"}}`,
  },
  {
    name: 'connect, binary mode',
    got: encodeConnectRequest({ client: CLIENT, transport: 'websocket' }, { name: '', version: '', data: '{"k":"v"}' }, true),
    want: HEAD + ',"b64data":"eyJrIjoidiJ9"}',
  },
  { name: 'refresh', got: encodeRefreshRequest(CTX), want: HEAD + ',"user":"56"}' },
  { name: 'refresh with meta', got: encodeRefreshRequest({ ...CTX, meta: '{"tier":2}' }), want: HEAD + ',"user":"56","meta":{"tier":2}}' },
  { name: 'subscribe', got: encodeSubscribeRequest(CTX, 'chat:index', undefined), want: HEAD + ',"user":"56","channel":"chat:index"}' },
  {
    name: 'subscribe with data and meta',
    got: encodeSubscribeRequest({ ...CTX, meta: '{}' }, 'chat:index', '[1,2]'),
    want: HEAD + ',"user":"56","channel":"chat:index","meta":{},"data":[1,2]}',
  },
  {
    name: 'publish',
    got: encodePublishRequest(CTX, 'chat:index', '{"input":"hello"}'),
    want: HEAD + ',"user":"56","channel":"chat:index","data":{"input":"hello"}}',
  },
  { name: 'publish, anonymous', got: encodePublishRequest({ ...CTX, user: '' }, 'c', 'null'), want: HEAD + ',"user":"","channel":"c","data":null}' },
  { name: 'sub_refresh', got: encodeSubRefreshRequest(CTX, 'channel'), want: HEAD + ',"user":"56","channel":"channel"}' },
  {
    name: 'rpc',
    got: encodeRpcRequest(CTX, 'getCurrentPrice', '{"params":{"object_id":12}}'),
    want: HEAD + ',"user":"56","method":"getCurrentPrice","data":{"params":{"object_id":12}}}',
  },
  { name: 'rpc without method or data', got: encodeRpcRequest(CTX, '', undefined), want: HEAD + ',"user":"56"}' },
  { name: 'strings are escaped', got: encodeSubRefreshRequest({ ...CTX, user: 'a"b\n' }, 'c\\d'), want: HEAD + ',"user":"a\\"b\\n","channel":"c\\\\d"}' },
];

test('request bodies match the golden JSON', () => {
  for (const r of REQUESTS) {
    assert.equal(r.got, r.want, r.name);
    JSON.parse(r.got);
  }
});

test('connect responses: result, error, disconnect', () => {
  assert.deepEqual(decodeConnectResponse({ result: { user: '56' } }), {
    type: 'result',
    result: { user: '56', expireAt: 0, info: undefined, data: undefined, channels: [], subs: {}, meta: undefined },
  });
  const full = decodeConnectResponse({
    result: {
      user: '56',
      expire_at: 1565436268,
      info: { name: 'Alice' },
      data: { hello: 1 },
      channels: ['news'],
      subs: { 'chat:x': { info: { role: 'mod' }, data: 'hi', override: { presence: { value: false }, force_recovery: { value: true } } } },
      meta: { tier: 2 },
    },
  });
  assert.deepEqual(full, {
    type: 'result',
    result: {
      user: '56',
      expireAt: 1565436268,
      info: '{"name":"Alice"}',
      data: '{"hello":1}',
      channels: ['news', 'chat:x'],
      subs: { 'chat:x': { info: '{"role":"mod"}', data: '"hi"', override: { presence: false, forceRecovery: true } } },
      meta: '{"tier":2}',
    },
  });
  // b64info holds JSON bytes: onair's protocol is JSON only.
  const b64 = decodeConnectResponse({ result: { user: 'u', b64info: Buffer.from('{"a":1}').toString('base64') } });
  assert.equal(b64.type === 'result' && b64.result.info, '{"a":1}');
  // Anonymous: an empty result (or none) is user "".
  assert.deepEqual(decodeConnectResponse({}), decodeConnectResponse({ result: {} }));
  assert.deepEqual(decodeConnectResponse({ error: { code: 403, message: 'permission denied' } }), {
    type: 'error',
    error: { code: 403, message: 'permission denied' },
  });
  assert.deepEqual(decodeConnectResponse({ error: { code: 1000, message: 'later', temporary: true } }), {
    type: 'error',
    error: { code: 1000, message: 'later', temporary: true },
  });
  assert.deepEqual(decodeConnectResponse({ disconnect: { code: 4501, reason: 'unauthorized' } }), {
    type: 'disconnect',
    disconnect: { code: 4501, reason: 'unauthorized' },
  });
  // A disconnect wins over an error, an error over a result.
  assert.equal(decodeConnectResponse({ result: { user: 'x' }, error: { code: 400 }, disconnect: { code: 4000 } }).type, 'disconnect');
  assert.equal(decodeConnectResponse({ result: { user: 'x' }, error: { code: 400 } }).type, 'error');
});

test('bad connect responses are refused', () => {
  const bad: unknown[] = [
    null,
    [],
    'x',
    { result: [] },
    { result: { user: 5 } },
    { result: { expire_at: -1 } },
    { result: { expire_at: '1' } },
    { result: { channels: 'a' } },
    { result: { channels: [1] } },
    { result: { subs: [] } },
    { result: { subs: { a: 1 } } },
    { result: { meta: 'x' } },
    { result: { b64info: Buffer.from([0xff, 0x00]).toString('base64') } },
    { result: { subs: { a: { override: { presence: true } } } } },
    { error: { code: 'x' } },
    { error: { code: -1 } },
    { error: 'x' },
    { disconnect: { code: 3000, reason: 'reserved' } },
    { disconnect: { code: 5000 } },
    { disconnect: { code: 4000.5 } },
  ];
  for (const b of bad) assert.throws(() => decodeConnectResponse(b), ProxyResponseError, JSON.stringify(b));
});

test('refresh responses: no result means expired', () => {
  assert.deepEqual(decodeRefreshResponse({ result: { expire_at: 1565436268 } }), {
    type: 'result',
    result: { expired: false, expireAt: 1565436268, info: undefined },
  });
  assert.deepEqual(decodeRefreshResponse({ result: { expired: true } }), { type: 'result', result: { expired: true, expireAt: 0, info: undefined } });
  assert.deepEqual(decodeRefreshResponse({}), { type: 'result', result: { expired: true, expireAt: 0 } });
  assert.deepEqual(decodeRefreshResponse({ result: { expire_at: 10.9, info: [1] } }), { type: 'result', result: { expired: false, expireAt: 10, info: '[1]' } });
  assert.throws(() => decodeRefreshResponse({ result: { expired: 'yes' } }), ProxyResponseError);
});

test('subscribe, publish and rpc results', () => {
  assert.deepEqual(decodeSubscribeResponse({ result: {} }), {
    type: 'result',
    result: { info: undefined, data: undefined, override: {}, expireAt: 0 },
  });
  assert.deepEqual(
    decodeSubscribeResponse({
      result: {
        info: { color: 'red' },
        data: { welcome: true },
        expire_at: 99,
        override: { join_leave: { value: false }, force_push_join_leave: { value: true }, force_positioning: { value: true } },
      },
    }),
    {
      type: 'result',
      result: { info: '{"color":"red"}', data: '{"welcome":true}', override: { joinLeave: false, forcePushJoinLeave: true, forcePositioning: true }, expireAt: 99 },
    },
  );
  assert.deepEqual(decodePublishResponse({ result: {} }), { type: 'result', result: { data: undefined, skipHistory: false } });
  assert.deepEqual(decodePublishResponse({ result: { data: { text: 'rewritten' }, skip_history: true } }), {
    type: 'result',
    result: { data: '{"text":"rewritten"}', skipHistory: true },
  });
  // data: null means "keep the client's data" (as absent); JSON false is a value.
  assert.deepEqual(decodePublishResponse({ result: { data: null } }), { type: 'result', result: { data: undefined, skipHistory: false } });
  assert.deepEqual(decodePublishResponse({ result: { data: false } }), { type: 'result', result: { data: 'false', skipHistory: false } });
  assert.deepEqual(decodeRpcResponse({ result: { data: { answer: '2019' } } }), { type: 'result', result: { data: '{"answer":"2019"}' } });
  assert.deepEqual(decodeRpcResponse({ error: { code: 1000, message: 'custom error' } }), { type: 'error', error: { code: 1000, message: 'custom error' } });
});

test('disconnect reasons are cut to what a close frame holds, on a character boundary', () => {
  const long = 'é'.repeat(100); // 200 bytes
  const r = decodeConnectResponse({ disconnect: { code: 4500, reason: long } });
  assert.equal(r.type, 'disconnect');
  if (r.type === 'disconnect') {
    assert.ok(Buffer.byteLength(r.disconnect.reason) <= 123);
    assert.equal(r.disconnect.reason, 'é'.repeat(61));
  }
  assert.equal(truncateUtf8('abc', 2), 'ab');
  assert.equal(truncateUtf8('a😀', 4), 'a');
});

test('config: chat.proxy keys, env mapping and clear errors', () => {
  const c = loadConfig({
    env: { ONAIR_CHAT_PROXY_CONNECT_ENDPOINT: 'http://127.0.0.1:3000/connect', ONAIR_CHAT_PROXY_HTTP_HEADERS: 'Cookie,X-Real-Ip', ONAIR_CHAT_PROXY_STATIC_HEADERS: '{"X-Secret":"s"}' },
  });
  assert.equal(c.chat.proxy.connect.endpoint, 'http://127.0.0.1:3000/connect');
  assert.equal(c.chat.proxy.connect.timeoutMs, 1000);
  assert.deepEqual(c.chat.proxy.httpHeaders, ['Cookie', 'X-Real-Ip']);
  assert.deepEqual(c.chat.proxy.staticHeaders, { 'X-Secret': 's' });
  assert.equal(c.chat.proxy.maxInFlight, 256);
  assert.deepEqual(c.chat.proxy.emulatedHeaders, []);
  assert.equal(c.chat.proxy.publish.endpoint, undefined);
  // Defaults leave namespaces as they were (no proxy keys).
  assert.equal('proxySubscribe' in c.chat.namespaces.chat!, false);

  const fails = (overrides: Record<string, unknown>, key: RegExp): void => {
    assert.throws(() => loadConfig({ env: {}, overrides }), (e: unknown) => e instanceof ConfigError && key.test(e.key), JSON.stringify(overrides));
  };
  fails({ 'chat.proxy.connect.endpoint': 'grpc://127.0.0.1:1000' }, /^chat\.proxy\.connect\.endpoint$/);
  fails({ 'chat.proxy.connect.endpoint': 'not a url' }, /^chat\.proxy\.connect\.endpoint$/);
  fails({ 'chat.proxy.httpHeaders': ['Connection'] }, /^chat\.proxy\.httpHeaders\.0$/);
  fails({ 'chat.proxy.connect.timeout': '1s' }, /^chat\.proxy\.connect$|timeout/);
  fails({ 'chat.proxy.staticHeaders': { 'X-A': 'a\r\nX-B: b' } }, /^chat\.proxy\.staticHeaders\.X-A$/);
  fails({ 'chat.namespaces': { chat: { proxySubscribe: true } } }, /^chat\.namespaces\.chat\.proxySubscribe$/);
  fails({ 'chat.namespaces': { chat: { proxyPublish: true, proxyPublishEndpoint: 'ftp://x' } } }, /^chat\.namespaces\.chat\.proxyPublishEndpoint$/);
  // A namespace endpoint alone satisfies its switch.
  const ok = loadConfig({ env: {}, overrides: { 'chat.namespaces': { chat: { proxyPublish: true, proxyPublishEndpoint: 'http://127.0.0.1:1/p' } } } });
  assert.equal(ok.chat.namespaces.chat!.proxyPublishEndpoint, 'http://127.0.0.1:1/p');
});
