/**
 * Protobuf codec of the Centrifugo client protocol (client.proto, package
 * centrifugal.centrifuge.protocol, as the `centrifuge` SDK's protobuf build speaks it).
 * Pure: bytes in, values out.
 *
 * The protocol core builds replies and pushes as JSON text (codec.ts); this module
 * transcodes that text to protobuf Replies, and decodes protobuf Commands into the same
 * Command values the JSON decoder yields. A shared batch is transcoded once and its bytes
 * fanned out, like the JSON path.
 *
 * Framing: a WebSocket binary message holds one or more messages, each prefixed with its
 * length as a varint (protobuf's "length-delimited" stream).
 *
 * Bytes fields (`data`, `info`, `conn_info`, `chan_info`): onair's payloads are JSON, so
 * they carry JSON text (UTF-8); a command whose bytes field is not JSON is a bad request.
 */
import { CodecError, commandFromObject, type Command } from './codec.js';
import { ProtoReader, ProtoWriter, WireType, int32FromVarint, int64FromVarint, uint32FromVarint, uint64ToNumber } from './protobuf-wire.js';

/** MessageName names a message of SCHEMA (some shared by several client.proto messages of the same shape). */
export type MessageName =
  | 'Command'
  | 'ConnectRequest'
  | 'SubscribeRequest'
  | 'ChannelRequest'
  | 'PublishRequest'
  | 'HistoryRequest'
  | 'StreamPosition'
  | 'FilterNode'
  | 'Empty'
  | 'DataRequest'
  | 'RPCRequest'
  | 'RefreshRequest'
  | 'SubRefreshRequest'
  | 'Reply'
  | 'Error'
  | 'Push'
  | 'ClientInfo'
  | 'Publication'
  | 'InfoPush'
  | 'Unsubscribe'
  | 'Disconnect'
  | 'Refresh'
  | 'ConnectResult'
  | 'RefreshResult'
  | 'SubscribeResult'
  | 'PresenceResult'
  | 'PresenceStatsResult'
  | 'HistoryResult';

type Scalar = 'string' | 'bytes' | 'bool' | 'uint32' | 'int32' | 'uint64' | 'int64';
type FieldType = Scalar | { message: MessageName } | { map: Scalar | { message: MessageName } };

/** FieldSpec is one field of a message: number, JSON name (the same as the proto name) and type. */
interface FieldSpec {
  no: number;
  name: string;
  type: FieldType;
  repeated?: true;
}

const msg = (message: MessageName): { message: MessageName } => ({ message });

/**
 * SCHEMA lists the fields onair reads or writes, numbered as in client.proto. Fields left out
 * (map subscriptions, keyed state) are skipped when decoding, as protobuf skips unknown fields.
 */
