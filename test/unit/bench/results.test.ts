import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { argValue, DEFAULT_RESULTS_DIR, REPO_ROOT, resultsDir, resultsPath, writeResultJson } from '../../../bench/lib/results.js';
import { reportPaths, runReport, WHEP_NA } from '../../../bench/report.js';

test('resultsDir: --out beats BENCH_RESULTS_DIR beats bench/results; relative paths from the current directory', () => {
  assert.equal(DEFAULT_RESULTS_DIR, join(REPO_ROOT, 'bench/results'));
  assert.ok(existsSync(join(REPO_ROOT, 'bench/report.ts')));
  assert.equal(resultsDir(undefined, {}), DEFAULT_RESULTS_DIR);
  assert.equal(resultsDir(undefined, { BENCH_RESULTS_DIR: '' }), DEFAULT_RESULTS_DIR);
  assert.equal(resultsDir(undefined, { BENCH_RESULTS_DIR: '/tmp/x' }), '/tmp/x');
  assert.equal(resultsDir('rel/out', { BENCH_RESULTS_DIR: '/tmp/x' }), resolve('rel/out'));
  assert.equal(resultsPath('latency.json', undefined, { BENCH_RESULTS_DIR: 'smoke' }), resolve('smoke/latency.json'));
});

test('argValue reads --name VALUE and --name=VALUE', () => {
  assert.equal(argValue('out', ['node', 's.ts', '--viewers', '5', '--out', '/tmp/a']), '/tmp/a');
  assert.equal(argValue('out', ['node', 's.ts', '--out=/tmp/b']), '/tmp/b');
  assert.equal(argValue('out', ['node', 's.ts', '--outx', '1']), undefined);
  assert.equal(argValue('out', ['node', 's.ts', '--out']), undefined);
});

test('writeResultJson creates the directory, writes whole files and leaves no .tmp behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-results-'));
  try {
    const file = join(dir, 'a/b/x.json');
    assert.equal(writeResultJson(file, { partial: true, rows: [1] }), file);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { partial: true, rows: [1] });
    writeResultJson(file, { partial: false, rows: [1, 2] });
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { partial: false, rows: [1, 2] });
    assert.deepEqual(readdirSync(join(dir, 'a/b')), ['x.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reportPaths: committed results update docs/; any other results directory gets its own copy of the page', () => {
  const committed = reportPaths({}, {});
  assert.equal(committed.resultsDir, DEFAULT_RESULTS_DIR);
  assert.equal(committed.docPath, join(REPO_ROOT, 'docs/benchmarks.md'));
  assert.equal(committed.chartsDir, join(REPO_ROOT, 'docs/benchmarks'));
  assert.equal(committed.template, undefined);
  const smoke = reportPaths({}, { BENCH_RESULTS_DIR: '/tmp/smoke' });
  assert.deepEqual(smoke, { resultsDir: '/tmp/smoke', docPath: '/tmp/smoke/benchmarks.md', chartsDir: '/tmp/smoke/benchmarks', template: join(REPO_ROOT, 'docs/benchmarks.md') });
  const explicit = reportPaths({ results: '/tmp/r', doc: '/tmp/d/page.md' }, {});
  assert.deepEqual(explicit, { resultsDir: '/tmp/r', docPath: '/tmp/d/page.md', chartsDir: '/tmp/d/benchmarks' });
});

test('report: WHEP row says n/a; flv-fanout shows loadgen CPU, the nginx-rtmp note and a partial run note', () => {
  const root = mkdtempSync(join(tmpdir(), 'onair-report-'));
  try {
    const results = join(root, 'results');
    const row = (server: string, protocol: string) => ({ server, protocol, viewers: 10, served: 10, cpuPercent: 5, rssMiB: 20, rssPerViewerKiB: 12, firstKeyP50Ms: 3, firstKeyP99Ms: 4, loadgenCpuPercent: 7.5, loadgenLagP99Ms: 11, loadgenReadsPerSecond: 900, loadavg: '1.00 1.00 1.00' });
    writeResultJson(join(results, 'flv-fanout.json'), { date: '2026-11-27T01:00:00.000Z', partial: true, stepsPlanned: 3, rows: [row('onair', 'rtmp'), row('nginx-rtmp', 'rtmp')] });
    writeResultJson(join(results, 'latency.json'), { date: '2026-11-27T01:00:00.000Z', results: { rtmp: { n: 3, p50: 1, p95: 2, min: 0, max: 3 } } });
    const doc = join(root, 'benchmarks.md');
    writeFileSync(doc, '<!-- results:flv-fanout -->\n<!-- /results -->\n<!-- results:latency -->\n<!-- /results -->\n');
    runReport({ resultsDir: results, docPath: doc, chartsDir: join(root, 'charts'), log: () => {} });
    const out = readFileSync(doc, 'utf8');
    assert.match(out, new RegExp(`\\| whep \\| ${WHEP_NA} \\|`));
    assert.match(out, /\| server \| protocol \|.*\| loadgen CPU % \|/);
    assert.match(out, /\| nginx-rtmp \| rtmp \| 10 \| 10 \| 5 \| 20 \| 12 \| 3 \| 4 \| 7\.5 \| 11 \| 900 \|/);
    assert.match(out, /interim file of a run that did not finish \(2 of 3 steps\)/);
    assert.match(out, /nginx-rtmp serves RTMP players only/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('coverage: flv-fanout runs count their distinct servers, so a three-peer run beats a newer onair-only run', async () => {
  const { coverage, pickResult } = await import('../../../bench/report.js');
  assert.equal(coverage({ results: [1, 2] }), 2);
  assert.equal(coverage({ rows: [{ server: 'onair' }, { server: 'nms' }, { server: 'nginx-rtmp' }, { server: 'onair' }] }), 3);
  assert.equal(coverage({ rows: [] }), 1);
  assert.equal(coverage({}), 1);
  const dir = mkdtempSync(join(tmpdir(), 'onair-report-'));
  try {
    writeResultJson(join(dir, 'flv-fanout.json'), { date: '2026-11-27T01:00:00Z', rows: [{ server: 'onair' }, { server: 'nms' }, { server: 'nginx-rtmp' }] });
    writeResultJson(join(dir, 'flv-fanout-1795745000000.json'), { date: '2026-11-27T02:00:00Z', rows: [{ server: 'onair' }] });
    assert.match(pickResult(dir, 'flv-fanout')!.file, /flv-fanout\.json$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
