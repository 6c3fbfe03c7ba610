/**
 * Bidirectional HTTP transports (Centrifugo's "emulation"): `POST /connection/http_stream`
 * (JSON lines, or length-delimited protobuf with `application/octet-stream`) and
 * `GET /connection/sse` (Server-Sent Events, JSON), with the connect command in the request;
 * later commands come through `POST /emulation` naming the session and the node that holds it.
 * A command for a session on another node is routed there over the broker.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatNode } from '../node.js';
import { acceptClient, type Client } from '../client.js';
import type { ControlMessage } from '../broker/types.js';
import { CodecError, decodeCommands, type Command } from '../protocol/codec.js';
import { decodeEmulationRequest, decodeProtoCommands } from '../protocol/protobuf.js';
import type { ListenerLimits } from '../../net/listener-limits.js';
import { AppError, badRequest, notFound } from '../../http/errors.js';
import { ResponseStream } from './response-stream.js';
import { issueSession, sessionIssuedBy, MAX_SESSION_CHARS } from './emulation-session.js';
import { EmulationRate, type EmulationRateOptions } from './emulation-rate.js';

export const HTTP_STREAM_PATH = '/connection/http_stream';
export const SSE_PATH = '/connection/sse';
export const EMULATION_PATH = '/emulation';
/** PROTOBUF_CONTENT_TYPE selects the protobuf protocol on http_stream and /emulation, as the SDK sends it. */
const PROTOBUF_CONTENT_TYPE = 'application/octet-stream';
/** MAX_NODE_CHARS bounds the node id of an emulation request (ours are UUIDs). */
const MAX_NODE_CHARS = 64;

/** DEFAULT_EMULATION_RATE matches the chat.emulationRate defaults (for nodes built without config, as in unit tests). */
export const DEFAULT_EMULATION_RATE: EmulationRateOptions = { perSessionPerSecond: 50, perSessionBurst: 200, perIpPerSecond: 200, perIpBurst: 1000, maxTracked: 100_000 };

/** tooFast is the 429 an emulation request over chat.emulationRate gets. */
function tooFast(what: 'address' | 'session'): AppError {
  return new AppError('too_many_requests', `emulation requests of this ${what} are coming faster than chat.emulationRate allows; retry in a second`, { limit: what });
}

type EmulationKind = 'http_stream' | 'http_stream_protobuf' | 'sse';
type Format = 'json' | 'protobuf';

/** EmulationStream writes a session's replies and pushes to its HTTP response. */
class EmulationStream extends ResponseStream {
  readonly unidirectional = false;

  constructor(
    res: ServerResponse,
    readonly kind: EmulationKind,
    readonly emulation: { session: string; node: string },
  ) {
    super(res);
  }

  writeText(messages: readonly string[]): void {
    this.writeItems(messages, messages.length);
  }
}

function headersFor(kind: EmulationKind): Record<string, string> {
  const common = { 'cache-control': 'private, no-cache, no-store, must-revalidate, max-age=0', 'x-accel-buffering': 'no', connection: 'keep-alive' };
  switch (kind) {
    case 'sse':
      return { ...common, 'content-type': 'text/event-stream; charset=utf-8' };
    case 'http_stream':
      return { ...common, 'content-type': 'application/json' };
    case 'http_stream_protobuf':
      return { ...common, 'content-type': PROTOBUF_CONTENT_TYPE };
  }
}

function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** bodyText is a string or Buffer body as text ('' when there is none). */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString();
  return '';
}

/**
 * onlyConnect checks that a stream's opening request holds exactly the connect command, as the SDK
 * sends it: later commands need the session from the connect reply, which a page of another site
 * cannot read, so it cannot make a user's browser publish through a stream it opens.
 */
function onlyConnect(decode: () => Command[]): void {
  let cmds: Command[];
  try {
    cmds = decode();
  } catch (e) {
    if (e instanceof CodecError) throw badRequest(`malformed connect command: ${e.message}`);
    throw e;
  }
  if (cmds.length !== 1 || cmds[0]?.method !== 'connect') throw badRequest('the opening request must hold the connect command and nothing else');
}