const SCHEMA = {
  // ---- client → server ----
  Command: [
    { no: 1, name: 'id', type: 'uint32' },
    { no: 4, name: 'connect', type: msg('ConnectRequest') },
    { no: 5, name: 'subscribe', type: msg('SubscribeRequest') },
    { no: 6, name: 'unsubscribe', type: msg('ChannelRequest') },
    { no: 7, name: 'publish', type: msg('PublishRequest') },
    { no: 8, name: 'presence', type: msg('ChannelRequest') },
    { no: 9, name: 'presence_stats', type: msg('ChannelRequest') },
    { no: 10, name: 'history', type: msg('HistoryRequest') },
    { no: 11, name: 'ping', type: msg('Empty') },
    { no: 12, name: 'send', type: msg('DataRequest') },
    { no: 13, name: 'rpc', type: msg('RPCRequest') },
    { no: 14, name: 'refresh', type: msg('RefreshRequest') },
    { no: 15, name: 'sub_refresh', type: msg('SubRefreshRequest') },
  ],
  ConnectRequest: [
    { no: 1, name: 'token', type: 'string' },
    { no: 2, name: 'data', type: 'bytes' },
    { no: 3, name: 'subs', type: { map: msg('SubscribeRequest') } },
    { no: 4, name: 'name', type: 'string' },
    { no: 5, name: 'version', type: 'string' },
    { no: 6, name: 'headers', type: { map: 'string' } },
  ],
  SubscribeRequest: [
    { no: 1, name: 'channel', type: 'string' },
    { no: 2, name: 'token', type: 'string' },
    { no: 3, name: 'recover', type: 'bool' },
    { no: 6, name: 'epoch', type: 'string' },
    { no: 7, name: 'offset', type: 'uint64' },
    { no: 8, name: 'data', type: 'bytes' },
    { no: 9, name: 'positioned', type: 'bool' },
    { no: 10, name: 'recoverable', type: 'bool' },
    { no: 11, name: 'join_leave', type: 'bool' },
    { no: 12, name: 'delta', type: 'string' },
    { no: 13, name: 'tf', type: msg('FilterNode') },
    { no: 14, name: 'flag', type: 'int64' },
  ],
  /** A publication tags filter node (checked by tags-filter.ts). */
  FilterNode: [
    { no: 1, name: 'op', type: 'string' },
    { no: 2, name: 'key', type: 'string' },
    { no: 3, name: 'cmp', type: 'string' },
    { no: 4, name: 'val', type: 'string' },
    { no: 5, name: 'vals', type: 'string', repeated: true },
    { no: 6, name: 'nodes', type: msg('FilterNode'), repeated: true },
  ],
  /** UnsubscribeRequest, PresenceRequest and PresenceStatsRequest share this shape. */
  ChannelRequest: [{ no: 1, name: 'channel', type: 'string' }],
  PublishRequest: [
    { no: 1, name: 'channel', type: 'string' },
    { no: 2, name: 'data', type: 'bytes' },
  ],
  HistoryRequest: [
    { no: 1, name: 'channel', type: 'string' },
    { no: 7, name: 'limit', type: 'int32' },
    { no: 8, name: 'since', type: msg('StreamPosition') },
    { no: 9, name: 'reverse', type: 'bool' },
  ],
  StreamPosition: [
    { no: 1, name: 'offset', type: 'uint64' },
    { no: 2, name: 'epoch', type: 'string' },
  ],
  /** PingRequest, PingResult, UnsubscribeResult and PublishResult are empty. */
  Empty: [],
  /** SendRequest and RPCResult: one bytes field. */
  DataRequest: [{ no: 1, name: 'data', type: 'bytes' }],
  RPCRequest: [
    { no: 1, name: 'data', type: 'bytes' },
    { no: 2, name: 'method', type: 'string' },
  ],
  RefreshRequest: [{ no: 1, name: 'token', type: 'string' }],
  SubRefreshRequest: [
    { no: 1, name: 'channel', type: 'string' },
    { no: 2, name: 'token', type: 'string' },
  ],
  // ---- server → client ----
  Reply: [
    { no: 1, name: 'id', type: 'uint32' },
    { no: 2, name: 'error', type: msg('Error') },
    { no: 4, name: 'push', type: msg('Push') },
    { no: 5, name: 'connect', type: msg('ConnectResult') },
    { no: 6, name: 'subscribe', type: msg('SubscribeResult') },
    { no: 7, name: 'unsubscribe', type: msg('Empty') },
    { no: 8, name: 'publish', type: msg('Empty') },
    { no: 9, name: 'presence', type: msg('PresenceResult') },
    { no: 10, name: 'presence_stats', type: msg('PresenceStatsResult') },
    { no: 11, name: 'history', type: msg('HistoryResult') },
    { no: 12, name: 'ping', type: msg('Empty') },
    { no: 13, name: 'rpc', type: msg('DataRequest') },
    { no: 14, name: 'refresh', type: msg('RefreshResult') },
    { no: 15, name: 'sub_refresh', type: msg('Refresh') },
  ],
  Error: [
    { no: 1, name: 'code', type: 'uint32' },
    { no: 2, name: 'message', type: 'string' },
    { no: 3, name: 'temporary', type: 'bool' },
  ],
  Push: [
    { no: 2, name: 'channel', type: 'string' },
    { no: 4, name: 'pub', type: msg('Publication') },
    { no: 5, name: 'join', type: msg('InfoPush') },
    { no: 6, name: 'leave', type: msg('InfoPush') },
    { no: 7, name: 'unsubscribe', type: msg('Unsubscribe') },
    { no: 8, name: 'message', type: msg('DataRequest') },
    { no: 9, name: 'subscribe', type: msg('SubscribeResult') },
    { no: 10, name: 'connect', type: msg('ConnectResult') },
    { no: 11, name: 'disconnect', type: msg('Disconnect') },
    { no: 12, name: 'refresh', type: msg('Refresh') },
  ],
  ClientInfo: [
    { no: 1, name: 'user', type: 'string' },
    { no: 2, name: 'client', type: 'string' },
    { no: 3, name: 'conn_info', type: 'bytes' },
    { no: 4, name: 'chan_info', type: 'bytes' },
  ],
  Publication: [
    { no: 4, name: 'data', type: 'bytes' },
    { no: 5, name: 'info', type: msg('ClientInfo') },
    { no: 6, name: 'offset', type: 'uint64' },
    { no: 7, name: 'tags', type: { map: 'string' } },
    { no: 8, name: 'delta', type: 'bool' },
  ],
  /** Join and Leave pushes: the client's info. */
  InfoPush: [{ no: 1, name: 'info', type: msg('ClientInfo') }],
  Unsubscribe: [
    { no: 2, name: 'code', type: 'uint32' },
    { no: 3, name: 'reason', type: 'string' },
  ],
  Disconnect: [
    { no: 1, name: 'code', type: 'uint32' },
    { no: 2, name: 'reason', type: 'string' },
    { no: 3, name: 'reconnect', type: 'bool' },
  ],
  /** Refresh push and SubRefreshResult share this shape. */
  Refresh: [
    { no: 1, name: 'expires', type: 'bool' },
    { no: 2, name: 'ttl', type: 'uint32' },
  ],
  /** ConnectResult, and the Connect push (same fields and numbers). */
  ConnectResult: [
    { no: 1, name: 'client', type: 'string' },
    { no: 2, name: 'version', type: 'string' },
    { no: 3, name: 'expires', type: 'bool' },
    { no: 4, name: 'ttl', type: 'uint32' },
    { no: 5, name: 'data', type: 'bytes' },
    { no: 6, name: 'subs', type: { map: msg('SubscribeResult') } },
    { no: 7, name: 'ping', type: 'uint32' },
    { no: 8, name: 'pong', type: 'bool' },
    { no: 9, name: 'session', type: 'string' },
    { no: 10, name: 'node', type: 'string' },
  ],
  RefreshResult: [
    { no: 1, name: 'client', type: 'string' },
    { no: 2, name: 'version', type: 'string' },
    { no: 3, name: 'expires', type: 'bool' },
    { no: 4, name: 'ttl', type: 'uint32' },
  ],
  SubscribeResult: [
    { no: 1, name: 'expires', type: 'bool' },
    { no: 2, name: 'ttl', type: 'uint32' },
    { no: 3, name: 'recoverable', type: 'bool' },
    { no: 6, name: 'epoch', type: 'string' },
    { no: 7, name: 'publications', type: msg('Publication'), repeated: true },
    { no: 8, name: 'recovered', type: 'bool' },
    { no: 9, name: 'offset', type: 'uint64' },
    { no: 10, name: 'positioned', type: 'bool' },
    { no: 11, name: 'data', type: 'bytes' },
    { no: 12, name: 'was_recovering', type: 'bool' },
    { no: 13, name: 'delta', type: 'bool' },
  ],
  PresenceResult: [{ no: 1, name: 'presence', type: { map: msg('ClientInfo') } }],
  PresenceStatsResult: [
    { no: 1, name: 'num_clients', type: 'uint32' },
    { no: 2, name: 'num_users', type: 'uint32' },
  ],
  HistoryResult: [
    { no: 1, name: 'publications', type: msg('Publication'), repeated: true },
    { no: 2, name: 'epoch', type: 'string' },
    { no: 3, name: 'offset', type: 'uint64' },
  ],
} satisfies Record<MessageName, readonly FieldSpec[]>;

