/**
 * Unidirectional HTTP transports: `GET|POST /connection/uni_sse` (Server-Sent
 * Events, connect request in the `cf_connect` query parameter or the body)
 * and `POST /connection/uni_http_stream` (newline-delimited JSON; with an
 * `application/octet-stream` body, a protobuf ConnectRequest answered by
 * length-delimited protobuf Pushes).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatNode } from '../node.js';
import { acceptClient } from '../client.js';
import type { ListenerLimits } from '../../net/listener-limits.js';
import { encodeBatch } from './types.js';
import { ResponseStream } from './response-stream.js';

export const UNI_SSE_PATH = '/connection/uni_sse';
export const UNI_HTTP_STREAM_PATH = '/connection/uni_http_stream';

type UniHttpKind = 'uni_sse' | 'uni_http_stream' | 'uni_http_stream_protobuf';
/** PROTOBUF_CONTENT_TYPE selects protobuf on uni_http_stream, as on the bidirectional http_stream. */
const PROTOBUF_CONTENT_TYPE = 'application/octet-stream';

class HttpStreamTransport extends ResponseStream {
  readonly unidirectional = true;

  constructor(res: ServerResponse, readonly kind: UniHttpKind) {
    super(res);
  }

  writeText(messages: readonly string[]): void {
    if (this.open) this.res.write(encodeBatch(this.kind, messages));
  }
}

function headersFor(kind: UniHttpKind): Record<string, string> {
  const common = { 'cache-control': 'private, no-cache, no-store, must-revalidate, max-age=0', 'x-accel-buffering': 'no', connection: 'keep-alive' };
  switch (kind) {
    case 'uni_sse':
      return { ...common, 'content-type': 'text/event-stream; charset=utf-8' };
    case 'uni_http_stream':
      return { ...common, 'content-type': 'application/json' };
    case 'uni_http_stream_protobuf':
      return { ...common, 'content-type': PROTOBUF_CONTENT_TYPE };
  }
}

function isProtobuf(req: FastifyRequest): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === PROTOBUF_CONTENT_TYPE;
}

/** registerUniHttp adds the unidirectional HTTP routes to a Fastify app; a protobuf connect request is bounded by maxBodyBytes. */
export function registerUniHttp(app: FastifyInstance, node: ChatNode, limits: ListenerLimits | null = null, maxBodyBytes = 65536): void {
  const serve = (path: 'uni_sse' | 'uni_http_stream') => async (req: FastifyRequest, reply: FastifyReply) => {
    let connectText = '';
    let connectProto: Buffer | null = null;
    const q = req.query as Record<string, unknown> | undefined;
    if (path === 'uni_http_stream' && isProtobuf(req)) connectProto = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    else if (path === 'uni_sse' && q && typeof q.cf_connect === 'string') connectText = q.cf_connect;
    else if (req.body !== undefined && req.body !== null) {
      connectText = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString() : JSON.stringify(req.body);
    }
    const kind: UniHttpKind = connectProto !== null ? 'uni_http_stream_protobuf' : path;
    // limits.chatHttp: over a cap the request is answered 429/503 before the stream starts.
    const lease = limits?.admitOrThrow(req.clientIp);
    reply.hijack();
    const res = reply.raw;
    if (lease) res.once('close', () => lease.release());
    res.writeHead(200, headersFor(kind));
    if (kind === 'uni_sse') res.write('\n');
    const client = acceptClient(node, new HttpStreamTransport(res, kind), req.headers);
    const onClose = (): void => {
      client.onTransportClosed();
      node.forget(client);
    };
    res.on('close', onClose);
    if (connectProto !== null) client.onUniProtobufConnect(connectProto);
    else client.onUniConnect(connectText);
  };
  app.get(UNI_SSE_PATH, serve('uni_sse'));
  app.post(UNI_SSE_PATH, serve('uni_sse'));
  void app.register(async (scope) => {
    // SSE is text: protobuf only on uni_http_stream.
    scope.addContentTypeParser(PROTOBUF_CONTENT_TYPE, { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));
    scope.post(UNI_HTTP_STREAM_PATH, serve('uni_http_stream'));
  });
}
