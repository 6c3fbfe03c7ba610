/**
 * The one error registry: every error a client can see has a stable code, an
 * HTTP status and a one-line description. docs/api-errors.md is generated from
 * this table and a test keeps the two in sync.
 */
export const ERRORS = {
  bad_request: { status: 400, doc: 'The request is malformed (bad JSON, wrong types, missing fields).' },
  validation_failed: { status: 400, doc: 'A field failed validation; the message names it.' },
  unauthorized: { status: 401, doc: 'Missing, expired or wrong credentials.' },
  payment_required: { status: 402, doc: 'The wallet balance is too low for this payment.' },
  forbidden: { status: 403, doc: 'Authenticated, but not allowed to do this.' },
  cross_origin_beacon: { status: 403, doc: 'A QoE beacon came from a page of another site; only this site\'s player sends them.' },
  cross_site_request: { status: 403, doc: 'A write authenticated by the session cookie came from another site (Origin / Sec-Fetch-Site); send it from the onair page itself or use Authorization: Bearer.' },
  not_found: { status: 404, doc: 'No such resource or route.' },
  method_not_allowed: { status: 405, doc: 'The route exists but not for this HTTP method.' },
  conflict: { status: 409, doc: 'The resource already exists or its state forbids the change.' },
  username_taken: { status: 409, doc: 'Another account has this username, compared case-insensitively (usernames are unique whatever their case).' },
  wrong_password: { status: 403, doc: 'The current password given to change the password is wrong (counted by the login throttle).' },
  stream_key_not_recoverable: { status: 409, doc: 'The stream key was made before keys were kept encrypted (or under another streamKey.secret), so it cannot be shown; rotate it to get one that can (details.reason: not_sealed or secret_mismatch).' },
  not_live_here: { status: 409, doc: 'This node does not run the media role and has no control bus (redis.url unset), so it cannot end a live stream; call the media node the publisher is connected to, or set redis.url on every node (docs/restream.md).' },
  invalid_restream_url: { status: 400, doc: 'A restream target address is not rtmp[s]://host[:port]/app/streamkey, or its host does not resolve.' },
  restream_target_forbidden: { status: 400, doc: 'A restream target is on a loopback, private or link-local address (refused unless media.restream.allowPrivateTargets).' },
  too_many_restreams: { status: 400, doc: 'The channel already has media.restream.maxTargetsPerChannel restream targets.' },
  restream_not_found: { status: 404, doc: 'The channel has no restream target with that id.' },
  clip_needs_recording: { status: 409, doc: 'A live clip is cut from the recording being written, and this channel is not being recorded (record.enabled, the channel\'s recording setting, or a stream with no recordable track).' },
  clip_not_live: { status: 409, doc: 'The channel is not live on this node, so there is nothing to clip; clip one of its VODs instead.' },
  clip_source_not_ready: { status: 409, doc: 'The VOD is still being recorded or finalised (or failed); clip it once it is ready.' },
  clip_out_of_range: { status: 400, doc: 'The clip\'s seconds, start or duration are outside the allowed range or past the end of the VOD; the message gives the limits.' },
  payload_too_large: { status: 413, doc: 'The request body is over the configured limit.' },
  unsupported_media_type: { status: 415, doc: 'The body is not JSON.' },
  unsupported_language: { status: 422, doc: 'The chosen engine cannot recognise that language (pocketsphinx captions are English only).' },
  too_many_requests: { status: 429, doc: 'Slow down; the message says when to retry.' },
  too_many_connections: { status: 429, doc: 'This address already holds as many connections to this listener as limits.<listener>.perIp allows (details.listener, details.limit); close one first.' },
  server_full: { status: 503, doc: 'This node holds as many connections to this listener as its global cap allows (details.listener, details.limit); retry after the Retry-After header\'s seconds.' },
  login_throttled: { status: 429, doc: 'Too many wrong passwords from this address or for this account; retry after the Retry-After header\'s seconds (details.retryAfterSeconds). auth.login.* sets the limits.' },
  login_busy: { status: 503, doc: 'More logins are being checked than auth.passwordHashing.maxQueued allows; retry in a second (Retry-After).' },
  registration_closed: { status: 403, doc: 'New accounts are not accepted here (auth.registration.mode closed); an admin creates accounts.' },
  invite_required: { status: 403, doc: 'Registration needs a valid invite code (auth.registration.mode invite): the code is missing, unknown, used or expired.' },
  registration_throttled: { status: 429, doc: 'This address created auth.registration.perAddress accounts in the current window; retry after the Retry-After header\'s seconds.' },
  too_many_channels: { status: 403, doc: 'The user already owns channels.maxPerUser channels (admins are exempt).' },
  too_many_jobs: { status: 429, doc: 'The VOD has jobs.maxPerVod, or the user jobs.maxPerUser, queued or running jobs; wait for one to finish.' },
  captions_capacity: { status: 503, doc: 'This node already runs captions.maxRecognisers live caption recognisers; the stream goes on without server captions (browser captions still work).' },
  internal: { status: 500, doc: 'A bug on our side; it is logged with the request id.' },
  unavailable: { status: 503, doc: 'A dependency (database, broker) is not reachable right now.' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** AppError is thrown by services and rendered by the HTTP app as `{"error":{"code","message"}}`. */
export class AppError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string, readonly details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }
}

export const badRequest = (m: string) => new AppError('bad_request', m);
export const notFound = (m: string) => new AppError('not_found', m);
export const unauthorized = (m = 'authentication required') => new AppError('unauthorized', m);
export const forbidden = (m: string) => new AppError('forbidden', m);
export const conflict = (m: string) => new AppError('conflict', m);