/** A message's fields by JSON name and by number, built once. */
interface MessageIndex {
  fields: readonly FieldSpec[];
  byName: ReadonlyMap<string, FieldSpec>;
  byNo: ReadonlyMap<number, FieldSpec>;
}

const INDEX = new Map<MessageName, MessageIndex>();
for (const [name, fields] of Object.entries(SCHEMA) as [MessageName, readonly FieldSpec[]][]) {
  INDEX.set(name, { fields, byName: new Map(fields.map((f) => [f.name, f])), byNo: new Map(fields.map((f) => [f.no, f])) });
}

function indexOf(name: MessageName): MessageIndex {
  const ix = INDEX.get(name);
  if (ix === undefined) throw new Error(`protobuf schema: no message ${name}`);
  return ix;
}

/** MAP_KEY and MAP_VALUE are the field numbers of a map entry message. */
const MAP_KEY = 1;
const MAP_VALUE = 2;

function wireOf(t: FieldType): number {
  if (typeof t !== 'string') return WireType.lengthDelimited;
  return t === 'string' || t === 'bytes' ? WireType.lengthDelimited : WireType.varint;
}

// ---- encoding (JSON reply text → protobuf Reply) ----

/** encodeMessage writes a JSON object as the named message; a key the schema lacks is a bug in the caller, so it throws. */
function encodeMessage(name: MessageName, v: unknown, w: ProtoWriter): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`protobuf: ${name} is not an object`);
  const ix = indexOf(name);
  // A delta publication's data is the delta itself, carried as a JSON string in JSON: raw bytes here.
  const rawData = name === 'Publication' && (v as { delta?: unknown }).delta === true;
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    const f = ix.byName.get(key);
    if (f === undefined) throw new TypeError(`protobuf: ${name} has no field ${key}`);
    if (rawData && key === 'data' && typeof value === 'string') {
      w.tag(f.no, WireType.lengthDelimited).bytes(Buffer.from(value));
      continue;
    }
    if (f.repeated) {
      if (!Array.isArray(value)) throw new TypeError(`protobuf: ${name}.${key} is not a list`);
      for (const item of value) encodeField(f.no, f.type, item, w, true);
    } else encodeField(f.no, f.type, value, w, false);
  }
}

