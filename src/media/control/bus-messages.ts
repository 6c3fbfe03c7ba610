/**
 * Control bus messages between nodes (docs/restream.md, "Scale-out"): what an end request and
 * its answer look like on Redis pub/sub, and the one parser that validates them. Pure: no
 * sockets, no timers, so junk handling is unit-tested without Redis.
 *
 *   request  (on {prefix}):                  {"v":1,"type":"end","requestId","from","channel","by","reason"}
 *   answer   (on {prefix}:reply:{from}):     {"v":1,"type":"end-result","requestId","nodeId","channel","ended","stream"?}
 *   live list entry snapshot (key {prefix}:live:node:{nodeId}): {"v":1,"node","url"?,"at","streams":[...]}
 */
import { z } from 'zod';

export const BUS_VERSION = 1;
/** Messages longer than this are junk without parsing (a request is ~200 bytes, an answer ~400). */
export const BUS_MESSAGE_MAX_BYTES = 8 * 1024;
export const BUS_ID_MAX_LENGTH = 128;
export const BUS_CHANNEL_MAX_LENGTH = 64;
export const BUS_REASON_MAX_LENGTH = 200;

const id = z.string().min(1).max(BUS_ID_MAX_LENGTH);
const channel = z.string().min(1).max(BUS_CHANNEL_MAX_LENGTH);

export const endRequestSchema = z.object({
  v: z.literal(BUS_VERSION),
  type: z.literal('end'),
  requestId: id,
  /** Node id of the asking node; answers go to its reply channel. */
  from: id,
  channel,
  by: z.enum(['owner', 'admin']),
  reason: z.string().max(BUS_REASON_MAX_LENGTH).nullable(),
}).strict();

export const endedStreamSchema = z.object({
  protocol: z.string().min(1).max(32),
  clientIp: z.string().max(64).optional(),
  since: z.string().max(40),
  durationSeconds: z.number().min(0),
}).strict();

export const endAnswerSchema = z.object({
  v: z.literal(BUS_VERSION),
  type: z.literal('end-result'),
  requestId: id,
  /** Node id of the answering media node. */
  nodeId: id,
  channel,
  ended: z.boolean(),
  stream: endedStreamSchema.optional(),
}).strict();

export type EndRequest = z.infer<typeof endRequestSchema>;
export type EndAnswer = z.infer<typeof endAnswerSchema>;
export type EndedStream = z.infer<typeof endedStreamSchema>;
export type BusMessage = EndRequest | EndAnswer;

/** Why a message was ignored (the label of onair_control_bus_junk_total). */
export type JunkKind = 'too_large' | 'not_json' | 'invalid' | 'unmatched';

export type Parsed<T> = { ok: true; msg: T } | { ok: false; junk: JunkKind };

function parseWith<T>(schema: z.ZodType<T>, raw: string | Buffer): Parsed<T> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (Buffer.byteLength(text) > BUS_MESSAGE_MAX_BYTES) return { ok: false, junk: 'too_large' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, junk: 'not_json' };
  }
  const r = schema.safeParse(json);
  return r.success ? { ok: true, msg: r.data } : { ok: false, junk: 'invalid' };
}

/** parseEndRequest validates a message from the request channel. */
export function parseEndRequest(raw: string | Buffer): Parsed<EndRequest> {
  return parseWith(endRequestSchema, raw);
}

/** parseEndAnswer validates a message from a reply channel. */
export function parseEndAnswer(raw: string | Buffer): Parsed<EndAnswer> {
  return parseWith(endAnswerSchema, raw);
}

export function encodeEndRequest(r: Omit<EndRequest, 'v' | 'type'>): string {
  return JSON.stringify({ v: BUS_VERSION, type: 'end', requestId: r.requestId, from: r.from, channel: r.channel, by: r.by, reason: r.reason });
}

export function encodeEndAnswer(a: Omit<EndAnswer, 'v' | 'type'>): string {
  return JSON.stringify({ v: BUS_VERSION, type: 'end-result', requestId: a.requestId, nodeId: a.nodeId, channel: a.channel, ended: a.ended, ...(a.stream ? { stream: a.stream } : {}) });
}

// ------------------------------------------------------------ live list snapshots

/** One node's live streams as stored in Redis; entries are the /api/v1/streams entries of that node. */
export const liveSnapshotSchema = z.object({
  v: z.literal(BUS_VERSION),
  node: id,
  url: z.string().max(1024).optional(),
  /** Epoch ms of the write (the writer's clock). */
  at: z.number(),
  streams: z.array(z.object({ channel }).passthrough()),
});

export type LiveSnapshot = z.infer<typeof liveSnapshotSchema>;

/** parseLiveSnapshot validates a node's stored snapshot (undefined: unreadable, ignored). */
export function parseLiveSnapshot(raw: string): LiveSnapshot | undefined {
  try {
    const r = liveSnapshotSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
