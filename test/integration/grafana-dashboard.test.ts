// The shipped Grafana dashboard (deploy/grafana/onair.json) queries only metrics a node exports,
// with labels those metrics have: every name in every panel's PromQL is in /metrics of a node
// running every role on PostgreSQL and Redis, and every grouping label is one of its labels.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTestServer, type TestServer } from '../../testkit/server.js';
import { startRedis, type RedisServer } from '../../testkit/redis.js';
import { POSTGRES_URL } from '../../testkit/db.js';

interface Panel { id: number; type: string; title: string; targets?: { expr: string; refId: string }[] }
const dashboard = JSON.parse(readFileSync('deploy/grafana/onair.json', 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
/** Labels Prometheus adds or histograms have, not declared by the metric. */
const ALWAYS = new Set(['instance', 'job', 'le']);
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

let s: TestServer;
let redis: RedisServer;
before(async () => {
  // Redis makes the node a cluster member (lease, notices, live directory metrics too).
  redis = await startRedis();
  s = await startTestServer({ 'redis.url': redis.url, ...(POSTGRES_URL ? { 'database.url': POSTGRES_URL } : {}) });
});
after(async () => {
  await s?.close();
  await redis?.stop();
});

test('the dashboard is well formed: unique panel ids and refIds, a datasource and an instance variable', () => {
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(dashboard.templating.list.map((v) => v.name), ['datasource', 'instance']);
  const withQueries = dashboard.panels.filter((p) => p.type !== 'row');
  assert.ok(withQueries.length >= 20, `${withQueries.length} panels`);
  for (const p of withQueries) {
    assert.ok(p.targets?.length, `panel "${p.title}" has queries`);
    const refs = p.targets.map((t) => t.refId);
    assert.equal(new Set(refs).size, refs.length, `panel "${p.title}" refIds`);
  }
  // The sections the operators' kit asks for.
  const titles = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
  for (const section of ['Media', 'Chat', 'Jobs and captions', "Players' QoE by variant"]) assert.ok(titles.includes(section), section);
});

test('every metric a panel queries exists in /metrics, and every grouping label is one of its labels', async () => {
  const text = await (await fetch(`${s.httpUrl.replace('0.0.0.0', '127.0.0.1')}/metrics`)).text();
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  let checked = 0;
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      const names = [...new Set([...t.expr.matchAll(/\bonair_[a-z0-9_]+/g)].map((m) => m[0]))];
      assert.ok(names.length > 0, `panel "${p.title}" ${t.refId} queries an onair metric`);
      const labels = new Set(ALWAYS);
      for (const name of names) {
        const base = exported.has(name) ? name : name.replace(HISTOGRAM_SUFFIX, '');
        assert.ok(exported.has(base), `panel "${p.title}": ${name} is not in /metrics`);
        const metric = s.registry.getSingleMetric(base) as unknown as { labelNames?: string[] } | undefined;
        for (const l of metric?.labelNames ?? []) labels.add(l);
        checked++;
      }
      const grouped = [...t.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((x) => x.trim()));
      const legends = [...(t as { legendFormat?: string }).legendFormat?.matchAll(/\{\{(\w+)\}\}/g) ?? []].map((m) => m[1] ?? '');
      for (const l of [...grouped, ...legends]) assert.ok(labels.has(l), `panel "${p.title}": label ${l} is not a label of ${names.join(', ')}`);
    }
  }
  assert.ok(checked >= 40, `${checked} metric references checked`);
});