/** A session of this node: its client and the protocol its commands are in. */
interface Session {
  client: Client;
  format: Format;
}

/** EmulationServer owns this node's emulation sessions and their routes. */
export class EmulationServer {
  private readonly sessions = new Map<string, Session>();
  private readonly offControl: () => void;
  /** chat.emulationRate: requests per address and per session. */
  readonly rate: EmulationRate;

  constructor(
    private readonly node: ChatNode,
    private readonly maxBodyBytes: number,
    /** limits.chatHttp: streams per client address and in all, shared with the unidirectional streams. */
    private readonly limits: ListenerLimits | null = null,
    rate: EmulationRateOptions = DEFAULT_EMULATION_RATE,
  ) {
    this.offControl = node.addControlListener((msg) => this.onControl(msg));
    this.rate = new EmulationRate(rate);
  }

  /** register adds the routes, in a scope whose body parsers keep JSON as text and protobuf as bytes. */
  register(app: FastifyInstance): void {
    void app.register(async (scope) => {
      const opts = { bodyLimit: this.maxBodyBytes };
      scope.addContentTypeParser('application/json', { ...opts, parseAs: 'string' }, (_req, body, done) => done(null, body));
      scope.addContentTypeParser(PROTOBUF_CONTENT_TYPE, { ...opts, parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      scope.post(HTTP_STREAM_PATH, opts, async (req, reply) => {
        const type = mediaType(req);
        const body = req.body;
        if (type === PROTOBUF_CONTENT_TYPE && Buffer.isBuffer(body)) {
          onlyConnect(() => decodeProtoCommands(body));
          this.open(req, reply, 'http_stream_protobuf', (c) => c.onProtobufFrame(body));
          return;
        }
        // JSON only as application/json: a cross-site form or a simple request cannot open a stream.
        if (type !== 'application/json') throw new AppError('unsupported_media_type', 'the connect command must be application/json or application/octet-stream (protobuf)');
        const text = bodyText(body);
        onlyConnect(() => decodeCommands(text));
        this.open(req, reply, 'http_stream', (c) => c.onFrame(text));
      });
      scope.get(SSE_PATH, async (req, reply) => {
        const q = req.query as Record<string, unknown> | undefined;
        const connect = q?.cf_connect;
        if (typeof connect !== 'string') throw badRequest('cf_connect must hold the connect command');
        if (connect.length > this.maxBodyBytes) throw new AppError('payload_too_large', 'cf_connect is over chat.maxFrameBytes');
        onlyConnect(() => decodeCommands(connect));
        this.open(req, reply, 'sse', (c) => c.onFrame(connect));
      });
      // The address is counted on arrival, before the body is read, so a flood from one address
      // costs a bucket lookup per request, not a read and a decode.
      scope.post(EMULATION_PATH, { ...opts, onRequest: async (req) => this.admitIp(req.clientIp) }, async (req, reply) => {
        const r = this.parseEmulation(req);
        const status = await this.route(r.node, r.session, r.format, r.data);
        return reply.code(status).send();
      });
    });
  }

  private admitIp(ip: string): void {
    if (!this.rate.takeIp(ip)) throw tooFast('address');
  }

  /** open starts a stream: admission, headers, a session, then the connect command. */
  private open(req: FastifyRequest, reply: FastifyReply, kind: EmulationKind, connect: (c: Client) => void): void {
    // Over a cap the request is answered 429/503 before the stream starts.
    const lease = this.limits?.admitOrThrow(req.clientIp);
    void reply.hijack();
    const res = reply.raw;
    if (lease) res.once('close', () => lease.release());
    res.writeHead(200, headersFor(kind));
    // An SSE comment line gets the headers through proxies at once.
    if (kind === 'sse') res.write(':\n\n');
    const session = issueSession(this.node.tokenSecret, this.node.uid);
    const client = acceptClient(this.node, new EmulationStream(res, kind, { session, node: this.node.uid }), req.headers);
    this.sessions.set(session, { client, format: kind === 'http_stream_protobuf' ? 'protobuf' : 'json' });
    res.on('close', () => {
      this.sessions.delete(session);
      client.onTransportClosed();
      this.node.forget(client);
    });
    connect(client);
  }

  private parseEmulation(req: FastifyRequest): { node: string; session: string; format: Format; data: Buffer | string } {
    let node: unknown;
    let session: unknown;
    let data: unknown;
    let format: Format;
    if (mediaType(req) === PROTOBUF_CONTENT_TYPE) {
      if (!Buffer.isBuffer(req.body)) throw badRequest('empty emulation request');
      try {
        ({ node, session, data } = decodeEmulationRequest(req.body));
      } catch (e) {
        if (e instanceof CodecError) throw badRequest(`malformed emulation request: ${e.message}`);
        throw e;
      }
      data = Buffer.from(data as Uint8Array);
      format = 'protobuf';
    } else {
      if (mediaType(req) !== 'application/json') throw new AppError('unsupported_media_type', 'an emulation request is application/json or application/octet-stream (protobuf)');
      let v: unknown;
      try {
        v = JSON.parse(bodyText(req.body));
      } catch {
        throw badRequest('the emulation request is not JSON');
      }
      if (typeof v !== 'object' || v === null) throw badRequest('the emulation request is not an object');
      ({ node, session, data } = v as Record<string, unknown>);
      format = 'json';
      if (typeof data !== 'string') throw badRequest('data must be the commands as a string');
    }
    if (typeof node !== 'string' || node === '' || node.length > MAX_NODE_CHARS) throw badRequest('node is missing or invalid');
    if (typeof session !== 'string' || session === '' || session.length > MAX_SESSION_CHARS) throw badRequest('session is missing or invalid');
    if ((data as Buffer | string).length === 0) throw badRequest('data is empty');
    return { node, session, format, data: data as Buffer | string };
  }

  /**
   * route delivers an emulation request's commands to its session: here, or on the node that
   * holds it through the broker. Returns the HTTP status: 200 delivered or sent on, 204 a
   * session of this node that has ended (its stream is gone), 404 a session no node issued.
   */
  private async route(node: string, session: string, format: Format, data: Buffer | string): Promise<number> {
    if (!sessionIssuedBy(this.node.tokenSecret, node, session)) throw notFound('no such emulation session');
    if (!this.rate.takeSession(session)) throw tooFast('session');
    if (node !== this.node.uid) {
      const payload = typeof data === 'string' ? data : data.toString('base64');
      try {
        await this.node.broker.publishControl({ type: 'emulation', to: node, session, format, data: payload });
      } catch {
        throw new AppError('unavailable', 'the broker is not reachable; the session is held by another node');
      }
      return 200;
    }
    return this.deliver(session, format, data) ? 200 : 204;
  }

  /** deliver feeds commands to a local session; false when the session has ended. */
  private deliver(session: string, format: Format, data: Buffer | string): boolean {
    const s = this.sessions.get(session);
    if (s === undefined) return false;
    if (s.format !== format) {
      throw badRequest(`the session speaks ${s.format}, the request is ${format}`);
    }
    if (format === 'protobuf') s.client.onProtobufFrame(typeof data === 'string' ? Buffer.from(data, 'base64') : data);
    else s.client.onFrame(typeof data === 'string' ? data : data.toString());
    return true;
  }

  private onControl(msg: ControlMessage): void {
    if (msg.type !== 'emulation' || msg.to !== this.node.uid) return;
    try {
      this.deliver(msg.session, msg.format, msg.data);
    } catch {
      // A format mismatch from another node: the request was malformed; nothing to answer.
    }
  }

  /** close stops listening for routed commands (the node closes the sessions' clients). */
  close(): void {
    this.offControl();
  }
}
