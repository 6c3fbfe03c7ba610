/**
 * What WHEP (playback) and WHIP (ingest) share over HTTP: the SDP content types, session ids,
 * the CORS headers browsers need to read Location/ETag, and the body parser for SDP.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_OFFER_BYTES } from './sdp.js';

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

/** addSdpBodyParser makes a route scope take SDP offers and trickle fragments as strings, up to MAX_OFFER_BYTES. */
export function addSdpBodyParser(scope: FastifyInstance): void {
  scope.addContentTypeParser([SDP_CONTENT_TYPE, TRICKLE_CONTENT_TYPE], { parseAs: 'string', bodyLimit: MAX_OFFER_BYTES }, (_req, body, done) => done(null, body));
}

/** mediaTypeOf is a request's content type without parameters, lower case ('' when none). */
export function mediaTypeOf(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
