/**
 * Forwarded headers reach a connection through ChatNode.acceptHeaders: whoever accepts a
 * transport sets it around a synchronous node.accept() call. The WebSocket upgrade does so in
 * the chat service; acceptingRoutes does it for the unidirectional HTTP routes by wrapping
 * their handlers (each calls node.accept before its first await).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';

/** HeaderSink is where the accepted request's headers are published (the ChatNode). */
export interface HeaderSink {
  acceptHeaders: Record<string, string> | undefined;
}

/** withAcceptHeaders runs `fn` with the picked headers of a request published on the sink. */
export function withAcceptHeaders<T>(sink: HeaderSink, headers: Record<string, string> | undefined, fn: () => T): T {
  sink.acceptHeaders = headers;
  try {
    return fn();
  } finally {
    sink.acceptHeaders = undefined;
  }
}

/**
 * acceptingRoutes is a view of a Fastify app whose get/post registrations run each handler's
 * synchronous part with the request's allow-listed headers published on the sink.
 */
export function acceptingRoutes(app: FastifyInstance, sink: HeaderSink, pick: (h: IncomingHttpHeaders) => Record<string, string> | undefined): FastifyInstance {
  const wrap =
    (handler: RouteHandlerMethod): RouteHandlerMethod =>
    function (this: FastifyInstance, req, reply) {
      return withAcceptHeaders(sink, pick(req.headers), () => handler.call(this, req, reply));
    };
  return new Proxy(app, {
    get(target, prop, receiver) {
      if (prop === 'get' || prop === 'post') {
        // (path, handler) or (path, options, handler): the handler is the last argument.
        return (...args: unknown[]) => {
          const last = args.length - 1;
          if (typeof args[last] === 'function') args[last] = wrap(args[last] as RouteHandlerMethod);
          return (target[prop] as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}
