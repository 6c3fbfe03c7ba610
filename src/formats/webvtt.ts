/**
 * WebVTT (W3C WebVTT, with the HLS X-TIMESTAMP-MAP header of RFC 8216 §3.5) writer and
 * parser. Pure: strings in, values out.
 *
 *   WEBVTT
 *   X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000     (HLS segments only)
 *   <blank>
 *   [cue id]
 *   hh:mm:ss.ttt --> hh:mm:ss.ttt [settings]
 *   cue text (escaped; no blank line inside)
 *   <blank>
 */

export class VttError extends Error {
  constructor(message: string) {
    super(`webvtt: ${message}`);
    this.name = 'VttError';
  }
}

export const VTT_SIGNATURE = 'WEBVTT';
export const VTT_ARROW = '-->';
export const TIMESTAMP_MAP_HEADER = 'X-TIMESTAMP-MAP';
/** MPEG-2 TS presentation clock: 90 kHz, 33 bits. */
export const MPEGTS_CLOCK_HZ = 90_000;
export const MPEGTS_MODULUS = 2 ** 33;

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;

/** VttCue is one cue; times are milliseconds on the file's local timeline. */
export interface VttCue {
  id?: string;
  startMs: number;
  endMs: number;
  /** Plain text; lines separated by "\n". Escaped on write, unescaped on parse. */
  text: string;
  /** Cue settings as written after the end time, e.g. "line:90% align:center". */
  settings?: string;
}

/** VttTimestampMap ties LOCAL cue time to an MPEG-TS (90 kHz) presentation time. */
export interface VttTimestampMap {
  mpegts: number;
  localMs: number;
}

export interface VttDocument {
  /** Text after "WEBVTT " on the first line, if any. */
  title?: string;
  timestampMap?: VttTimestampMap;
  cues: VttCue[];
}

