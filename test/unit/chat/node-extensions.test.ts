// ChatNode's extension points are methods, each returning the function that undoes it: client
// counters count in the node info, control listeners see control messages, history filters
// apply in order, an RPC handler's remover leaves a newer handler of the method alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ChatNode } from '../../../src/chat/node.js';
import { MemoryBroker, MemoryPresenceManager } from '../../../src/chat/index.js';
import { createChatMetrics } from '../../../src/chat/metrics.js';
import type { ControlMessage } from '../../../src/chat/broker/types.js';

function makeNode(): ChatNode {
  const base = loadConfig({ env: {} });
  return new ChatNode({
    config: base.chat,
    logger: silentLogger(),
    broker: new MemoryBroker(),
    presence: new MemoryPresenceManager(),
    metrics: createChatMetrics(new Registry(), { connections: () => 0, subscriptions: () => 0 }),
    tokenSecret: 'unit-secret-0123456789abcdef',
  });
}

test('a client counter counts in num_clients until removed', () => {
  const node = makeNode();
  const remove = node.addClientCounter(() => 7);
  node.addClientCounter(() => 2);
  assert.equal(node.localInfo().num_clients, 9);
  remove();
  assert.equal(node.localInfo().num_clients, 2);
});

test('control listeners see control messages until removed', async () => {
  const node = makeNode();
  await node.start();
  try {
    const seen: string[] = [];
    const remove = node.addControlListener((m: ControlMessage) => seen.push(m.type));
    const msg: ControlMessage = { type: 'disconnect', user: 'nobody', code: 3000, reason: 'x' };
    node.onControl(msg);
    remove();
    node.onControl(msg);
    assert.deepEqual(seen, ['disconnect']);
  } finally {
    await node.stop();
  }
});

test('history filters apply in the order added, on history replies, until removed', async () => {
  const node = makeNode();
  await node.start();
  try {
    for (const n of [1, 2, 3, 4]) await node.publish('chat:h', { data: JSON.stringify({ n }) });
    const ns = async () => (await node.history('chat:h', -1, undefined, false)).publications.map((p) => JSON.parse(p.data).n);
    const removeOdd = node.addHistoryFilter((_ch, pubs) => pubs.filter((p) => JSON.parse(p.data).n % 2 === 0));
    node.addHistoryFilter((_ch, pubs) => pubs.slice(1));
    assert.deepEqual(await ns(), [4], 'odd ones out first, then the first of the rest');
    removeOdd();
    assert.deepEqual(await ns(), [2, 3, 4]);
  } finally {
    await node.stop();
  }
});

test("an RPC handler's remover leaves a newer handler of the same method alone", () => {
  const node = makeNode();
  const h1 = async () => 1;
  const h2 = async () => 2;
  const remove1 = node.registerRpc('m', h1);
  assert.equal(node.rpcHandler('m'), h1);
  node.registerRpc('m', h2);
  remove1();
  assert.equal(node.rpcHandler('m'), h2);
  assert.equal(node.rpcHandler('other'), undefined);
});
