import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderChart, niceTicks, escapeXml, compact, PALETTE } from '../../../bench/lib/svg-chart.js';
import { at } from '../../../testkit/at.js';

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

test('line chart: one polyline and one marker per measured point, per series', () => {
  const svg = renderChart({
    kind: 'line',
    title: 'viewers vs CPU',
    xLabel: 'viewers',
    yLabel: 'CPU %',
    series: [
      { name: 'onair', points: [{ x: 1000, y: 8 }, { x: 5000, y: 30 }, { x: 10000, y: 61 }] },
      { name: 'nms', points: [{ x: 1000, y: 12 }, { x: 5000, y: 55 }] },
    ],
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.equal(count(svg, /<circle class="point"/g), 5);
  assert.equal(count(svg, /<polyline /g), 2);
  assert.equal(count(svg, /<g class="series"/g), 2);
  assert.equal(count(svg, /class="legend-item"/g), 2);
  assert.match(svg, /<text class="x-label"[^>]*>viewers<\/text>/);
  assert.match(svg, /<text class="y-label"[^>]*>CPU %<\/text>/);
  assert.match(svg, /<text class="title"[^>]*>viewers vs CPU<\/text>/);
  // Series colours come from the palette in order.
  assert.ok(svg.includes(`stroke="${PALETTE[0]}"`) && svg.includes(`stroke="${PALETTE[1]}"`));
  // The value axis covers the data: top tick >= 61, bottom tick 0; x ticks reach 10k.
  const yTicks = [...svg.matchAll(/<g class="y-axis">([\s\S]*?)<\/g>/g)][0]![1]!;
  const yValues = [...yTicks.matchAll(/class="tick"[^>]*>([^<]+)</g)].map((m) => Number(m[1]));
  assert.equal(yValues[0], 0);
  assert.ok(at(yValues, yValues.length - 1) >= 61);
  assert.match(svg, /class="tick"[^>]*>10k</);
});

test('line chart: a point without a value gets no marker and breaks the line', () => {
  const svg = renderChart({
    kind: 'line', title: 't', xLabel: 'x', yLabel: 'y',
    series: [{ name: 'a', points: [{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: null }, { x: 4, y: 4 }, { x: 5, y: 5 }] }],
  });
  assert.equal(count(svg, /<circle class="point"/g), 4);
  assert.equal(count(svg, /<polyline /g), 2);
});

test('bar chart: one bar per series per category with a value, category labels in order', () => {
  const svg = renderChart({
    kind: 'bar',
    title: 'req/s',
    xLabel: 'kind',
    yLabel: 'requests/s',
    categories: ['playlist', 'part', 'segment'],
    series: [
      { name: 'onair', points: [{ x: 'playlist', y: 350 }, { x: 'part', y: 58 }, { x: 'segment', y: 94 }] },
      { name: 'nginx', points: [{ x: 'playlist', y: 653 }, { x: 'segment', y: 390 }] },
    ],
  });
  assert.equal(count(svg, /<rect class="bar"/g), 5);
  const xAxis = [...svg.matchAll(/<g class="x-axis">([\s\S]*?)<\/g>/g)][0]![1]!;
  assert.deepEqual([...xAxis.matchAll(/class="tick"[^>]*>([^<]+)</g)].map((m) => m[1]), ['playlist', 'part', 'segment']);
  // Bars stand on the zero line: every bar's bottom edge is the same y.
  const bottoms = [...svg.matchAll(/<rect class="bar" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"/g)].map((m) => Math.round((Number(m[1]) + Number(m[2])) * 10) / 10);
  assert.equal(new Set(bottoms).size, 1);
  // Taller value, taller bar.
  const heights = [...svg.matchAll(/<rect class="bar"[^>]*height="([^"]+)"[^>]*><title>([^<]+)</g)].map((m) => [at(m, 2), Number(m[1])] as const);
  const h = Object.fromEntries(heights);
  assert.ok(h['nginx, playlist: 653']! > h['onair, playlist: 350']!);
});

test('text is escaped everywhere (title, labels, legend, tooltips)', () => {
  const evil = `<script>&"x'`;
  const svg = renderChart({ kind: 'bar', title: evil, xLabel: evil, yLabel: evil, series: [{ name: evil, points: [{ x: evil, y: 1 }] }] });
  assert.ok(!svg.includes('<script>'));
  assert.ok(svg.includes('&lt;script&gt;&amp;&quot;x&#39;'));
  assert.equal(escapeXml(`a<b & "c"`), 'a&lt;b &amp; &quot;c&quot;');
});

test('no data: the chart says "not measured" and draws no marks', () => {
  const svg = renderChart({ kind: 'line', title: 'empty', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [] }] });
  assert.match(svg, /not measured/);
  assert.equal(count(svg, /<circle class="point"/g), 0);
  assert.equal(count(svg, /<rect class="bar"/g), 0);
});

test('rendering is deterministic', () => {
  const spec = { kind: 'line' as const, title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [{ x: 1, y: 0.3 }, { x: 2, y: 0.7 }] }] };
  assert.equal(renderChart(spec), renderChart(spec));
});

test('niceTicks: round steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 61), [0, 20, 40, 60, 80]);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 10000), [0, 2000, 4000, 6000, 8000, 10000]);
  assert.deepEqual(niceTicks(0, 0), [0, 1]);
  const t = niceTicks(3, 3);
  assert.ok(at(t, 0) <= 3 && at(t, t.length - 1) >= 3 && t.length >= 2);
});

test('compact number format', () => {
  assert.equal(compact(12000), '12k');
  assert.equal(compact(1_500_000), '1.5M');
  assert.equal(compact(0.25), '0.25');
  assert.equal(compact(950), '950');
  assert.equal(compact(2500), '2.5k');
});
