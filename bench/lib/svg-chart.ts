/**
 * Small, dependency-free SVG charts for the benchmark report (docs/benchmarks/*.svg).
 *
 * renderChart() is a pure function: the same spec always gives the same text, so the charts
 * in docs/ only change when the numbers do. Two kinds:
 *   line  numeric x axis, one polyline (with a marker per point) per series
 *   bar   categorical x axis, one group per category, one bar per series in each group
 * Every chart has a title, axis labels, "nice" ticks on the value axis, a legend and fixed
 * series colours. Markers and bars carry a <title> with the exact value (a hover tooltip).
 * Structural class names (series, point, bar, tick, legend-item, x-label, y-label) are stable:
 * the unit test and anyone post-processing the SVG can rely on them.
 */

export interface Point {
  /** Numeric for line charts, a category label for bar charts. */
  x: number | string;
  /** null / NaN = not measured (no marker, no bar; a line breaks there). */
  y: number | null;
}

export interface Series {
  name: string;
  points: Point[];
  /** Overrides the palette colour (any SVG colour). */
  color?: string;
}

export interface ChartSpec {
  kind: 'line' | 'bar';
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Optional second line under the title (conditions, units). */
  subtitle?: string;
  width?: number;
  height?: number;
  /** Category order for bar charts (default: order of first appearance). */
  categories?: string[];
  /** Lower end of the value axis (default 0, or the data minimum when that is negative). */
  yMin?: number;
  /** Upper end of the value axis (default: the data maximum, rounded up to a nice tick). */
  yMax?: number;
  /** Formats tick and tooltip values (default: compact numbers). */
  format?: (v: number) => string;
}

/** Colour-blind-safe palette (Okabe–Ito), in series order. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

const DEFAULT_WIDTH = 640;
const DEFAULT_HEIGHT = 360;
const MARGIN = { top: 56, right: 24, bottom: 64, left: 72 };
const LEGEND_ROW = 18;
const TICK_TARGET = 5;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** escapeXml makes text safe inside SVG text nodes and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** niceTicks returns evenly spaced round tick values covering [min, max] (1, 2, 2.5 or 5 × 10^k steps). */
export function niceTicks(min: number, max: number, target = TICK_TARGET): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    if (max === 0) return [0, 1];
    const pad = Math.abs(max) * 0.5;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const start = Math.floor(min / step + 1e-9) * step;
  const end = Math.ceil(max / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = start; v <= end + step * 1e-6; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** compact formats a number for a tick: 5,000 → "5k", 1,500,000 → "1.5M", 0.25 → "0.25". */
export function compact(v: number): string {
  const a = Math.abs(v);
  const trim = (x: number) => String(Number(x.toPrecision(3)));
  if (a >= 1e9) return trim(v / 1e9) + 'G';
  if (a >= 1e6) return trim(v / 1e6) + 'M';
  if (a >= 1e3) return trim(v / 1e3) + 'k';
  return trim(v);
}

const isValue = (y: number | null): y is number => y !== null && Number.isFinite(y);
const r1 = (v: number) => Math.round(v * 10) / 10;

/** renderChart renders a line or grouped-bar chart as a standalone SVG document. */
export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? DEFAULT_WIDTH;
  const height = spec.height ?? DEFAULT_HEIGHT;
  const fmt = spec.format ?? compact;
  const series = spec.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const legendRows = Math.ceil(series.length / 3);
  const top = MARGIN.top + (spec.subtitle ? 14 : 0);
  const bottom = MARGIN.bottom + legendRows * LEGEND_ROW;
  const plot = { x: MARGIN.left, y: top, w: width - MARGIN.left - MARGIN.right, h: height - top - bottom };

  const values = series.flatMap((s) => s.points.map((p) => p.y).filter(isValue));
  const dataMin = values.length ? Math.min(...values) : 0;
  const dataMax = values.length ? Math.max(...values) : 1;
  const ticks = niceTicks(spec.yMin ?? Math.min(0, dataMin), spec.yMax ?? dataMax);
  const y0 = ticks[0]!;
  const y1 = ticks[ticks.length - 1]!;
  const yPos = (v: number) => r1(plot.y + plot.h - ((v - y0) / (y1 - y0 || 1)) * plot.h);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(spec.title)}">`);
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<g ${FONT} font-size="12" fill="#222">`);
  out.push(`<text class="title" x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text class="subtitle" x="${width / 2}" y="40" text-anchor="middle" font-size="11" fill="#555">${escapeXml(spec.subtitle)}</text>`);

  // Value axis: grid lines and ticks.
  out.push('<g class="y-axis">');
  for (const t of ticks) {
    const y = yPos(t);
    out.push(`<line class="grid" x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<text class="tick" x="${plot.x - 6}" y="${y + 4}" text-anchor="end">${escapeXml(fmt(t))}</text>`);
  }
  out.push('</g>');

  if (values.length === 0) {
    out.push(`<text class="empty" x="${plot.x + plot.w / 2}" y="${plot.y + plot.h / 2}" text-anchor="middle" fill="#888">not measured</text>`);
  } else if (spec.kind === 'line') {
    renderLines(out, spec, series, plot, yPos, fmt);
  } else {
    renderBars(out, spec, series, plot, yPos, y0, fmt);
  }

  // Axes and their labels.
  out.push(`<line class="axis" x1="${plot.x}" x2="${plot.x}" y1="${plot.y}" y2="${plot.y + plot.h}" stroke="#444"/>`);
  out.push(`<line class="axis" x1="${plot.x}" x2="${plot.x + plot.w}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h}" stroke="#444"/>`);
  out.push(`<text class="x-label" x="${plot.x + plot.w / 2}" y="${plot.y + plot.h + 38}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  const ly = plot.y + plot.h / 2;
  out.push(`<text class="y-label" x="18" y="${ly}" text-anchor="middle" transform="rotate(-90 18 ${ly})">${escapeXml(spec.yLabel)}</text>`);

  // Legend: up to three entries per row under the x label.
  out.push('<g class="legend">');
  const colW = plot.w / 3;
  series.forEach((s, i) => {
    const lx = r1(plot.x + (i % 3) * colW);
    const lyy = plot.y + plot.h + 56 + Math.floor(i / 3) * LEGEND_ROW;
    out.push(`<g class="legend-item"><rect x="${lx}" y="${lyy - 10}" width="12" height="12" fill="${s.color}"/><text x="${lx + 18}" y="${lyy}">${escapeXml(s.name)}</text></g>`);
  });
  out.push('</g>');
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}