function encodeField(no: number, t: FieldType, v: unknown, w: ProtoWriter, always: boolean): void {
  if (v === undefined || v === null) return;
  if (typeof t !== 'string') {
    if ('map' in t) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError('protobuf: map is not an object');
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        const entry = new ProtoWriter();
        encodeField(MAP_KEY, 'string', k, entry, true);
        encodeField(MAP_VALUE, t.map, item, entry, true);
        w.tag(no, WireType.lengthDelimited).bytes(entry.finish());
      }
      return;
    }
    // A present message is written even when empty: `"ping":{}` must reach the client.
    const sub = new ProtoWriter();
    encodeMessage(t.message, v, sub);
    w.tag(no, WireType.lengthDelimited).bytes(sub.finish());
    return;
  }
  switch (t) {
    case 'string': {
      if (typeof v !== 'string') throw new TypeError('protobuf: string field is not a string');
      if (v === '' && !always) return;
      w.tag(no, WireType.lengthDelimited).bytes(Buffer.from(v));
      return;
    }
    case 'bytes':
      // Embedded JSON in the JSON protocol, JSON text in protobuf's bytes.
      w.tag(no, WireType.lengthDelimited).bytes(Buffer.from(JSON.stringify(v)));
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new TypeError('protobuf: bool field is not a boolean');
      if (v || always) w.tag(no, WireType.varint).varint(v ? 1 : 0);
      return;
    case 'uint32':
    case 'int32':
    case 'uint64':
    case 'int64':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`protobuf: ${t} field is not a non-negative integer`);
      if (v !== 0 || always) w.tag(no, WireType.varint).varint(v);
      return;
  }
}

