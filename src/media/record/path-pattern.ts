/**
 * Recording paths from a pattern, like SRS's dvr_path: `[channel]/[timestamp]` names the
 * directory (under `${dataDir}/recordings/`) that holds one recording's files.
 * Variables: [channel] (alias [stream]), [timestamp] (epoch ms), [date] (YYYY-MM-DD),
 * [time] (HH-MM-SS), [year] [month] [day] [hour] [minute] [second] [ms], [id]. All UTC.
 */

/** Variables a pattern may use. */
export const PATH_VARIABLES = ['channel', 'stream', 'timestamp', 'date', 'time', 'year', 'month', 'day', 'hour', 'minute', 'second', 'ms', 'id'] as const;

export class PathPatternError extends Error {}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** Characters kept in one path segment; others become "_" (channel names are already safe). */
const UNSAFE_SEGMENT_CHARS = /[^A-Za-z0-9._-]/g;

/** validatePathPattern throws when a pattern uses an unknown variable or escapes its root. */
export function validatePathPattern(pattern: string): void {
  for (const m of pattern.matchAll(/\[([^\]]*)\]/g)) {
    const name = m[1] ?? '';
    if (!(PATH_VARIABLES as readonly string[]).includes(name)) throw new PathPatternError(`unknown variable [${m[1]}] in record.pathPattern (known: ${PATH_VARIABLES.map((v) => `[${v}]`).join(' ')})`);
  }
  if (pattern.startsWith('/') || pattern.split('/').some((s) => s === '..')) throw new PathPatternError('record.pathPattern must be relative and must not contain ".."');
  if (!/\[(timestamp|id|ms|second|time)\]/.test(pattern)) throw new PathPatternError('record.pathPattern needs a per-recording variable ([timestamp], [time] or [id])');
}

/** renderPathPattern expands a pattern to a relative directory path (segments sanitised, no empty ones). */
export function renderPathPattern(pattern: string, v: { channel: string; startedAt: number; id: string }): string {
  validatePathPattern(pattern);
  const d = new Date(v.startedAt);
  const values: Record<(typeof PATH_VARIABLES)[number], string> = {
    channel: v.channel,
    stream: v.channel,
    timestamp: String(v.startedAt),
    date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    time: `${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}`,
    year: String(d.getUTCFullYear()),
    month: pad(d.getUTCMonth() + 1),
    day: pad(d.getUTCDate()),
    hour: pad(d.getUTCHours()),
    minute: pad(d.getUTCMinutes()),
    second: pad(d.getUTCSeconds()),
    ms: pad(d.getUTCMilliseconds(), 3),
    id: v.id,
  };
  const expanded = pattern.replace(/\[([a-z]+)\]/g, (_m, name: string) => values[name as keyof typeof values]);
  const segments = expanded
    .split('/')
    .map((s) => s.replace(UNSAFE_SEGMENT_CHARS, '_'))
    .filter((s) => s !== '' && s !== '.' && s !== '..');
  if (segments.length === 0) throw new PathPatternError('record.pathPattern expands to an empty path');
  return segments.join('/');
}
