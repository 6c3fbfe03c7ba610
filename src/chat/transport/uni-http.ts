/**
 * Unidirectional HTTP transports: `GET|POST /connection/uni_sse` (Server-Sent
 * Events, connect request in the `cf_connect` query parameter or the body)
 * and `POST /connection/uni_http_stream` (newline-delimited JSON).
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

class HttpStreamTransport extends ResponseStream {
  readonly unidirectional = true;

  constructor(res: ServerResponse, readonly kind: 'uni_sse' | 'uni_http_stream') {
    super(res);
  }

  writeText(messages: readonly string[]): void {
    if (this.open) this.res.write(encodeBatch(this.kind, messages));
  }
}

function headersFor(kind: 'uni_sse' | 'uni_http_stream'): Record<string, string> {
  const common = { 'cache-control': 'private, no-cache, no-store, must-revalidate, max-age=0', 'x-accel-buffering': 'no' };
  return kind === 'uni_sse'
    ? { ...common, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' }
    : { ...common, 'content-type': 'application/json', connection: 'keep-alive' };
}

/** registerUniHttp adds the unidirectional HTTP routes to a Fastify app. */
export function registerUniHttp(app: FastifyInstance, node: ChatNode, limits: ListenerLimits | null = null): void {
  const serve = (kind: 'uni_sse' | 'uni_http_stream') => async (req: FastifyRequest, reply: FastifyReply) => {
    let connectText = '';
    const q = req.query as Record<string, unknown> | undefined;
    if (kind === 'uni_sse' && q && typeof q.cf_connect === 'string') connectText = q.cf_connect;
    else if (req.body !== undefined && req.body !== null) {
      connectText = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString() : JSON.stringify(req.body);
    }
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
    client.onUniConnect(connectText);
  };
  app.get(UNI_SSE_PATH, serve('uni_sse'));
  app.post(UNI_SSE_PATH, serve('uni_sse'));
  app.post(UNI_HTTP_STREAM_PATH, serve('uni_http_stream'));
}