type Plot = { x: number; y: number; w: number; h: number };
type Coloured = Series & { color: string };

function renderLines(out: string[], spec: ChartSpec, series: Coloured[], plot: Plot, yPos: (v: number) => number, fmt: (v: number) => string): void {
  const xs = series.flatMap((s) => s.points.filter((p) => isValue(p.y)).map((p) => Number(p.x))).filter(Number.isFinite);
  const xt = niceTicks(Math.min(0, ...xs), Math.max(...xs));
  const x0 = xt[0]!;
  const x1 = xt[xt.length - 1]!;
  const xPos = (v: number) => r1(plot.x + ((v - x0) / (x1 - x0 || 1)) * plot.w);
  out.push('<g class="x-axis">');
  for (const t of xt) out.push(`<text class="tick" x="${xPos(t)}" y="${plot.y + plot.h + 18}" text-anchor="middle">${escapeXml(fmt(t))}</text>`);
  out.push('</g>');
  for (const s of series) {
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    // A not-measured point breaks the line into runs.
    const runs: string[][] = [[]];
    const pts = [...s.points].filter((p) => Number.isFinite(Number(p.x))).sort((a, b) => Number(a.x) - Number(b.x));
    for (const p of pts) {
      if (isValue(p.y)) runs[runs.length - 1]!.push(`${xPos(Number(p.x))},${yPos(p.y)}`);
      else if (runs[runs.length - 1]!.length) runs.push([]);
    }
    for (const run of runs) if (run.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${run.join(' ')}"/>`);
    for (const p of pts) {
      if (!isValue(p.y)) continue;
      out.push(`<circle class="point" cx="${xPos(Number(p.x))}" cy="${yPos(p.y)}" r="3.5" fill="${s.color}"><title>${escapeXml(`${s.name}: ${spec.xLabel} ${p.x} → ${fmt(p.y)}`)}</title></circle>`);
    }
    out.push('</g>');
  }
}

function renderBars(out: string[], spec: ChartSpec, series: Coloured[], plot: Plot, yPos: (v: number) => number, y0: number, fmt: (v: number) => string): void {
  const cats = spec.categories ?? [...new Set(series.flatMap((s) => s.points.map((p) => String(p.x))))];
  const groupW = plot.w / Math.max(1, cats.length);
  const barW = r1((groupW * 0.8) / Math.max(1, series.length));
  const base = yPos(Math.max(0, y0));
  out.push('<g class="x-axis">');
  cats.forEach((c, i) => out.push(`<text class="tick" x="${r1(plot.x + groupW * (i + 0.5))}" y="${plot.y + plot.h + 18}" text-anchor="middle">${escapeXml(c)}</text>`));
  out.push('</g>');
  series.forEach((s, si) => {
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    cats.forEach((c, ci) => {
      const p = s.points.find((q) => String(q.x) === c);
      if (!p || !isValue(p.y)) return;
      const x = r1(plot.x + groupW * ci + groupW * 0.1 + barW * si);
      const y = yPos(p.y);
      const top = Math.min(y, base);
      const h = r1(Math.abs(base - y));
      out.push(`<rect class="bar" x="${x}" y="${top}" width="${barW}" height="${h}" fill="${s.color}"><title>${escapeXml(`${s.name}, ${c}: ${fmt(p.y)}`)}</title></rect>`);
    });
    out.push('</g>');
  });
}
