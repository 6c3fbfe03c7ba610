/**
 * RTSP 1.0 messages (RFC 2326) and TCP-interleaved RTP/RTCP frames (RFC 2326 10.12). Pure: bytes
 * in, values out. One push parser reads both kinds from the same TCP stream, split anywhere:
 *
 *   request:      METHOD SP Request-URI SP RTSP/1.0 CRLF *(header CRLF) CRLF [body of Content-Length]
 *   response:     RTSP/1.0 SP Status-Code SP Reason-Phrase CRLF *(header CRLF) CRLF [body]
 *   interleaved:  '$' (0x24) | channel (8) | length (16, big-endian) | payload (length bytes)
 *
 * Limits (header bytes, body bytes, header count) are checked before anything is buffered past
 * them; a violation throws RtspParseError and the caller answers 400 and closes.
 */

export class RtspParseError extends Error {
  constructor(message: string) {
    super(`rtsp: ${message}`);
    this.name = 'RtspParseError';
  }
}

export const RTSP_VERSION = 'RTSP/1.0';
/** RTSP_INTERLEAVED_MAGIC is '$', the first byte of an interleaved binary frame. */
export const RTSP_INTERLEAVED_MAGIC = 0x24;
/** '$', channel, 16-bit length. */
export const RTSP_INTERLEAVED_HEADER_BYTES = 4;
export const RTSP_INTERLEAVED_MAX_PAYLOAD = 0xffff;
export const RTSP_DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
export const RTSP_DEFAULT_MAX_BODY_BYTES = 64 * 1024;
export const RTSP_MAX_HEADERS = 64;

const CR = 0x0d;
const LF = 0x0a;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VERSION = /^RTSP\/\d\.\d$/;
const STATUS = /^\d{3}$/;
const DIGITS = /^\d{1,10}$/;

/** RtspHeaders holds header values by lower-case name (repeated headers joined with ", "). */
export type RtspHeaders = Record<string, string>;

export interface RtspRequest {
  kind: 'request';
  method: string;
  uri: string;
  version: string;
  headers: RtspHeaders;
  body: Buffer;
}

export interface RtspResponse {
  kind: 'response';
  version: string;
  status: number;
  reason: string;
  headers: RtspHeaders;
  body: Buffer;
}

export interface RtspInterleavedFrame {
  kind: 'interleaved';
  channel: number;
  payload: Buffer;
}

export type RtspMessage = RtspRequest | RtspResponse | RtspInterleavedFrame;

export interface RtspParserOptions {
  onMessage(m: RtspMessage): void;
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
}