/** formatVttTimestamp renders milliseconds as hh:mm:ss.ttt (hours grow past two digits). */
export function formatVttTimestamp(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new VttError(`timestamp ${ms} is not a non-negative number`);
  const t = Math.round(ms);
  const h = Math.floor(t / MS_PER_HOUR);
  const m = Math.floor((t % MS_PER_HOUR) / MS_PER_MINUTE);
  const s = Math.floor((t % MS_PER_MINUTE) / MS_PER_SECOND);
  const f = t % MS_PER_SECOND;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(f).padStart(3, '0')}`;
}

const TIMESTAMP_RE = /^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/;

/** parseVttTimestamp reads [hh:]mm:ss.ttt into milliseconds. */
export function parseVttTimestamp(s: string): number {
  const m = TIMESTAMP_RE.exec(s);
  if (!m) throw new VttError(`bad timestamp "${s}"`);
  return Number(m[1] ?? 0) * MS_PER_HOUR + Number(m[2]) * MS_PER_MINUTE + Number(m[3]) * MS_PER_SECOND + Number(m[4]);
}

/** msToMpegTs converts milliseconds to the 33-bit 90 kHz clock (wrapping). */
export function msToMpegTs(ms: number): number {
  const ticks = Math.round((ms * MPEGTS_CLOCK_HZ) / MS_PER_SECOND);
  return ((ticks % MPEGTS_MODULUS) + MPEGTS_MODULUS) % MPEGTS_MODULUS;
}

/**
 * escapeVttText makes plain text safe as cue payload: &, < and > become entities (so "-->"
 * cannot appear), CR/LF are normalised and blank lines (which would end the cue) removed.
 */
export function escapeVttText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .split(/\r\n|\r|\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .join('\n');
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', nbsp: '\u00a0', lrm: '\u200e', rlm: '\u200f' };

/** unescapeVttText turns cue payload back into plain text: entities decoded, tags stripped. */
export function unescapeVttText(payload: string): string {
  return payload
    .replace(/<[^>]*>/g, '')
    .replace(/&(amp|lt|gt|nbsp|lrm|rlm);/g, (whole: string, name: string) => ENTITIES[name] ?? whole);
}

/** sanitizeCueId keeps an identifier writable: one line, never containing "-->". */
function sanitizeCueId(id: string): string {
  return id.replace(/[\r\n]+/g, ' ').split(VTT_ARROW).join('--').trim();
}

/** formatTimestampMap renders the HLS header line. */
export function formatTimestampMap(map: VttTimestampMap): string {
  if (!Number.isInteger(map.mpegts) || map.mpegts < 0 || map.mpegts >= MPEGTS_MODULUS) throw new VttError(`MPEGTS ${map.mpegts} out of range`);
  return `${TIMESTAMP_MAP_HEADER}=MPEGTS:${map.mpegts},LOCAL:${formatVttTimestamp(map.localMs)}`;
}

/** writeVtt renders a document; cues are written in the order given. */
export function writeVtt(doc: VttDocument): string {
  const title = doc.title?.replace(/[\r\n]+/g, ' ').split(VTT_ARROW).join('--').trim();
  let out = title ? `${VTT_SIGNATURE} ${title}\n` : `${VTT_SIGNATURE}\n`;
  if (doc.timestampMap) out += formatTimestampMap(doc.timestampMap) + '\n';
  for (const cue of doc.cues) {
    if (!(cue.endMs >= cue.startMs)) throw new VttError(`cue ends (${cue.endMs}) before it starts (${cue.startMs})`);
    out += '\n';
    const id = cue.id !== undefined ? sanitizeCueId(cue.id) : '';
    if (id) out += id + '\n';
    out += `${formatVttTimestamp(cue.startMs)} ${VTT_ARROW} ${formatVttTimestamp(cue.endMs)}`;
    const settings = cue.settings?.replace(/[\r\n]+/g, ' ').trim();
    if (settings) out += ' ' + settings;
    out += '\n';
    const text = escapeVttText(cue.text);
    if (text) out += text + '\n';
  }
  return out;
}

function parseTimestampMap(value: string): VttTimestampMap {
  let mpegts: number | undefined;
  let localMs: number | undefined;
  for (const part of value.split(',')) {
    const [k, v] = [part.slice(0, part.indexOf(':')).trim(), part.slice(part.indexOf(':') + 1).trim()];
    if (k === 'MPEGTS') {
      if (!/^\d+$/.test(v)) throw new VttError(`bad MPEGTS "${v}"`);
      mpegts = Number(v);
    } else if (k === 'LOCAL') localMs = parseVttTimestamp(v);
  }
  if (mpegts === undefined || localMs === undefined) throw new VttError(`X-TIMESTAMP-MAP needs MPEGTS and LOCAL: "${value}"`);
  return { mpegts, localMs };
}

const TIMING_RE = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?$/;

/** parseVtt reads a whole WebVTT file (BOM, CRLF, NOTE/STYLE/REGION blocks tolerated). */
export function parseVtt(input: string): VttDocument {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const lines = text.split(/\r\n|\r|\n/);
  const first = lines[0] ?? '';
  if (first !== VTT_SIGNATURE && !first.startsWith(VTT_SIGNATURE + ' ') && !first.startsWith(VTT_SIGNATURE + '\t')) {
    throw new VttError('missing WEBVTT signature');
  }
  const doc: VttDocument = { cues: [] };
  const title = first.slice(VTT_SIGNATURE.length).trim();
  if (title) doc.title = title;
  let i = 1;
  // Header lines run until the first blank line.
  for (; i < lines.length && lines[i] !== ''; i++) {
    const l = lines[i] ?? '';
    if (l.startsWith(TIMESTAMP_MAP_HEADER + '=')) doc.timestampMap = parseTimestampMap(l.slice(TIMESTAMP_MAP_HEADER.length + 1));
  }
  while (i < lines.length) {
    while (i < lines.length && lines[i] === '') i++;
    if (i >= lines.length) break;
    const block: string[] = [];
    for (let l = lines[i]; l !== undefined && l !== ''; l = lines[++i]) block.push(l);
    const head = block[0];
    if (head === undefined) break;
    if (/^(NOTE|STYLE|REGION)([ \t]|$)/.test(head) && !head.includes(VTT_ARROW)) continue;
    let k = 0;
    let id: string | undefined;
    if (!head.includes(VTT_ARROW)) {
      id = head;
      k = 1;
    }
    const timing = block[k];
    const m = timing !== undefined ? TIMING_RE.exec(timing) : null;
    const start = m?.[1];
    const end = m?.[2];
    if (start === undefined || end === undefined) throw new VttError(`cue without timing line near "${head}"`);
    const cue: VttCue = { startMs: parseVttTimestamp(start), endMs: parseVttTimestamp(end), text: unescapeVttText(block.slice(k + 1).join('\n')) };
    if (cue.endMs < cue.startMs) throw new VttError(`cue ends before it starts: "${timing}"`);
    if (id !== undefined) cue.id = id;
    const settings = m?.[3]?.trim();
    if (settings) cue.settings = settings;
    doc.cues.push(cue);
  }
  return doc;
}
