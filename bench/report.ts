/**
 * Benchmark report: reads the newest result of every scenario in bench/results/, prints a
 * summary table per scenario, writes charts to docs/benchmarks/*.svg and regenerates the
 * measured-results sections of docs/benchmarks.md between markers:
 *
 *   <!-- results:flv-fanout -->
 *   ...generated...
 *   <!-- /results -->
 *
 * Everything outside the markers (the hand-written method, conditions and prose) is left alone.
 * A scenario without a result file gets "Not measured in this run." and no chart; a result file
 * the report cannot read (its shape changed) gets a note instead of failing the whole report.
 *
 * Usage: npm run bench -- report [--results DIR] [--doc FILE.md] [--charts DIR] [--dry-run]
 * Results come from --results, else $BENCH_RESULTS_DIR, else bench/results. The committed
 * bench/results updates docs/benchmarks.md and docs/benchmarks/*.svg; any other results directory
 * (e.g. a smoke run's) gets its own copy, DIR/benchmarks.md and DIR/benchmarks/*.svg, unless
 * --doc / --charts say otherwise.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { renderChart, type ChartSpec, type Series } from './lib/svg-chart.js';
import { DEFAULT_RESULTS_DIR, REPO_ROOT, resultsDir } from './lib/results.js';

/** Scenarios in document order. */
export const SCENARIOS = ['flv-fanout', 'hls-serve', 'hls-cluster', 'cluster', 'latency', 'srt-ingest', 'chat-conn', 'chat-fanout', 'chat-proxy', 'chat-formats', 'socket-write-floor', 'moderation', 'effects', 'captions'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const NOT_MEASURED = '_Not measured in this run._';
/** The latency table's WHEP row when a run did not measure it (no Chromium, or not asked for). */
export const WHEP_NA = 'not measured in this run';

export interface Table {
  head: string[];
  rows: (string | number | null | undefined)[][];
}

export interface Chart {
  /** File name under the charts directory, e.g. flv-fanout-cpu.svg. */
  file: string;
  spec: ChartSpec;
}

export interface Section {
  scenario: string;
  /** The result file this section was built from (relative path), if any. */
  source?: string;
  /** One line of run conditions: date, node, load average... */
  conditions?: string;
  tables: { caption?: string; table: Table }[];
  charts: Chart[];
  notes: string[];
}

interface Loaded {
  file: string;
  data: any;
  partial: boolean;
  at: number;
}

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * coverage: how many servers a run compares (onair vs socket.io = 2; flv-fanout: the distinct
 * servers among its rows); runs that compare more win.
 */
export const coverage = (data: any): number =>
  Array.isArray(data?.results) ? data.results.length : Array.isArray(data?.rows) ? Math.max(1, new Set(data.rows.map((r: any) => r?.server)).size) : 1;

/** reach: the largest audience a run's rows measured (flv-fanout viewers), 0 when it has none. */
export const reach = (data: any): number =>
  Array.isArray(data?.rows) ? Math.max(0, ...data.rows.map((r: any) => (typeof r?.viewers === 'number' ? r.viewers : 0))) : 0;

/**
 * pickResult chooses the result file of a scenario: `<scenario>.json` or `<scenario>-<ms>.json`
 * (timestamped runs). Complete runs beat partial ones (a killed run's interim file,
 * `"partial": true`); among complete runs, one comparing more servers beats one comparing fewer
 * (the comparison must come from one run); then the newest wins.
 */
export function pickResult(dir: string, scenario: string): Loaded | null {
  return listResults(dir, scenario)[0] ?? null;
}

/** listResults: every readable result file of a scenario, best first (see pickResult). */
export function listResults(dir: string, scenario: string): Loaded[] {
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${scenario.replace(/[-]/g, '\\-')}(?:-(\\d{10,}))?\\.json$`);
  const found: Loaded[] = [];
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (!m) continue;
    const file = join(dir, name);
    let data: any;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    const stamped = Date.parse(data?.date ?? data?.at ?? '');
    const at = Number.isFinite(stamped) ? stamped : m[1] ? Number(m[1]) : statSync(file).mtimeMs;
    found.push({ file, data, partial: data?.partial === true, at });
  }
  found.sort((a, b) => Number(a.partial) - Number(b.partial) || coverage(b.data) - coverage(a.data) || b.at - a.at);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

/** num formats a figure for a table: thousands separators, at most `digits` decimals. */
export function num(v: unknown, digits = 1): string {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '–';
  if (typeof v !== 'number') return String(v);
  const abs = Math.abs(v);
  const d = abs >= 1000 ? 0 : abs >= 100 ? Math.min(digits, 1) : digits;
  return v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 });
}

const cell = (v: string | number | null | undefined) => (typeof v === 'number' ? num(v) : v === null || v === undefined ? '–' : String(v));

export function markdownTable(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`| ${t.head.map(esc).join(' | ')} |`, `|${t.head.map((_h, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of t.rows) lines.push(`| ${r.map((c) => esc(cell(c))).join(' | ')} |`);
  return lines.join('\n');
}

export function textTable(t: Table): string {
  const rows = [t.head, ...t.rows.map((r) => r.map(cell))];
  const w = t.head.map((_h, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? (c ?? '').padEnd(w[i]!) : (c ?? '').padStart(w[i]!))).join('  ')).join('\n');
}

const date = (d: unknown) => (typeof d === 'string' ? d.replace(/:\d\d(\.\d+)?Z$/, 'Z').replace('T', ' ') : '?');
const load = (l: unknown) => (Array.isArray(l) ? l.map((x) => Number(x).toFixed(1)).join(' / ') : typeof l === 'string' ? l.split(' ').slice(0, 3).join(' / ') : undefined);

function conditions(parts: (string | undefined | false)[]): string {
  return parts.filter(Boolean).join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Per-scenario sections. Each reads the JSON shape its scenario writes today.

function flvFanout(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const rows: any[] = d.rows ?? [];
  const loads = rows.map((x) => x.loadavg).filter(Boolean);
  const key = (x: any) => `${x.server} ${x.protocol === 'flv' ? 'HTTP-FLV' : String(x.protocol).toUpperCase()}`;
  const groups = [...new Set(rows.map(key))];
  const series = (field: string): Series[] => groups.map((g) => ({ name: g, points: rows.filter((x) => key(x) === g).map((x) => ({ x: x.viewers, y: x[field] ?? null })) }));
  const hasLag = rows.some((x) => x.loadgenLagP99Ms !== undefined);
  const hasLgCpu = rows.some((x) => x.loadgenCpuPercent !== undefined);
  const hasKbit = rows.some((x) => x.windowKbitP50 !== undefined);
  const hasReads = rows.some((x) => x.loadgenReadsPerSecond !== undefined);
  const table: Table = {
    head: ['server', 'protocol', 'viewers', 'served', ...(hasKbit ? ['kbit/s p50'] : []), 'server CPU %', 'RSS MiB', 'KiB/viewer', 'first key p50 ms', 'first key p99 ms', ...(hasLgCpu ? ['loadgen CPU %'] : []), ...(hasLag ? ['loadgen lag p99 ms'] : []), ...(hasReads ? ['loadgen reads/s'] : []), 'load avg'],
    rows: rows.map((x) => [x.server, x.protocol, x.viewers, x.served, ...(hasKbit ? [x.windowKbitP50] : []), x.cpuPercent, x.rssMiB, x.rssPerViewerKiB, x.firstKeyP50Ms, x.firstKeyP99Ms, ...(hasLgCpu ? [x.loadgenCpuPercent] : []), ...(hasLag ? [x.loadgenLagP99Ms] : []), ...(hasReads ? [x.loadgenReadsPerSecond] : []), x.loadavg ? String(x.loadavg).split(' ')[0] : null]),
  };
  const sub = `${d.windowSeconds ?? '?'} s window, server pinned to one core, 200 kbit/s H.264 + 32 kbit/s AAC`;
  const notes: string[] = [];
  if (r.partial) notes.push(`This is the interim file of a run that did not finish (${rows.length}${d.stepsPlanned ? ` of ${d.stepsPlanned}` : ''} steps); only the steps it completed are shown.`);
  const batched = [...new Set(rows.map((x) => x.loadgenReadBatchMs).filter((b) => Number(b) > 0))];
  if (batched.length) notes.push(`The load generator read in batches (every ${batched.join(' / ')} ms after a viewer's first keyframe) in: ${rows.filter((x) => Number(x.loadgenReadBatchMs) > 0).map((x) => `${key(x)} ${x.viewers}`).join('; ')}.`);
  if (rows.some((x) => x.server === 'nginx-rtmp')) notes.push('nginx-rtmp serves RTMP players only (the Debian module has no HTTP-FLV output); its CPU % and RSS are the sum of the master and its one worker process.');
  const under = rows.filter((x) => Number.isFinite(x.served) && x.served < x.viewers);
  if (under.length) notes.push(`Not every viewer was served (got ≥ 80 % of the stream's bytes) in: ${under.map((x) => `${key(x)} ${x.viewers} (${x.served} served)`).join('; ')}.`);
  if (d.note) notes.push(String(d.note));
  if (d.versions && typeof d.versions === 'object') notes.push(`Peers: ${Object.values(d.versions).map(String).join('; ')}.`);
  if (Array.isArray(d.invocations)) for (const i of d.invocations) notes.push(`Rows from \`${i.command}\` (${date(i.started)}): ${i.note}.`);
  return {
    conditions: conditions([`run ${date(d.date)}`, d.node && `node ${d.node}`, loads.length > 0 && `load average (1 min) during the steps ${loads.map((l: string) => String(l).split(' ')[0]).join(', ')}`]),
    tables: [{ table }],
    charts: [
      { file: 'flv-fanout-cpu.svg', spec: { kind: 'line', title: 'Fan-out: viewers vs server CPU', subtitle: sub, xLabel: 'viewers', yLabel: 'server CPU % (one core = 100)', series: series('cpuPercent') } },
      { file: 'flv-fanout-rss.svg', spec: { kind: 'line', title: 'Fan-out: viewers vs server RSS', subtitle: sub, xLabel: 'viewers', yLabel: 'RSS MiB', series: series('rssMiB') } },
    ],
    notes,
  };
}

function hlsServe(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const rows: any[] = d.rows ?? [];
  const kinds = rows.map((x) => String(x.kind));
  const hasLg = rows.some((x) => x.onairLoadgenCpuPercent !== undefined);
  const pair = (a: unknown, b: unknown) => `${num(a)} / ${num(b)}`;
  const table: Table = {
    head: ['kind', 'bytes', 'onair req/s', 'onair p99 ms', 'nginx req/s', 'nginx p99 ms', 'onair µs CPU/req', 'nginx µs CPU/req', 'onair req/s per core', 'nginx req/s per core',
      ...(hasLg ? ['CPU % server / loadgen, onair', 'CPU % server / loadgen, nginx'] : [])],
    rows: rows.map((x) => [x.kind, x.bytes, x.onair?.rps, x.onair?.p99ms, x.nginx?.rps, x.nginx?.p99ms, x.onairCpuUsPerRequest, x.nginxCpuUsPerRequest, x.onairRpsPerCore, x.nginxRpsPerCore,
      ...(hasLg ? [pair(x.onairServerCpuPercent, x.onairLoadgenCpuPercent), pair(x.nginxServerCpuPercent, x.nginxLoadgenCpuPercent)] : [])]),
  };
  const bars = (f: (x: any) => number | undefined, g: (x: any) => number | undefined): Series[] => [
    { name: 'onair (from memory)', points: rows.map((x) => ({ x: String(x.kind), y: f(x) ?? null })) },
    { name: 'nginx (sendfile)', points: rows.map((x) => ({ x: String(x.kind), y: g(x) ?? null })) },
  ];
  const sub = `${d.connections ?? '?'} keep-alive connections, median of ${d.rounds ?? '?'} × ${d.secondsPerRun ?? '?'} s rounds`;
  return {
    conditions: conditions([`run ${date(d.date)}`, d.node && `node ${d.node}`, d.nginx && String(d.nginx), d.loadAverageAtStart && `load average at start ${load(d.loadAverageAtStart)}`, d.loadAverageAtEnd && `at end ${load(d.loadAverageAtEnd)}`]),
    tables: [{ table }],
    charts: [
      { file: 'hls-serve-rps.svg', spec: { kind: 'bar', title: 'LL-HLS serving: requests per second', subtitle: sub, xLabel: 'resource', yLabel: 'requests/s', categories: kinds, series: bars((x) => x.onair?.rps, (x) => x.nginx?.rps) } },
      { file: 'hls-serve-cpu.svg', spec: { kind: 'bar', title: 'LL-HLS serving: server CPU time per request', subtitle: 'lower is better; /proc utime+stime of the server process ÷ requests', xLabel: 'resource', yLabel: 'µs CPU per request', categories: kinds, series: bars((x) => x.onairCpuUsPerRequest, (x) => x.nginxCpuUsPerRequest) } },
    ],
    notes: d.method ? [`Method (from the result file): ${d.method}.`] : [],
  };
}

function hlsCluster(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const rows: any[] = d.rows ?? [];
  const table: Table = {
    head: ['viewers', 'seconds', 'parts', 'viewer requests', 'failed', 'jumps', 'origin playlist req/part', 'origin part/segment req/part', 'nginx upstream: plain / blocking playlists, media', 'nginx cache hits', 'proxied by node B'],
    rows: rows.map((x) => [x.viewers, x.seconds, x.parts, x.viewerRequests, x.failures, x.jumps, x.originPlaylistPerPart, x.originMediaPerPart,
      x.upstream ? `${x.upstream.plainPlaylist} / ${x.upstream.blockingPlaylist}, ${x.upstream.media}` : null, `${num(100 * x.nginxHitRatio)} %`, x.proxiedOnB]),
  };
  return {
    conditions: conditions([`run ${date(d.date)}`, d.node && `node ${d.node}`, d.loadAverageAtStart && `load average at start ${load(d.loadAverageAtStart)}`, d.loadAverageAtEnd && `at end ${load(d.loadAverageAtEnd)}`]),
    tables: [{ table }],
    charts: [],
    notes: d.method ? [`Method (from the result file): ${d.method}.`] : [],
  };
}

function cluster(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const steps: any[] = d.steps ?? [];
  const cold: number[] = Array.isArray(d.coldStartMs) ? d.coldStartMs : [];
  return {
    conditions: conditions([`run ${date(d.at)}`, d.windowSeconds !== undefined && `window ${d.windowSeconds} s`, d.graceSeconds !== undefined && `edge grace ${d.graceSeconds} s`, d.loadavgAtStart && `load average at start ${load(d.loadavgAtStart)}`, d.loadavgAtEnd && `at end ${load(d.loadavgAtEnd)}`]),
    tables: [
      { caption: 'The origin\'s cost per number of edges', table: { head: ['edges × players', 'players served', 'origin CPU %', 'origin egress kbit/s', 'pulls at the origin'], rows: steps.map((x) => [`${x.edges} × ${x.viewersPerEdge}`, x.served, x.originCpuPercent, x.originEgressKbps, x.originPulls]) } },
      { caption: 'Edge cold start: first player on an edge with no pull → first video keyframe', table: { head: ['runs', 'p50 ms', 'each run ms', 'a player on the origin ms'], rows: [[cold.length, d.coldStartP50Ms, cold.join(', '), d.localFirstKeyframeMs]] } },
    ],
    charts: [],
    notes: [],
  };
}

function latency(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const res: Record<string, any> = d.results ?? {};
  const protos = Object.keys(res);
  const hasHlsJs = protos.some((p) => res[p].hlsJsReportedLatencyP50 !== undefined);
  const hasLag = protos.some((p) => res[p].benchLoopLagP99Ms !== undefined);
  const table: Table = {
    head: ['protocol', 'samples', 'p50 ms', 'p95 ms', 'min ms', 'max ms', ...(hasHlsJs ? ["hls.js's own estimate p50 ms"] : []), ...(hasLag ? ['bench event-loop lag p99 ms'] : [])],
    rows: protos.map((p) => [p, res[p].n, res[p].p50, res[p].p95, res[p].min, res[p].max, ...(hasHlsJs ? [res[p].hlsJsReportedLatencyP50] : []), ...(hasLag ? [res[p].benchLoopLagP99Ms] : [])]),
  };
  if (!('whep' in res)) table.rows.push(['whep', WHEP_NA, null, null, null, null, ...(hasHlsJs ? [null] : []), ...(hasLag ? [null] : [])]);
  const measured = protos.filter((p) => res[p].n > 0);
  const errs = (p: string) => [res[p].error, ...(Array.isArray(res[p].errors) ? res[p].errors : [])].filter(Boolean).join('; ');
  const notes = protos.map((p) => (!(res[p].n > 0) ? `${p}: no samples${errs(p) ? ` (${errs(p)})` : ''}.` : errs(p) ? `${p}: non-fatal player events during the run: ${errs(p)}.` : '')).filter(Boolean);
  return {
    conditions: conditions([`run ${date(d.date)}`, d.node && `node ${d.node}`, d.seconds && `${d.seconds} s per protocol`, d.loadavgAtStart && `load average at start ${load(d.loadavgAtStart)}`, d.loadavgAtEnd && `at end ${load(d.loadavgAtEnd)}`]),
    tables: [{ table }],
    charts: [
      {
        file: 'latency.svg',
        spec: {
          kind: 'bar', title: 'Glass-to-glass latency per protocol', subtitle: 'publisher wallclock in H.264 SEI, same-machine clock, loopback', xLabel: 'protocol', yLabel: 'ms', categories: measured,
          series: [
            { name: 'p50', points: measured.map((p) => ({ x: p, y: res[p].p50 })) },
            { name: 'p95', points: measured.map((p) => ({ x: p, y: res[p].p95 })) },
          ],
        },
      },
    ],
    notes,
  };
}

function chatConn(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const results: any[] = d.results ?? [];
  // Several server processes (NODES, for more connections than one process may hold): named in the label.
  const name = (m: string, x?: any) => (m === 'sio' ? 'socket.io' : m) + (x?.nodes > 1 ? ` (${x.nodes} processes${x.broker === 'redis' ? ' on Redis' : ''})` : '');
  const codes = (c: Record<string, number> | undefined) => (c && Object.keys(c).length ? ' (' + Object.entries(c).map(([k, v]) => `${v}× ${k}`).join(', ') + ')' : '');
  const table: Table = {
    head: ['server', 'connections', 'RSS MiB', 'KiB/conn beyond baseline', 'heap KiB/conn', 'marginal KiB/conn', 'connect ms', 'closed by server'],
    rows: results.flatMap((x) => (x.points ?? []).map((p: any) => [name(x.mode, x), p.clients, p.rssMiB, p.rssPerConnKiB, p.heapPerConnKiB, p.marginalKiBPerConn, p.connectMs, p.closedByServer ? `${p.closedByServer}${codes(p.closeCodes)}` : p.closedByServer])),
  };
  // Chart categories by the target count (a point may fall a few connections short of it).
  const target = (p: any) => String(p.target ?? p.clients);
  const counts = [...new Set(results.flatMap((x) => (x.points ?? []).map(target)))];
  return {
    conditions: conditions([`run ${date(d.date)}`, d.loadavg && `load average at end ${load(d.loadavg)}`, results.length && `baseline RSS ${results.map((x) => `${name(x.mode, x)} ${x.baselineRssMiB} MiB`).join(', ')}`]),
    tables: [{ table }],
    charts: [
      {
        file: 'chat-conn.svg',
        spec: {
          kind: 'bar', title: 'Idle WebSocket connections: server memory per connection', subtitle: 'RSS beyond the idle server ÷ connections, after a forced GC; lower is better', xLabel: 'connections', yLabel: 'KiB per connection', categories: counts,
          series: results.map((x) => ({ name: name(x.mode, x), points: (x.points ?? []).map((p: any) => ({ x: target(p), y: p.rssPerConnKiB })) })),
        },
      },
    ],
    notes: [],
  };
}

function chatFanout(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  // Complete runs: results[{mode, steps, best}]; interim (partial) files: steps{mode: Step[]}.
  const runs: { mode: string; steps: any[]; best?: any; closed?: number }[] = Array.isArray(d.results)
    ? d.results.map((x: any) => ({ mode: x.mode, steps: x.steps ?? [], best: x.best, closed: x.closedDuringRun }))
    : Object.entries(d.steps ?? {}).map(([mode, steps]) => ({ mode, steps: steps as any[] }));
  const name = (m: string) => (m === 'sio' ? 'socket.io' : m);
  const table: Table = {
    head: ['server', 'pub/s', 'delivered / expected', 'deliveries/s', 'reads/s', 'p50 ms', 'p99 ms', 'server fan-out p99 ms', 'server CPU s', 'generator CPU s', 'step s', 'deliveries per server CPU-s', 'load avg'],
    rows: runs.flatMap((x) =>
      x.steps.map((s) => [
        name(x.mode),
        s.rate,
        `${num(s.delivered)} / ${num(s.expected)}`,
        s.deliveriesPerSec,
        s.readsPerSec ?? null,
        s.p50,
        s.p99,
        s.serverFanoutP99Ms === null || s.serverFanoutP99Ms === undefined ? null : `≤ ${s.serverFanoutP99Ms}`,
        s.serverCpuSeconds,
        s.loadgenCpuSeconds ?? null,
        s.wallSeconds ?? null,
        s.deliveriesPerServerCpuSecond,
        s.loadavg,
      ]),
    ),
  };
  const loads = runs.flatMap((x) => x.steps.map((s) => s.loadavg)).filter((x) => typeof x === 'number');
  const notes: string[] = [];
  if (r.partial) notes.push('This is an interim file of a run that did not finish; only the steps it completed are shown.');
  const limit = d.p99LimitMs ?? 200;
  if (runs.some((x) => x.steps.slice(0, -1).some((s) => s.p99 > limit))) notes.push(`Steps continue past the first one over the p99 limit (a \`KEEP_GOING=1\` run), to show throughput and server CPU per delivery at every rate.`);
  for (const x of runs) {
    if (x.best) notes.push(`${name(x.mode)}: highest rate with p99 ≤ ${d.p99LimitMs ?? 200} ms: ${num(x.best.deliveriesPerSec)} deliveries/s at ${x.best.rate} pub/s (p99 ${num(x.best.p99)} ms).`);
    else if (x.best === null) notes.push(`${name(x.mode)}: no step stayed under the p99 limit of ${d.p99LimitMs ?? 200} ms in this run.`);
  }
  const sub = `${num(d.subscribers)} subscribers on one channel, ${d.stepSeconds ?? '?'} s per step`;
  const series = (f: (s: any) => number): Series[] => runs.map((x) => ({ name: name(x.mode), points: x.steps.map((s) => ({ x: s.rate, y: f(s) })) }));
  return {
    conditions: conditions([`run ${date(d.date)}`, `load generator: ${d.loadgen === 'c' ? 'C (bench/loadgen/chat-loadgen.c)' : 'Node (bench/chat-loadgen.ts)'}${d.pinned ? ', pinned to core 1 (server on core 0)' : ''}`, loads.length > 0 && `load average (1 min) per step ${Math.min(...loads)}–${Math.max(...loads)}`]),
    tables: [{ table }],
    charts: [
      { file: 'chat-fanout-p99.svg', spec: { kind: 'line', title: 'Chat fan-out: publish rate vs p99 delivery latency', subtitle: sub, xLabel: 'publications per second', yLabel: 'p99 publish-to-receive ms', series: series((s) => s.p99) } },
      { file: 'chat-fanout-efficiency.svg', spec: { kind: 'line', title: 'Chat fan-out: deliveries per server CPU-second', subtitle: `${sub}; higher is better`, xLabel: 'publications per second', yLabel: 'deliveries per server CPU-second', series: series((s) => s.deliveriesPerServerCpuSecond) } },
    ],
    notes,
  };
}

function moderation(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const rows: any[] = [];
  if (d.filterOnly) rows.push(['word filter scan alone', null, d.filterOnly.medianUs, d.filterOnly.p90Us, d.filterOnly.p99Us, d.filterOnly.p999Us, d.filterOnly.meanUs]);
  for (const x of d.results ?? []) rows.push([`full path, ${x.label}`, x.messages, x.medianUs, x.p90Us, x.p99Us, x.p999Us, x.meanUs]);
  return {
    conditions: conditions([`run ${date(d.date)}`, d.node && `node ${d.node}`, `${num(d.entries)} filter entries, ${num(d.users)} users`, d.compileMs !== undefined && `automaton build ${num(d.compileMs)} ms`]),
    tables: [{ table: { head: ['path', 'messages', 'median µs', 'p90 µs', 'p99 µs', 'p99.9 µs', 'mean µs'], rows } }],
    charts: [],
    notes: [],
  };
}

function effects(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const a = d.aggregator ?? {};
  const b = d.endToEnd ?? {};
  return {
    conditions: conditions([`run ${date(d.at ?? d.date)}`, d.node && `node ${d.node}`]),
    tables: [
      { caption: 'Reaction aggregator (in process)', table: { head: ['viewers', 'reactions/s per viewer', 'reactions', 'ns per reaction', 'publications', 'largest publication bytes'], rows: [[a.viewers, a.ratePerViewer, a.reactCalls, a.nsPerReact, a.publications, a.maxPublicationBytes]] } },
      { caption: 'End to end over the chat connection', table: { head: ['clients', 'sent', 'accepted', 'rate-limited', 'publications', 'counts exact', 'RTT p50 ms', 'RTT p99 ms'], rows: [[b.clients, b.sent, b.accepted, b.rateLimited, b.publications, b.countsExact === undefined ? null : String(b.countsExact), b.rttMsP50, b.rttMsP99]] } },
    ],
    charts: [],
    notes: [],
  };
}

function captions(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const w = d.whisper ?? {};
  const rows: any[][] = [];
  const delay = (label: string, x: any) => x && rows.push([label, x.recogniserMs, x.finals, x.phrases, x.droppedAudioMs ?? 0, x.p50Ms, x.p90Ms, x.maxMs]);
  delay('recogniser at the measured whisper time', d.delayWithMeasuredLatency);
  delay('fast recogniser (loop only)', d.delayWithFastRecogniser);
  return {
    conditions: conditions([`run ${date(d.date)}`, d.machine?.loadavg1 !== undefined && `load average (1 min) ${d.machine.loadavg1}`, d.windowMs && `${d.windowMs / 1000} s windows every ${d.stepMs / 1000} s`]),
    tables: [
      { caption: 'whisper.cpp per window', table: { head: ['model', 'load ms', 'median inference ms per window', 'real-time factor', 'RSS MB (max)'], rows: [[w.model, w.loadMs, w.medianInferMs, num(w.realtimeFactor, 2), Array.isArray(w.rssMb) ? Math.max(...w.rssMb) : w.rssMb]] } },
      { caption: 'Caption delay (end of speech → caption), sliding-window loop in real time', table: { head: ['recogniser', 'ms per window', 'finals', 'phrases', 'dropped audio ms', 'p50 ms', 'p90 ms', 'max ms'], rows } },
    ],
    charts: [],
    notes: [
      ...(w.binding ? [`Binding: ${w.binding}.`] : []),
      ...(/random/.test(String(w.model)) ? ['The model has the real tiny shapes but random weights: the encoder cost is real, decoding stops after one token, so the inference time is a lower bound for tiny.'] : []),
      ...(Number(w.realtimeFactor) > 1 ? [`Real-time factor ${w.realtimeFactor} (> 1: transcribing a window took longer than the audio it holds), so captions fell behind and audio was dropped in this run.`] : []),
    ],
  };
}

/** generic renders any other result file (e.g. a scenario added after this report) as key/value rows. */
function generic(r: Loaded): Omit<Section, 'scenario'> {
  const rows: (string | number)[][] = [];
  const walk = (v: any, path: string) => {
    if (rows.length >= 40) return;
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 80)) rows.push([path, typeof v === 'boolean' ? String(v) : v]);
    else if (Array.isArray(v)) v.slice(0, 10).forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
  };
  walk(r.data, '');
  return { conditions: conditions([`run ${date(r.data?.date ?? r.data?.at)}`]), tables: [{ table: { head: ['field', 'value'], rows } }], charts: [], notes: ['Shown as raw fields: the report has no dedicated layout for this result yet.'] };
}

function socketWriteFloor(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const rows = (d.rows ?? []).map((x: any) => (x.skipped ? [x.writer, null, null, null, null, x.skipped] : [x.writer, x.wallMsPerPass, x.userUsPerWrite, x.sysUsPerWrite, x.totalUsPerWrite, x.failed ? `${x.failed} short writes` : '']));
  return {
    conditions: conditions([`run ${date(d.date)}`, d.loadavg && `load average ${load(d.loadavg)}`, `${num(d.sockets)} sockets, ${d.bytes} bytes per write, ${d.passes} passes`]),
    tables: [{ table: { head: ['writer', 'ms per pass', 'user µs per write', 'kernel µs per write', 'total µs per write', ''], rows } }],
    charts: [],
    notes: [],
  };
}

function srtIngest(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const lat = d.addedLatencyMs ?? {};
  const s0 = d.latencySession ?? {};
  const sessions: any[] = d.sessions ?? [];
  const sum = (k: string) => sessions.reduce((a, x) => a + Number(x[k] ?? 0), 0);
  const load = Array.isArray(d.loadavg) ? d.loadavg[0] : null;
  return {
    conditions: conditions([`run ${date(d.when)}`, d.method, load !== null && `load average (1 min) at the CPU window ${load}`]),
    tables: [
      { caption: 'Latency onair adds (one publisher through a UDP relay: a video PES in → its frame out of the hub)', table: { head: ['SRT latency ms', 'relay loss %', 'relay delay ms each way', 'samples', 'p50 ms', 'p95 ms', 'max ms', 'lost', 'recovered', 'dropped', 'NAKs sent'], rows: [[d.latencyMs, Math.round((d.loss ?? 0) * 1000) / 10, d.delayMs ?? 0, lat.samples, lat.p50 === undefined ? null : Math.round(lat.p50 * 10) / 10, lat.p95 === undefined ? null : Math.round(lat.p95 * 10) / 10, lat.max === undefined ? null : Math.round(lat.max * 10) / 10, s0.lost, s0.recovered, s0.dropped, s0.naksSent]] } },
      { caption: 'CPU with N publishers, one HTTP-FLV reader each (the Node process; ffmpeg not counted)', table: { head: ['publishers', 'live', 'seconds', 'process CPU %', 'CPU % per stream', 'packets', 'lost', 'dropped'], rows: [[d.streams, d.live, d.seconds, d.cpu?.processPercent, d.cpu?.perStreamPercent, sum('packets'), sum('lost'), sum('dropped')]] } },
    ],
    charts: [],
    notes: [],
  };
}

function chatProxy(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const row = (label: string, x: any) => [label, x?.n, x?.p50Ms, x?.p90Ms, x?.p99Ms, x?.meanMs];
  const head = ['', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms'];
  const b = d.burstConnectsPerSecond ?? {};
  return {
    conditions: conditions([`run ${date(d.date)}`, d.node && `node ${d.node}`, Array.isArray(d.loadavg) && `load average (1 min) at the start ${d.loadavg[0]}`]),
    tables: [
      { caption: 'Connect command → reply on an open WebSocket (one at a time)', table: { head, rows: [row('anonymous', d.connect?.anonymous), row('JWT', d.connect?.jwt), row('connect proxy', d.connect?.proxy)] } },
      { caption: 'Publish command → reply (one connection, one at a time)', table: { head, rows: [row('no proxy', d.publish?.plain), row('publish proxy', d.publish?.proxy)] } },
      { caption: `Connect bursts (open + connect + close, ${d.burstParallel ?? '?'} at a time)`, table: { head: ['anonymous connects/s', 'JWT connects/s', 'proxy connects/s', 'proxy call mean ms (metric)'], rows: [[b.anonymous, b.jwt, b.proxy, d.proxyCallMeanMs]] } },
    ],
    charts: [],
    notes: [],
  };
}

function chatFormats(r: Loaded): Omit<Section, 'scenario'> {
  const d = r.data;
  const rows = (d.rows ?? []) as any[];
  const sockets = (d.sockets ?? []) as any[];
  const tables: Section['tables'] = [
    {
      caption: `Encoding and hand-out, no sockets: ${d.subscribers} subscribers, ${d.publications} publications of a 1 KiB state, a tenth rewritten each`,
      table: { head: ['format', 'delta', 'bytes per delivery', 'CPU µs per publication', 'CPU ns per delivery'], rows: rows.map((x) => [x.format, x.delta ? 'fossil' : 'no', x.wireBytesPerDelivery, x.cpuUsPerPublication, x.cpuNsPerDelivery]) },
    },
  ];
  if (sockets.length > 0) {
    tables.push({
      caption: `Real WebSocket subscribers on loopback: ${d.socketSubscribers} subscribers, ${d.socketPublications} publications at ${d.rate}/s, server process CPU`,
      table: { head: ['format', 'delta', 'socket bytes per delivery', 'server CPU µs per delivery', 'deliveries'], rows: sockets.map((x) => [x.format, x.delta ? 'fossil' : 'no', x.wireBytesPerDelivery, x.serverCpuUsPerDelivery, x.deliveries]) },
    });
  }
  const at = d.at ?? d.date;
  return { conditions: conditions([at && `run ${date(at)}`, d.node && `node ${d.node}`, d.loadavg && `load average ${load(d.loadavg)}`]), tables, charts: [], notes: d.note ? [`Measured: ${d.note}.`] : [] };
}

const BUILDERS: Record<string, (r: Loaded) => Omit<Section, 'scenario'>> = {
  'socket-write-floor': socketWriteFloor,
  'flv-fanout': flvFanout,
  'hls-serve': hlsServe,
  'hls-cluster': hlsCluster,
  cluster,
  latency,
  'srt-ingest': srtIngest,
  'chat-conn': chatConn,
  'chat-fanout': chatFanout,
  'chat-proxy': chatProxy,
  'chat-formats': chatFormats,
  moderation,
  effects,
  captions,
};

/** buildSection turns one scenario's newest result into tables, charts and notes. */
export function buildSection(scenario: string, resultsDir: string, root = process.cwd()): Section {
  const all = listResults(resultsDir, scenario);
  const r = all[0];
  if (!r) return { scenario, tables: [], charts: [], notes: [] };
  const source = relative(root, r.file);
  try {
    // A named variant of a scenario (srt-ingest-loss5: srt-ingest with --loss 0.05) uses its layout.
    const build = BUILDERS[scenario] ?? BUILDERS[Object.keys(BUILDERS).find((k) => scenario.startsWith(`${k}-`)) ?? ''] ?? generic;
    const s = build(r);
    // A newer complete run that compares fewer servers is shown too (tables only), never merged.
    const newer = all.find((x) => !x.partial && x.at > r.at);
    if (newer) {
      const n = build(newer);
      for (const t of n.tables) {
        s.tables.push({ caption: `Newer run with fewer servers: \`${relative(root, newer.file)}\`${n.conditions ? ` (${n.conditions})` : ''}${t.caption ? ` — ${t.caption}` : ''}`, table: t.table });
      }
    }
    // An earlier complete run that went to more viewers than the chosen one keeps its rows visible.
    const further = all.find((x) => !x.partial && x !== newer && x.at < r.at && reach(x.data) > reach(r.data));
    if (further) {
      const f = build(further);
      for (const t of f.tables) {
        s.tables.push({ caption: `Earlier run reaching more viewers (${num(reach(further.data), 0)}): \`${relative(root, further.file)}\`${f.conditions ? ` (${f.conditions})` : ''}${t.caption ? ` — ${t.caption}` : ''}`, table: t.table });
      }
    }
    return { scenario, source, ...s };
  } catch (err) {
    return { scenario, source, tables: [], charts: [], notes: [`The report could not read ${source}: ${(err as Error).message}`] };
  }
}

/** sectionMarkdown is what goes between a scenario's markers. */
export function sectionMarkdown(s: Section, chartsRel: string): string {
  if (!s.source) return NOT_MEASURED;
  const out: string[] = [];
  out.push(`_Source: \`${s.source}\`${s.conditions ? ` · ${s.conditions}` : ''}_`);
  for (const t of s.tables) {
    out.push('');
    if (t.caption) out.push(`**${t.caption}**`, '');
    out.push(t.table.rows.length ? markdownTable(t.table) : '_The result file holds no rows._');
  }
  for (const n of s.notes) out.push('', n);
  for (const c of s.charts) out.push('', `![${c.spec.title}](${chartsRel}/${c.file})`);
  return out.join('\n');
}

/**
 * replaceSections rewrites the text between `<!-- results:NAME -->` and the next `<!-- /results -->`
 * for every NAME in `bodies`; markers without a body and all other text stay as they are.
 * Returns the new document and the names whose markers were not found.
 */
export function replaceSections(doc: string, bodies: Record<string, string>): { doc: string; missing: string[] } {
  const seen = new Set<string>();
  const next = doc.replace(/(<!-- results:([a-z0-9-]+) -->)[\s\S]*?(<!-- \/results -->)/g, (whole, open: string, name: string, close: string) => {
    if (!(name in bodies)) return whole;
    seen.add(name);
    return `${open}\n${bodies[name]!.trim()}\n${close}`;
  });
  return { doc: next, missing: Object.keys(bodies).filter((n) => !seen.has(n)) };
}

export interface ReportOptions {
  resultsDir: string;
  docPath: string;
  chartsDir: string;
  dryRun?: boolean;
  log?: (line: string) => void;
}

/** runReport builds every section, prints the summary, writes the charts and the document. */
export function runReport(o: ReportOptions): Section[] {
  const log = o.log ?? ((l: string) => console.log(l));
  const sections = SCENARIOS.map((s) => buildSection(s, o.resultsDir));
  // Result files of scenarios the list above does not know yet (generic layout).
  if (existsSync(o.resultsDir)) {
    const known = new Set<string>(SCENARIOS);
    const extra = new Set(readdirSync(o.resultsDir).map((f) => /^([a-z0-9-]+?)(?:-\d{10,})?\.json$/.exec(f)?.[1]).filter((x): x is string => !!x && !known.has(x)));
    for (const s of [...extra].sort()) sections.push(buildSection(s, o.resultsDir));
  }
  for (const s of sections) {
    log(`\n== ${s.scenario} ==`);
    if (!s.source) {
      log('not measured in this run (no result file)');
      continue;
    }
    log(`${s.source}${s.conditions ? ` — ${s.conditions}` : ''}`);
    for (const t of s.tables) {
      if (t.caption) log(t.caption);
      log(textTable(t.table));
    }
    for (const n of s.notes) log(`note: ${n}`);
  }
  if (o.dryRun) return sections;
  mkdirSync(o.chartsDir, { recursive: true });
  for (const s of sections) {
    for (const c of s.charts) {
      const file = join(o.chartsDir, c.file);
      writeFileSync(file, renderChart(c.spec));
      log(`chart ${file}`);
    }
  }
  if (existsSync(o.docPath)) {
    const chartsRel = relative(dirname(resolve(o.docPath)), resolve(o.chartsDir)) || '.';
    const bodies = Object.fromEntries(sections.map((s) => [s.scenario, sectionMarkdown(s, chartsRel)]));
    const { doc, missing } = replaceSections(readFileSync(o.docPath, 'utf8'), bodies);
    writeFileSync(o.docPath, doc);
    log(`updated ${o.docPath}`);
    const unplaced = missing.filter((m) => sections.find((s) => s.scenario === m)?.source);
    if (unplaced.length) log(`no <!-- results:NAME --> marker in ${o.docPath} for: ${unplaced.join(', ')} (add one to publish it)`);
  } else {
    log(`${o.docPath} does not exist; charts written, document not updated`);
  }
  return sections;
}

/**
 * reportPaths: where the report reads and writes. Results: --results, else the results directory
 * (BENCH_RESULTS_DIR or bench/results). The document and charts: --doc / --charts; without them,
 * docs/benchmarks.md and docs/benchmarks/ for the committed results, but for any other results
 * directory (a smoke run's temp dir) a copy of the document inside that directory, so a report
 * of throwaway results never rewrites the committed page.
 */
export function reportPaths(o: { results?: string; doc?: string; charts?: string }, env: NodeJS.ProcessEnv = process.env): { resultsDir: string; docPath: string; chartsDir: string; template?: string } {
  const dir = o.results ? resolve(o.results) : resultsDir(undefined, env);
  const committed = dir === DEFAULT_RESULTS_DIR;
  const docPath = o.doc ? resolve(o.doc) : committed ? join(REPO_ROOT, 'docs/benchmarks.md') : join(dir, 'benchmarks.md');
  const chartsDir = o.charts ? resolve(o.charts) : o.doc ? join(dirname(docPath), 'benchmarks') : committed ? join(REPO_ROOT, 'docs/benchmarks') : join(dir, 'benchmarks');
  return { resultsDir: dir, docPath, chartsDir, ...(!o.doc && !committed ? { template: join(REPO_ROOT, 'docs/benchmarks.md') } : {}) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      results: { type: 'string' },
      doc: { type: 'string' },
      charts: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const p = reportPaths(values);
  // a report of a non-committed results directory starts from a copy of the committed page (its markers)
  if (p.template && !values['dry-run'] && !existsSync(p.docPath) && existsSync(p.template)) {
    mkdirSync(dirname(p.docPath), { recursive: true });
    copyFileSync(p.template, p.docPath);
  }
  runReport({ resultsDir: p.resultsDir, docPath: p.docPath, chartsDir: p.chartsDir, dryRun: values['dry-run'] });
}