/** encodeReply transcodes one reply (or wrapped push) in the JSON protocol into a protobuf Reply. */
export function encodeProtoReply(json: string): Buffer {
  const w = new ProtoWriter();
  encodeMessage('Reply', JSON.parse(json), w);
  return w.finish();
}

/** encodeProtoReplies transcodes replies into one length-delimited run (one WebSocket message's payload). */
export function encodeProtoReplies(jsons: readonly string[]): Buffer {
  const w = new ProtoWriter(256);
  for (const j of jsons) w.bytes(encodeProtoReply(j));
  return w.finish();
}

// ---- unidirectional protobuf (onair's extension: Push messages, as Centrifugo's uni_grpc streams them) ----

/** encodeProtoPush transcodes one unwrapped push in the JSON protocol (`{"channel","pub"}`, `{}` for a ping) into a protobuf Push. */
export function encodeProtoPush(json: string): Buffer {
  const w = new ProtoWriter();
  encodeMessage('Push', JSON.parse(json), w);
  return w.finish();
}

/** encodeProtoPushStream transcodes pushes into a length-delimited run of Push messages (uni_http_stream's protobuf body). */
export function encodeProtoPushStream(jsons: readonly string[]): Buffer {
  const w = new ProtoWriter(256);
  for (const j of jsons) w.bytes(encodeProtoPush(j));
  return w.finish();
}

/** decodeProtoPush reads one Push into its JSON shape (for clients and tests of the uni protobuf transports), or throws CodecError. */
export function decodeProtoPush(bytes: Uint8Array): Record<string, unknown> {
  return decodeMessage('Push', new ProtoReader(bytes));
}

/** decodeProtoConnectRequest reads the ConnectRequest a unidirectional protobuf client opens with, or throws CodecError. */
export function decodeProtoConnectRequest(bytes: Uint8Array): Record<string, unknown> {
  return decodeMessage('ConnectRequest', new ProtoReader(bytes));
}

// ---- decoding (protobuf Command → Command) ----

/** MAX_COMMANDS bounds the commands of one frame, as the JSON decoder does. */
const MAX_COMMANDS = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function readString(r: ProtoReader): string {
  const [s, e] = r.lengthDelimited();
  try {
    return utf8.decode(r.buf.subarray(s, e));
  } catch {
    throw new CodecError('string field is not UTF-8');
  }
}

function readScalar(t: Scalar, r: ProtoReader): unknown {
  switch (t) {
    case 'string':
      return readString(r);
    case 'bytes': {
      const text = readString(r);
      if (text === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new CodecError('bytes field is not JSON');
      }
    }
    case 'bool':
      return r.varint() !== 0n;
    case 'uint32':
      return uint32FromVarint(r.varint());
    case 'int32':
      return int32FromVarint(r.varint());
    case 'uint64':
      return uint64ToNumber(r.varint());
    case 'int64':
      return int64FromVarint(r.varint());
  }
}

/** MAX_NESTING bounds how deep messages nest (a filter's nodes nest themselves): deeper is a bad frame, not a stack overflow. */
const MAX_NESTING = 32;

function readValue(t: Scalar | { message: MessageName }, r: ProtoReader, depth: number): unknown {
  if (typeof t === 'string') return readScalar(t, r);
  const [s, e] = r.lengthDelimited();
  if (depth >= MAX_NESTING) throw new CodecError(`messages nested deeper than ${MAX_NESTING}`);
  return decodeMessage(t.message, new ProtoReader(r.buf, s, e), depth + 1);
}

