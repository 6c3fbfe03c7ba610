/**
 * What WHEP (playback) and WHIP (ingest) share over HTTP: the SDP content types, session ids,
 * the CORS headers browsers need to read Location/ETag, and the body parser for SDP.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../http/errors.js';
import { MAX_OFFER_BYTES } from './sdp.js';
import { mediaTypeOf as mediaTypeOfHeader } from '../../net/media-type.js';

export const SESSION_ID = /^[0-9a-f-]{36}$/;
export const SDP_CONTENT_TYPE = 'application/sdp';
/** Content type of trickle ICE fragments (RFC 8840), sent with PATCH. */
export const TRICKLE_CONTENT_TYPE = 'application/trickle-ice-sdpfrag';
export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'OPTIONS, POST, DELETE, PATCH',
  'access-control-allow-headers': 'content-type, authorization, if-match',
  'access-control-expose-headers': 'location, etag, accept-post, link',
} as const;

/** Ids of sessions this server answered, kept so a late DELETE of an ended session is not an error. */
export const ENDED_SESSION_MEMORY = 4096;

/**
 * IssuedSessions remembers the ids of the last ENDED_SESSION_MEMORY sessions answered and not yet
 * deleted. A session also ends on the server's side (the stream ended, ICE failed, the publisher
 * was kicked); the client's DELETE then finds nothing to end, which is what it wanted: 204 once,
 * not a 404 the browser logs as a failed request for every viewer at every stream end. A second
 * DELETE, or an id never issued, is 404.
 */
export class IssuedSessions {
  private readonly ids = new Set<string>();

  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > ENDED_SESSION_MEMORY) this.ids.delete(this.ids.values().next().value!);
  }

  /** take forgets an id; true when it was remembered. */
  take(id: string): boolean {
    return this.ids.delete(id);
  }
}

/** addSdpBodyParser makes a route scope take SDP offers and trickle fragments as strings, up to MAX_OFFER_BYTES. */
export function addSdpBodyParser(scope: FastifyInstance): void {
  scope.addContentTypeParser([SDP_CONTENT_TYPE, TRICKLE_CONTENT_TYPE], { parseAs: 'string', bodyLimit: MAX_OFFER_BYTES }, (_req, body, done) => done(null, body));
}

/** mediaTypeOf is a request's content type without parameters, lower case ('' when none). */
export function mediaTypeOf(req: FastifyRequest): string {
  return mediaTypeOfHeader(req.headers['content-type'] ?? '');
}

/** SdpResource describes a WHEP- or WHIP-style HTTP resource (RFC 9725 and the WHEP draft). */
export interface SdpResource {
  /** The protocol's name in error messages ("WHEP", "WHIP"). */
  name: string;
  /** The endpoint that takes offers, e.g. '/live/:channel/whep'; sessions live at `${path}/:id`. */
  path: string;
  /** create answers an offer (201 with Location and ETag); it throws an AppError to refuse. */
  create(req: FastifyRequest, offer: string): Promise<{ location: string; etag: string; sdp: string }>;
  /** remove ends the session the DELETE names; false when there is no such session. */
  remove(req: FastifyRequest, id: string): boolean;
  /** refused sees every refusal of an offer, 415 included (metrics, extra headers such as Retry-After). */
  refused?(err: AppError, reply: FastifyReply): void;
}

/**
 * registerSdpResource adds the routes every such resource has: OPTIONS on the endpoint (with
 * Accept-Post) and on sessions, POST of an offer, DELETE of a session, and PATCH answered 405
 * because every answer already carries all candidates (no trickle ICE). CORS headers on all.
 */
export function registerSdpResource(app: FastifyInstance, r: SdpResource): void {
  const issued = new IssuedSessions();
  void app.register(async (scope) => {
    addSdpBodyParser(scope);
    const cors = (reply: FastifyReply) => reply.headers(CORS_HEADERS);
    const refuse = (err: unknown, reply: FastifyReply): never => {
      if (err instanceof AppError) r.refused?.(err, reply);
      throw err;
    };
    const requireSdp = async (req: FastifyRequest, reply: FastifyReply) => {
      cors(reply);
      const type = mediaTypeOf(req);
      if (type !== SDP_CONTENT_TYPE) {
        refuse(new AppError('unsupported_media_type', `a ${r.name} offer is sent as ${SDP_CONTENT_TYPE}, not ${type || 'no content type'}`), reply);
      }
    };
    scope.options(r.path, async (_req, reply) => {
      cors(reply).header('accept-post', SDP_CONTENT_TYPE).code(204).send();
    });
    scope.options(`${r.path}/:id`, async (_req, reply) => {
      cors(reply).code(204).send();
    });
    scope.post(r.path, { onRequest: requireSdp }, async (req, reply) => {
      const offer = typeof req.body === 'string' ? req.body : '';
      try {
        const a = await r.create(req, offer);
        const id = a.location.slice(a.location.lastIndexOf('/') + 1);
        if (SESSION_ID.test(id)) issued.add(id);
        // eslint-disable-next-line @typescript-eslint/return-await -- a FastifyReply is thenable; fastify takes it back unawaited
        return reply.code(201).type(SDP_CONTENT_TYPE).header('location', a.location).header('etag', a.etag).send(a.sdp);
      } catch (err) {
        return refuse(err, reply);
      }
    });
    scope.delete(`${r.path}/:id`, async (req, reply) => {
      cors(reply);
      const { id } = req.params as { id: string };
      if (!SESSION_ID.test(id)) throw new AppError('not_found', `no such ${r.name} session`);
      const removed = r.remove(req, id);
      // A session this server issued that has already ended on its own: nothing left to end, done.
      if (!issued.take(id) && !removed) throw new AppError('not_found', `no such ${r.name} session`);
      return reply.code(204).send();
    });
    scope.patch(`${r.path}/:id`, async (_req, reply) => {
      cors(reply).header('allow', 'DELETE, OPTIONS');
      throw new AppError('method_not_allowed', 'trickle ICE is not supported: the answer carries every candidate');
    });
  });
}
