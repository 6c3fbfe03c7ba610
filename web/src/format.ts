import { lang, t } from './i18n';

/** format.ts: numbers, money and durations for the current language. */

const krw = new Intl.NumberFormat('ko-KR', { style: 'currency', currency: 'KRW', maximumFractionDigits: 0 });

/** formatKRW renders an amount in won the Korean way (₩1,000) whatever the UI language. */
export function formatKRW(amount: number): string {
  return krw.format(amount);
}

export function formatCount(n: number): string {
  return new Intl.NumberFormat(lang() === 'ko' ? 'ko-KR' : 'en-US', { notation: n >= 10000 ? 'compact' : 'standard' }).format(n);
}

/** formatDuration renders ms as h:mm:ss or m:ss. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

/** formatSpan renders a length of time in words of the current language: 10분, 1시간 30분 / 10 min, 1 h 30 min (down to whole seconds). */
export function formatSpan(seconds: number): string {
  let s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n) parts.push(t(`duration.${unit}`, { n }));
  }
  if (s || parts.length === 0) parts.push(t('duration.s', { n: s }));
  return parts.join(' ');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(lang() === 'ko' ? 'ko-KR' : 'en-US');
}

/** totalViewers sums per-protocol viewer counts. */
export function totalViewers(v: Record<string, number> | undefined): number {
  if (!v) return 0;
  return Object.values(v).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
}

/** sinceMs reads a stream start given as epoch ms or an ISO string. */
export function sinceMs(since: number | string | undefined): number | undefined {
  if (since === undefined) return undefined;
  const n = typeof since === 'number' ? since : Date.parse(since);
  return Number.isFinite(n) ? n : undefined;
}

/** formatBitrate renders bits per second as kbps / Mbps. */
export function formatBitrate(bps: number): string {
  return bps >= 1_000_000 ? `${(bps / 1_000_000).toFixed(2)} Mbps` : `${Math.round(bps / 1000)} kbps`;
}