/** setOwn sets a property without ever touching the prototype (a map key may be `__proto__`). */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** decodeMessage reads a message into a JSON-shaped object; unknown fields are skipped. */
function decodeMessage(name: MessageName, r: ProtoReader, depth = 0): Record<string, unknown> {
  const ix = indexOf(name);
  const out: Record<string, unknown> = {};
  while (!r.done) {
    const key = r.smallVarint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no === 0) throw new CodecError('field number 0');
    const f = ix.byNo.get(no);
    if (f === undefined) {
      r.skip(wire);
      continue;
    }
    if (wire !== wireOf(f.type)) throw new CodecError(`${name}.${f.name}: wrong wire type ${wire}`);
    const t = f.type;
    if (typeof t !== 'string' && 'map' in t) {
      const [s, e] = r.lengthDelimited();
      const entry = new ProtoReader(r.buf, s, e);
      let k = '';
      let v: unknown;
      while (!entry.done) {
        const ek = entry.smallVarint();
        const eno = Math.floor(ek / 8);
        if (eno === MAP_KEY && ek % 8 === WireType.lengthDelimited) k = readString(entry);
        else if (eno === MAP_VALUE && ek % 8 === wireOf(t.map)) v = readValue(t.map, entry, depth);
        else entry.skip(ek % 8);
      }
      let m = out[f.name] as Record<string, unknown> | undefined;
      if (m === undefined) setOwn(out, f.name, (m = {}));
      setOwn(m, k, v ?? (typeof t.map === 'string' ? '' : {}));
      continue;
    }
    const v = readValue(t, r, depth);
    if (v === undefined) continue;
    if (f.repeated) {
      let list = out[f.name] as unknown[] | undefined;
      if (list === undefined) setOwn(out, f.name, (list = []));
      list.push(v);
    } else setOwn(out, f.name, v);
  }
  return out;
}

/** decodeProtoCommands reads a frame of length-delimited Commands, or throws CodecError. */
export function decodeProtoCommands(frame: Uint8Array): Command[] {
  const r = new ProtoReader(frame);
  const out: Command[] = [];
  while (!r.done) {
    if (out.length >= MAX_COMMANDS) throw new CodecError('too many commands in a frame');
    const [s, e] = r.lengthDelimited();
    out.push(commandFromObject(decodeMessage('Command', new ProtoReader(frame, s, e))));
  }
  if (out.length === 0) throw new CodecError('empty frame');
  return out;
}

// ---- emulation requests (POST /emulation with the protobuf protocol) ----

/** EmulationRequest carries commands of an emulation session: its node, session and the raw Commands. */
export interface EmulationRequest {
  node: string;
  session: string;
  data: Uint8Array;
}

/** EMULATION_FIELD numbers the fields of client.proto's EmulationRequest. */
const EMULATION_FIELD = { node: 1, session: 2, data: 3 } as const;

/** decodeEmulationRequest reads a protobuf EmulationRequest (data is kept as bytes), or throws CodecError. */
export function decodeEmulationRequest(body: Uint8Array): EmulationRequest {
  const r = new ProtoReader(body);
  const out: EmulationRequest = { node: '', session: '', data: new Uint8Array(0) };
  while (!r.done) {
    const key = r.smallVarint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no !== EMULATION_FIELD.node && no !== EMULATION_FIELD.session && no !== EMULATION_FIELD.data) {
      r.skip(wire);
      continue;
    }
    if (wire !== WireType.lengthDelimited) throw new CodecError('EmulationRequest: wrong wire type');
    if (no === EMULATION_FIELD.data) {
      const [s, e] = r.lengthDelimited();
      out.data = body.subarray(s, e);
    } else if (no === EMULATION_FIELD.node) out.node = readString(r);
    else out.session = readString(r);
  }
  return out;
}
