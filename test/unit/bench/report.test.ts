import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceSections, pickResult, runReport, markdownTable, NOT_MEASURED } from '../../../bench/report.js';

test('replaceSections rewrites only the text between known markers', () => {
  const doc = [
    '# Benchmarks', 'hand-written prose', '<!-- results:a -->', 'old a', '<!-- /results -->',
    'more prose', '<!-- results:b -->', 'old b', '<!-- /results -->', 'tail',
  ].join('\n');
  const { doc: out, missing } = replaceSections(doc, { a: 'NEW A', c: 'NEW C' });
  assert.equal(out, doc.replace('old a', 'NEW A'));
  assert.deepEqual(missing, ['c']);
});

test('pickResult: newest complete run wins over a newer partial one; none → null', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-report-'));
  try {
    assert.equal(pickResult(dir, 'chat-fanout'), null);
    writeFileSync(join(dir, 'chat-fanout-1000000000000.json'), JSON.stringify({ date: '2026-01-01T00:00:00Z', results: [] }));
    writeFileSync(join(dir, 'chat-fanout-1000000000001.json'), JSON.stringify({ date: '2026-01-02T00:00:00Z', results: [] }));
    writeFileSync(join(dir, 'chat-fanout-1000000000002.json'), JSON.stringify({ partial: true, steps: {} }));
    writeFileSync(join(dir, 'chat-fanout-extra.json'), '{}'); // not this scenario's name pattern
    assert.match(pickResult(dir, 'chat-fanout')!.file, /1000000000001\.json$/);
    rmSync(join(dir, 'chat-fanout-1000000000000.json'));
    rmSync(join(dir, 'chat-fanout-1000000000001.json'));
    const p = pickResult(dir, 'chat-fanout')!;
    assert.equal(p.partial, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runReport: measured scenarios get tables and charts, missing ones "not measured", prose kept', () => {
  const root = mkdtempSync(join(tmpdir(), 'onair-report-'));
  try {
    const results = join(root, 'results');
    mkdirSync(results);
    writeFileSync(join(results, 'latency.json'), JSON.stringify({ date: '2026-11-27T00:00:00.000Z', seconds: 5, results: { rtmp: { n: 10, p50: 50, p95: 90, min: 1, max: 100 }, 'hls.js': { n: 0, errors: ['x'] } } }));
    writeFileSync(join(results, 'hls-serve.json'), JSON.stringify({ rows: 'not an array of rows' }));
    const doc = join(root, 'benchmarks.md');
    writeFileSync(doc, 'intro\n<!-- results:latency -->\n<!-- /results -->\nmiddle\n<!-- results:flv-fanout -->\nstale\n<!-- /results -->\nend\n');
    const lines: string[] = [];
    runReport({ resultsDir: results, docPath: doc, chartsDir: join(root, 'charts'), log: (l) => lines.push(l) });
    const out = readFileSync(doc, 'utf8');
    assert.ok(out.startsWith('intro\n') && out.includes('\nmiddle\n') && out.endsWith('end\n'));
    assert.match(out, /\| rtmp \| 10 \| 50 \| 90 \| 1 \| 100 \|/);
    assert.match(out, /hls\.js: no samples \(x\)/);
    assert.match(out, /<!-- results:flv-fanout -->\n_Not measured in this run\._\n<!-- \/results -->/);
    assert.ok(!out.includes('stale'));
    assert.match(out, /!\[Glass-to-glass latency per protocol\]\(charts\/latency\.svg\)/);
    assert.deepEqual(readdirSync(join(root, 'charts')).sort(), ['latency.svg']);
    // A result file of an unexpected shape is reported, not fatal.
    assert.ok(lines.some((l) => /could not read .*hls-serve\.json/.test(l)));
    assert.ok(lines.some((l) => /not measured in this run/.test(l)));
    assert.equal(NOT_MEASURED, '_Not measured in this run._');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('markdownTable escapes pipes and right-aligns numeric columns', () => {
  const t = markdownTable({ head: ['name', 'value'], rows: [['a|b', 1234.5], ['c', null]] });
  assert.equal(t, '| name | value |\n|---|---:|\n| a\\|b | 1,235 |\n| c | – |');
});

test('pickResult prefers a run comparing more servers; the newer single-server run is shown as an extra table', () => {
  const root = mkdtempSync(join(tmpdir(), 'onair-report-'));
  try {
    const results = join(root, 'results');
    mkdirSync(results);
    const step = (rate: number, p99: number) => ({ rate, sent: 1, dropped: 0, expected: 10, delivered: 10, deliveriesPerSec: 100, p50: 1, p99, max: p99, samples: 1, serverCpuSeconds: 1, deliveriesPerServerCpuSecond: 10, loadavg: 1 });
    writeFileSync(join(results, 'chat-fanout-1000000000000.json'), JSON.stringify({ date: '2026-01-01T00:00:00Z', subscribers: 10, results: [{ mode: 'onair', steps: [step(10, 111)] }, { mode: 'sio', steps: [step(10, 222)] }] }));
    writeFileSync(join(results, 'chat-fanout-1000000000001.json'), JSON.stringify({ date: '2026-01-02T00:00:00Z', subscribers: 10, results: [{ mode: 'onair', steps: [step(10, 333)] }] }));
    assert.match(pickResult(results, 'chat-fanout')!.file, /1000000000000\.json$/);
    const doc = join(root, 'b.md');
    writeFileSync(doc, '<!-- results:chat-fanout -->\n<!-- /results -->\n');
    runReport({ resultsDir: results, docPath: doc, chartsDir: join(root, 'charts'), log: () => {} });
    const out = readFileSync(doc, 'utf8');
    assert.match(out, /\| onair \| 10 \|[^\n]*\| 111 \|/);
    assert.match(out, /\| socket\.io \| 10 \|[^\n]*\| 222 \|/);
    assert.match(out, /Newer run with fewer servers: `[^`]*chat-fanout-1000000000001\.json`/);
    assert.match(out, /\| onair \| 10 \|[^\n]*\| 333 \|/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an earlier complete run that reached more viewers is shown beside the chosen one', () => {
  const root = mkdtempSync(join(tmpdir(), 'onair-report-'));
  try {
    const results = join(root, 'results');
    mkdirSync(results);
    const row = (server: string, viewers: number, served: number) => ({ server, protocol: 'flv', viewers, served, cpuPercent: 10, rssMiB: 100 });
    // Earlier: two servers up to 10,000 viewers. Later: three servers, only up to 1,000 (it wins).
    writeFileSync(join(results, 'flv-fanout-1000000000000.json'), JSON.stringify({ date: '2026-01-01T00:00:00Z', rows: [row('onair', 1000, 1000), row('onair', 10000, 9999), row('nms', 1000, 1000)] }));
    writeFileSync(join(results, 'flv-fanout.json'), JSON.stringify({ date: '2026-01-02T00:00:00Z', rows: [row('onair', 1000, 1000), row('nms', 1000, 700), row('nginx-rtmp', 1000, 1000)] }));
    assert.match(pickResult(results, 'flv-fanout')!.file, /flv-fanout\.json$/);
    const doc = join(root, 'b.md');
    writeFileSync(doc, '<!-- results:flv-fanout -->\n<!-- /results -->\n');
    runReport({ resultsDir: results, docPath: doc, chartsDir: join(root, 'charts'), log: () => {} });
    const out = readFileSync(doc, 'utf8');
    assert.match(out, /Earlier run reaching more viewers \(10,000\): `[^`]*flv-fanout-1000000000000\.json`/);
    assert.match(out, /\| onair \| flv \| 10,000 \| 9,999 \|/);
    assert.match(out, /\| nginx-rtmp \| flv \| 1,000 \| 1,000 \|/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the cluster and chat-formats sections are built from their result files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-cluster-'));
  try {
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify({
      scenario: 'cluster', at: '2026-12-07T21:47:10.000Z', viewersPerEdge: 20, windowSeconds: 5, graceSeconds: 1,
      steps: [{ edges: 1, viewersPerEdge: 20, served: 20, originCpuPercent: 3.2, originEgressKbps: 279, originPulls: 1 }, { edges: 2, viewersPerEdge: 20, served: 40, originCpuPercent: 3.8, originEgressKbps: 562, originPulls: 2 }],
      coldStartMs: [11, 6, 9], coldStartP50Ms: 9, localFirstKeyframeMs: 2, loadavgAtStart: '0.50 0.40 0.30 1/100 1', loadavgAtEnd: '0.90 0.50 0.30 1/100 1',
    }));
    writeFileSync(join(dir, 'chat-formats.json'), JSON.stringify({
      scenario: 'chat-formats', at: '2026-12-07T21:48:00.000Z', loadavg: '1.00 1.00 1.00 1/100 1', subscribers: 1000, publications: 200, note: 'encoding only',
      rows: [{ format: 'json', delta: false, dataBytes: 964, wireBytesPerDelivery: 1030, cpuUsPerPublication: 97, cpuNsPerDelivery: 97 }, { format: 'protobuf', delta: true, dataBytes: 964, wireBytesPerDelivery: 108.9, cpuUsPerPublication: 96.5, cpuNsPerDelivery: 97 }],
    }));
    const doc = join(dir, 'page.md');
    writeFileSync(doc, '<!-- results:cluster -->\n<!-- /results -->\n<!-- results:chat-formats -->\n<!-- /results -->\n');
    runReport({ resultsDir: dir, docPath: doc, chartsDir: join(dir, 'charts'), log: () => undefined });
    const page = readFileSync(doc, 'utf8');
    assert.match(page, /\| 2 × 20 \| 40 \| 3\.8 \| 562 \| 2 \|/);
    assert.match(page, /\| 3 \| 9 \| 11, 6, 9 \| 2 \|/);
    assert.match(page, /load average at start 0\.50 \/ 0\.40 \/ 0\.30 · at end 0\.90/);
    assert.match(page, /\| protobuf \| fossil \| 108\.9 \| 96\.5 \| 97 \|/);
    assert.match(page, /1000 subscribers, 200 publications/);
    assert.match(page, /run 2026-12-07 21:48Z · load average 1\.00/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
