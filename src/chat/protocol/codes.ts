/**
 * Centrifugo client-protocol codes: reply errors, disconnect (WebSocket close)
 * codes and unsubscribe push codes. One registry; docs/chat.md lists them.
 */

/** ProtocolError is a reply error `{code, message, temporary?}` sent for one command. */
export interface ProtocolError {
  code: number;
  message: string;
  temporary?: boolean;
}

/** ErrorCode holds the reply error codes of the client protocol (and the server API). */
export const ErrorCode = {
  internal: 100,
  unauthorized: 101,
  unknownChannel: 102,
  permissionDenied: 103,
  methodNotFound: 104,
  alreadySubscribed: 105,
  limitExceeded: 106,
  badRequest: 107,
  notAvailable: 108,
  tokenExpired: 109,
  expired: 110,
  tooManyRequests: 111,
  unrecoverablePosition: 112,
  tokenRevoked: 113,
} as const;

/** Errors is the registry of reply errors with their stable messages. */
export const Errors = {
  internal: { code: ErrorCode.internal, message: 'internal server error', temporary: true },
  unauthorized: { code: ErrorCode.unauthorized, message: 'unauthorized' },
  unknownChannel: { code: ErrorCode.unknownChannel, message: 'unknown channel' },
  permissionDenied: { code: ErrorCode.permissionDenied, message: 'permission denied' },
  methodNotFound: { code: ErrorCode.methodNotFound, message: 'method not found' },
  alreadySubscribed: { code: ErrorCode.alreadySubscribed, message: 'already subscribed' },
  limitExceeded: { code: ErrorCode.limitExceeded, message: 'limit exceeded' },
  badRequest: { code: ErrorCode.badRequest, message: 'bad request' },
  notAvailable: { code: ErrorCode.notAvailable, message: 'not available' },
  tokenExpired: { code: ErrorCode.tokenExpired, message: 'token expired' },
  expired: { code: ErrorCode.expired, message: 'expired' },
  tooManyRequests: { code: ErrorCode.tooManyRequests, message: 'too many requests' },
  unrecoverablePosition: { code: ErrorCode.unrecoverablePosition, message: 'unrecoverable position' },
  tokenRevoked: { code: ErrorCode.tokenRevoked, message: 'token revoked' },
} as const satisfies Record<string, ProtocolError>;

/** Disconnect is a connection close with a code, reason and reconnect advice. */
export interface Disconnect {
  code: number;
  reason: string;
}

/** DisconnectCode holds WebSocket close codes the server uses (3000–3499 reconnect, 3500–3999 terminal). */
export const DisconnectCode = {
  connectionClosed: 3000,
  shutdown: 3001,
  serverError: 3004,
  expired: 3005,
  subExpired: 3006,
  slow: 3008,
  writeError: 3009,
  insufficientState: 3010,
  forceReconnect: 3011,
  noPong: 3012,
  invalidToken: 3500,
  badRequest: 3501,
  stale: 3502,
  forceNoReconnect: 3503,
  connectionLimit: 3504,
  channelLimit: 3505,
} as const;

/** Disconnects is the registry of disconnects with their stable reasons. */
export const Disconnects = {
  connectionClosed: { code: DisconnectCode.connectionClosed, reason: 'connection closed' },
  shutdown: { code: DisconnectCode.shutdown, reason: 'shutdown' },
  serverError: { code: DisconnectCode.serverError, reason: 'internal server error' },
  expired: { code: DisconnectCode.expired, reason: 'connection expired' },
  subExpired: { code: DisconnectCode.subExpired, reason: 'subscription expired' },
  slow: { code: DisconnectCode.slow, reason: 'slow' },
  writeError: { code: DisconnectCode.writeError, reason: 'write error' },
  insufficientState: { code: DisconnectCode.insufficientState, reason: 'insufficient state' },
  forceReconnect: { code: DisconnectCode.forceReconnect, reason: 'force reconnect' },
  noPong: { code: DisconnectCode.noPong, reason: 'no pong' },
  invalidToken: { code: DisconnectCode.invalidToken, reason: 'invalid token' },
  /** The user's tokens issued before some time were revoked (log out everywhere, password change): terminal, get a new token. */
  tokenRevoked: { code: DisconnectCode.invalidToken, reason: 'token revoked' },
  badRequest: { code: DisconnectCode.badRequest, reason: 'bad request' },
  messageTooBig: { code: DisconnectCode.badRequest, reason: 'message too big' },
  stale: { code: DisconnectCode.stale, reason: 'stale' },
  forceNoReconnect: { code: DisconnectCode.forceNoReconnect, reason: 'force disconnect' },
  connectionLimit: { code: DisconnectCode.connectionLimit, reason: 'connection limit' },
  channelLimit: { code: DisconnectCode.channelLimit, reason: 'channel limit' },
} as const satisfies Record<string, Disconnect>;

/** disconnectReconnects tells whether a client should reconnect after this close code. */
export function disconnectReconnects(code: number): boolean {
  return !((code >= 3500 && code < 4000) || (code >= 4500 && code < 5000));
}

/** UnsubscribeCode holds unsubscribe push codes; below 2500 terminal, from 2500 the SDK resubscribes. */
export const UnsubscribeCode = {
  client: 0,
  server: 2000,
  insufficientState: 2500,
  expired: 2501,
} as const;

/** ChatError carries a protocol error through promise chains. */
export class ChatError extends Error {
  readonly code: number;
  readonly temporary: boolean;
  constructor(err: ProtocolError) {
    super(err.message);
    this.code = err.code;
    this.temporary = err.temporary === true;
  }
  toProtocol(): ProtocolError {
    return this.temporary ? { code: this.code, message: this.message, temporary: true } : { code: this.code, message: this.message };
  }
}

/** DisconnectError makes the connection close with the given disconnect. */
export class DisconnectError extends Error {
  readonly disconnect: Disconnect;
  constructor(d: Disconnect) {
    super(d.reason);
    this.disconnect = d;
  }
}
