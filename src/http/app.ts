import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyBaseLogger } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../observability/logger.js';
import { AppError, ERRORS, type ErrorCode } from './errors.js';
import { clientAddress, stampClientAddress, trustOf, type TrustSetting } from './client-address.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** clientIp is the request's client address: the socket's peer, or what http.trustProxy proxies vouch for. */
    readonly clientIp: string;
  }
}

/** UpgradeHandler takes a WebSocket upgrade it recognises and answers true; else false. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

export interface HttpAppOptions {
  logger: Logger;
  bodyLimitBytes: number;
  /** http.trustProxy: whose X-Forwarded-* headers to believe (see client-address.ts). */
  trustProxy?: TrustSetting;
  /** config `variant`: this node's A/B label, sent as X-Onair-Variant on every answer (players report it in QoE beacons). */
  variant?: string;
}

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: 'bad_request', 401: 'unauthorized', 402: 'payment_required', 403: 'forbidden', 404: 'not_found',
  405: 'method_not_allowed', 409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'too_many_requests', 503: 'unavailable',
};

/** errorBody renders the one error shape every client sees. */
export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>) {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/**
 * buildHttpApp makes the single HTTP app every role registers into, with the
 * shared error rendering, body limits and WebSocket upgrade dispatch.
 */
export function buildHttpApp(opts: HttpAppOptions): { app: FastifyInstance; addUpgradeHandler(h: UpgradeHandler): void } {
  const trust = trustOf(opts.trustProxy ?? false);
  const app = Fastify({
    loggerInstance: opts.logger.child({ role: "http" }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimitBytes,
    // Fastify's request.protocol and hostname follow the same trust (request.clientIp: below).
    trustProxy: (address: string) => trust(address),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: true,
  });

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    if (err instanceof AppError) {
      // Errors that say when to come back (429, 503) carry it in details and as Retry-After.
      const retry = err.details?.retryAfterSeconds;
      if (typeof retry === 'number') reply.header('retry-after', String(Math.max(1, Math.ceil(retry))));
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const v = err.validation?.[0];
    if (v) {
      const where = (err).validationContext ?? 'body';
      const missing = (v.params as { missingProperty?: string })?.missingProperty;
      const extra = (v.params as { additionalProperty?: string })?.additionalProperty;
      const path = [where, ...v.instancePath.split('/').filter(Boolean)].join('.');
      const msg = missing ? `${path}.${missing} is required` : extra ? `${path}.${extra} is not a known field` : `${path} ${v.message ?? 'is invalid'}`;
      return reply.status(400).send(errorBody('validation_failed', msg));
    }
    const status = (err).statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = STATUS_TO_CODE[status] ?? 'bad_request';
      const message = status === 413 ? `request body is over the ${opts.bodyLimitBytes}-byte limit` : err.message.replace(/^FST_\w+: /, '');
      return reply.status(status).send(errorBody(code, message));
    }
    req.log.error({ err, url: req.url }, 'request failed');
    return reply.status(status >= 500 && status < 600 ? status : 500).send(errorBody(status === 503 ? 'unavailable' : 'internal', `internal error (request ${req.id})`));
  });

  // request.clientIp is the one client address (client-address.ts) that per-IP limits, logs and
  // viewer counts use; fastify's own request.ip may differ on malformed or IPv4-mapped addresses.
  app.decorateRequest('clientIp', {
    getter(this: { raw: IncomingMessage }) {
      return clientAddress(this.raw.socket.remoteAddress, this.raw.headers['x-forwarded-for'], trust);
    },
  });

  const variant = opts.variant;
  if (variant !== undefined) {
    app.addHook('onRequest', (_req, reply, done) => {
      reply.header('x-onair-variant', variant);
      done();
    });
  }

  // The API speaks JSON only; a text body is a client mistake we name (415), not a string to validate.
  app.removeContentTypeParser('text/plain');

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody('not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  });

  const upgradeHandlers: UpgradeHandler[] = [];
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    stampClientAddress(req, trust);
    for (const h of upgradeHandlers) if (h(req, socket, head)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  return { app, addUpgradeHandler: (h) => upgradeHandlers.push(h) };
}

export { ERRORS };