/** findHeaderEnd gives the index just past the blank line ending a header block (CRLFCRLF or LFLF), or -1. */
function findHeaderEnd(b: Buffer, from: number): number {
  for (let i = from; i < b.length; i++) {
    if (b[i] !== LF) continue;
    if (i + 1 < b.length && b[i + 1] === LF) return i + 2;
    if (i + 2 < b.length && b[i + 1] === CR && b[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** RtspParser is a push parser for one RTSP connection's incoming bytes (requests, responses, '$' frames). */
export class RtspParser {
  private buf: Buffer = Buffer.alloc(0);
  private readonly maxHeader: number;
  private readonly maxBody: number;
  /** A parsed head waiting for its body. */
  private head: { start: Omit<RtspRequest, 'body'> | Omit<RtspResponse, 'body'>; length: number } | null = null;
  private failed = false;

  constructor(private readonly o: RtspParserOptions) {
    this.maxHeader = o.maxHeaderBytes ?? RTSP_DEFAULT_MAX_HEADER_BYTES;
    this.maxBody = o.maxBodyBytes ?? RTSP_DEFAULT_MAX_BODY_BYTES;
  }

  /** buffered is the number of bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.buf.length;
  }

  /** push takes the next bytes (any split); throws RtspParseError on malformed input (the parser stays failed). */
  push(chunk: Buffer): void {
    if (this.failed) throw new RtspParseError('parser already failed');
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let at = 0;
    try {
      for (;;) {
        const used = this.next(at);
        if (used === 0) break;
        at += used;
      }
    } catch (err) {
      this.failed = true;
      this.buf = Buffer.alloc(0);
      throw err;
    }
    // Keep only the unread tail (copied, so the socket's chunk can be freed).
    this.buf = at >= this.buf.length ? Buffer.alloc(0) : at > 0 ? Buffer.from(this.buf.subarray(at)) : this.buf;
  }

  /** next reads one message at `at`; returns the bytes it used (0: need more). */
  private next(at: number): number {
    const b = this.buf;
    if (this.head) {
      const need = this.head.length;
      if (b.length - at < need) return 0;
      const body = Buffer.from(b.subarray(at, at + need));
      const head = this.head.start;
      this.head = null;
      this.o.onMessage({ ...head, body });
      return need;
    }
    if (at >= b.length) return 0;
    if (b[at] === RTSP_INTERLEAVED_MAGIC) {
      if (b.length - at < RTSP_INTERLEAVED_HEADER_BYTES) return 0;
      const channel = b.readUInt8(at + 1);
      const len = b.readUInt16BE(at + 2);
      const total = RTSP_INTERLEAVED_HEADER_BYTES + len;
      if (b.length - at < total) return 0;
      this.o.onMessage({ kind: 'interleaved', channel, payload: b.subarray(at + RTSP_INTERLEAVED_HEADER_BYTES, at + total) });
      return total;
    }
    // Empty lines between messages are allowed (RFC 2326 4: keep-alive CRLFs).
    if (b[at] === CR || b[at] === LF) {
      if (b[at] === CR && at + 1 >= b.length) return 0;
      return b[at] === CR && b[at + 1] === LF ? 2 : 1;
    }
    const end = findHeaderEnd(b, at);
    if (end < 0) {
      if (b.length - at > this.maxHeader) throw new RtspParseError(`message head longer than ${this.maxHeader} bytes`);
      return 0;
    }
    if (end - at > this.maxHeader) throw new RtspParseError(`message head longer than ${this.maxHeader} bytes`);
    const start = this.parseHead(b.toString('latin1', at, end));
    const lengthText = start.headers['content-length'];
    let length = 0;
    if (lengthText !== undefined) {
      if (!DIGITS.test(lengthText)) throw new RtspParseError(`bad Content-Length ${JSON.stringify(lengthText.slice(0, 32))}`);
      length = Number(lengthText);
      if (length > this.maxBody) throw new RtspParseError(`body of ${length} bytes is over the limit of ${this.maxBody}`);
    }
    if (length === 0) {
      this.o.onMessage({ ...start, body: Buffer.alloc(0) });
    } else {
      this.head = { start, length };
    }
    return end - at;
  }

  private parseHead(text: string): Omit<RtspRequest, 'body'> | Omit<RtspResponse, 'body'> {
    const lines = text.split(/\r?\n/);
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    const first = lines.shift() ?? '';
    const headers = parseHeaderLines(lines);
    if (first.startsWith('RTSP/')) {
      const m = /^(RTSP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(first);
      const version = m?.[1];
      const status = m?.[2];
      if (version === undefined || status === undefined || !STATUS.test(status)) throw new RtspParseError(`bad status line ${JSON.stringify(first.slice(0, 64))}`);
      return { kind: 'response', version, status: Number(status), reason: m?.[3] ?? '', headers };
    }
    const parts = first.split(' ');
    if (parts.length !== 3) throw new RtspParseError(`bad request line ${JSON.stringify(first.slice(0, 64))}`);
    const [method, uri, version] = parts as [string, string, string];
    if (!TOKEN.test(method)) throw new RtspParseError(`bad method ${JSON.stringify(method.slice(0, 32))}`);
    if (!VERSION.test(version)) throw new RtspParseError(`bad version ${JSON.stringify(version.slice(0, 32))}`);
    if (uri.length === 0 || /[\x00-\x20\x7f]/.test(uri)) throw new RtspParseError('bad request URI');
    return { kind: 'request', method, uri, version, headers };
  }
}

/** parseHeaderLines reads `Name: value` lines (folded continuation lines join the previous value). */
function parseHeaderLines(lines: string[]): RtspHeaders {
  const headers: RtspHeaders = Object.create(null) as RtspHeaders;
  if (lines.length > RTSP_MAX_HEADERS) throw new RtspParseError(`more than ${RTSP_MAX_HEADERS} header lines`);
  let last: string | null = null;
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last === null) throw new RtspParseError('continuation line before any header');
      headers[last] = `${headers[last]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new RtspParseError(`bad header line ${JSON.stringify(line.slice(0, 64))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!TOKEN.test(name)) throw new RtspParseError(`bad header name ${JSON.stringify(name.slice(0, 32))}`);
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    last = name;
  }
  return headers;
}

/** Reason phrases of the status codes we send (RFC 2326 7.1.1). */
export const RTSP_REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  453: 'Not Enough Bandwidth',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'RTSP Version Not Supported',
};

/** RtspHeaderList is headers to send, in order (names as written). */
export type RtspHeaderList = Record<string, string | number>;

function serializeHead(first: string, headers: RtspHeaderList, body: Buffer): Buffer {
  let head = `${first}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    const v = String(value);
    if (/[\r\n]/.test(name) || /[\r\n]/.test(v)) throw new RtspParseError(`header ${name} holds a line break`);
    if (name.toLowerCase() === 'content-length') continue;
    head += `${name}: ${v}\r\n`;
  }
  if (body.length > 0) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body.length > 0 ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

/** serializeResponse writes a response; the reason defaults to RTSP_REASONS; Content-Length follows the body. */
export function serializeResponse(status: number, headers: RtspHeaderList, body: Buffer | string = Buffer.alloc(0), reason?: string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const phrase = (reason ?? RTSP_REASONS[status] ?? 'Unknown').replace(/[\r\n]/g, ' ');
  return serializeHead(`${RTSP_VERSION} ${status} ${phrase}`, headers, b);
}

/** serializeRequest writes a request (for tests and a future pull client). */
export function serializeRequest(method: string, uri: string, headers: RtspHeaderList, body: Buffer | string = Buffer.alloc(0)): Buffer {
  if (!TOKEN.test(method)) throw new RtspParseError(`bad method ${method}`);
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return serializeHead(`${method} ${uri} ${RTSP_VERSION}`, headers, b);
}

/** interleavedHeader is the 4-byte '$' header of an interleaved frame (payload written separately). */
export function interleavedHeader(channel: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(RTSP_INTERLEAVED_HEADER_BYTES);
  writeInterleavedHeader(h, 0, channel, length);
  return h;
}

/** writeInterleavedHeader writes the 4-byte '$' header at `at` in `out` (no allocation, for per-packet use). */
export function writeInterleavedHeader(out: Buffer, at: number, channel: number, length: number): void {
  if (channel < 0 || channel > 0xff) throw new RtspParseError(`bad interleaved channel ${channel}`);
  if (length < 0 || length > RTSP_INTERLEAVED_MAX_PAYLOAD) throw new RtspParseError(`interleaved payload of ${length} bytes`);
  out[at] = RTSP_INTERLEAVED_MAGIC;
  out[at + 1] = channel;
  out.writeUInt16BE(length, at + 2);
}

/** encodeInterleaved frames one payload for channel `channel`. */
export function encodeInterleaved(channel: number, payload: Buffer): Buffer {
  return Buffer.concat([interleavedHeader(channel, payload.length), payload]);
}

// ---------------------------------------------------------------- header values

/** RtspTransport is one transport spec of a Transport header (RFC 2326 12.39). */
export interface RtspTransport {
  /** e.g. RTP/AVP, RTP/AVP/TCP, RTP/AVP/UDP, RTP/SAVP. */
  protocol: string;
  lowerTransport: 'TCP' | 'UDP';
  unicast: boolean;
  interleaved?: [number, number];
  clientPort?: [number, number];
  mode?: string;
  params: Record<string, string>;
}

function parseRange(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a + 1;
  return [a, b];
}

/** parseTransportHeader reads a Transport header's specs (comma-separated alternatives, preferred first). */
export function parseTransportHeader(value: string): RtspTransport[] {
  const out: RtspTransport[] = [];
  for (const spec of value.split(',')) {
    const parts = spec.trim().split(';').map((p) => p.trim()).filter((p) => p !== '');
    const protocol = parts.shift();
    if (!protocol) continue;
    const pieces = protocol.toUpperCase().split('/');
    const lower = pieces[2] === 'TCP' ? 'TCP' : 'UDP';
    const params: Record<string, string> = {};
    let unicast = true;
    for (const p of parts) {
      const eq = p.indexOf('=');
      const k = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
      const v = eq < 0 ? '' : p.slice(eq + 1).replace(/^"|"$/g, '');
      if (k === 'multicast') unicast = false;
      params[k] = v;
    }
    const t: RtspTransport = { protocol: pieces.join('/'), lowerTransport: lower, unicast, params };
    const il = parseRange(params['interleaved']);
    if (il) t.interleaved = il;
    const cp = parseRange(params['client_port']);
    if (cp) t.clientPort = cp;
    if (params['mode'] !== undefined) t.mode = params['mode'].toLowerCase();
    out.push(t);
  }
  return out;
}

/** sessionIdOf gives the session id of a Session header ("id;timeout=60" → "id"). */
export function sessionIdOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const semicolon = value.indexOf(';');
  const id = (semicolon < 0 ? value : value.slice(0, semicolon)).trim();
  return id === '' ? undefined : id;
}
