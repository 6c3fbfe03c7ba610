import { Centrifuge, type Subscription } from 'centrifuge';
import { api, ApiError, getToken, type ChatToken } from '../api';
import { errorText } from '../errors';

/** chat/connection.ts: one Centrifuge client per page, with tokens from POST /api/v1/chat/token. */

/** ChatState is the connection's state; 'refused': the server's connection limits refuse this address (chatRefusal() words why). */
export type ChatState = 'connecting' | 'connected' | 'disconnected' | 'unavailable' | 'refused';

/** ADMISSION_PATH answers whether the server would take a chat WebSocket from here (src/chat/transport/admission.ts). */
const ADMISSION_PATH = '/api/v1/chat/admission';
/** Least time between two admission questions while the connection keeps failing. */
const ADMISSION_PROBE_MS = 3000;

/** TOKEN_REVOKED_CODE is the close code of a revoked connection token (3500, reason "token revoked"). */
const TOKEN_REVOKED_CODE = 3500;
const REVOKED_RECONNECT_MS = 1500;

let client: Centrifuge | null = null;
let clientToken: string | null | undefined;
let unavailable = false;
const stateListeners = new Set<(s: ChatState) => void>();
let state: ChatState = 'connecting';
/** Why the server refuses the connection (worded), while it does. */
let refusal: string | null = null;
let probedAt = 0;

function setState(s: ChatState) {
  state = s;
  for (const f of stateListeners) f(s);
}

let chatRole: Promise<boolean> | null = null;
/**
 * chatRunsHere says (once per page) whether this node runs the chat role, from /healthz: a page
 * that only listens in the background (the notification bell) stays off chat on a node without it
 * instead of asking for a token it cannot get.
 */
export function chatRunsHere(): Promise<boolean> {
  chatRole ??= fetch('/healthz')
    .then((r) => r.json() as Promise<{ roles?: string[] }>)
    .then((h) => (h.roles ?? []).includes('chat'))
    .catch(() => false);
  return chatRole;
}

/** fetchChatToken gets a connection JWT: the user's when logged in, anonymous (read-only) otherwise. */
export async function fetchChatToken(bearer?: string | null): Promise<string> {
  const r = await api<ChatToken>('POST', '/api/v1/chat/token', { token: bearer === undefined ? getToken() : bearer, body: {} });
  return r.token;
}

/**
 * endpoints are the transports the SDK tries in order: WebSocket, then HTTP streaming and SSE for
 * networks whose proxies break WebSocket (their commands go through POST /emulation).
 */
function endpoints(): { transport: 'websocket' | 'http_stream' | 'sse'; endpoint: string }[] {
  const http = `${location.protocol}//${location.host}`;
  return [
    { transport: 'websocket', endpoint: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/connection/websocket` },
    { transport: 'http_stream', endpoint: `${http}/connection/http_stream` },
    { transport: 'sse', endpoint: `${http}/connection/sse` },
  ];
}

/**
 * probeAdmission asks why connecting fails: a browser's WebSocket cannot read the 429/503 the
 * server's connection limits answer an upgrade with, so the same question goes over HTTP.
 */
async function probeAdmission(c: Centrifuge): Promise<void> {
  if (Date.now() - probedAt < ADMISSION_PROBE_MS) return;
  probedAt = Date.now();
  try {
    await api('GET', ADMISSION_PATH);
    refusal = null;
  } catch (err) {
    refusal = err instanceof ApiError && (err.code === 'too_many_connections' || err.code === 'server_full') ? errorText(err) : null;
  }
  if (client === c && state !== 'connected' && !unavailable) setState(refusal ? 'refused' : 'connecting');
}

/** chatRefusal words why the server refuses this page's chat connection (state 'refused'). */
export function chatRefusal(): string | null {
  return refusal;
}

/**
 * chatClient returns the shared client, rebuilding it when the identity changes.
 * `bearer` is the login token (null: anonymous); `fetcher` replaces the token source (overlays).
 */
export function chatClient(bearer?: string | null, fetcher?: { key: string; fetch: () => Promise<string> }): Centrifuge {
  const tok = fetcher ? `custom:${fetcher.key}` : bearer === undefined ? getToken() : bearer;
  if (client && clientToken === tok) return client;
  if (client) client.disconnect();
  clientToken = tok;
  unavailable = false;
  const c = new Centrifuge(endpoints(), {
    emulationEndpoint: `${location.protocol}//${location.host}/emulation`,
    getToken: async () => {
      try {
        return fetcher ? await fetcher.fetch() : await fetchChatToken(tok);
      } catch (err) {
        if (err instanceof ApiError && (err.status === 503 || err.status === 404)) { unavailable = true; setState('unavailable'); }
        throw err;
      }
    },
    minReconnectDelay: 300,
    maxReconnectDelay: 8000,
    timeout: 8000,
  });
  c.on('connecting', (ctx) => {
    setState(unavailable ? 'unavailable' : refusal ? 'refused' : 'connecting');
    // A reconnect after a failure (code 0 is the first connect): ask the server whether it refuses us.
    if (ctx.code !== 0 && !unavailable) void probeAdmission(c);
  });
  c.on('connected', () => { refusal = null; setState('connected'); });
  c.on('disconnected', (ctx) => {
    setState(unavailable ? 'unavailable' : 'disconnected');
    // The user's chat tokens were revoked (a password change, possibly from this page): while this
    // page is still logged in as the same session, reconnect with a new token once the revoking
    // second is over (tokens carry whole-second issue times).
    if (ctx.code === TOKEN_REVOKED_CODE && ctx.reason === 'token revoked' && client === c && !fetcher && tok && getToken() === tok) {
      setTimeout(() => {
        if (client !== c || getToken() !== tok) return;
        // An empty token makes the SDK ask getToken (a new token) instead of reusing the revoked one.
        c.setToken('');
        c.connect();
      }, REVOKED_RECONNECT_MS);
    }
  });
  c.on('error', (ctx) => {
    if (unavailable) setState('unavailable');
    // The SDK stays 'connecting' while it retries a transport that fails to open: ask why.
    else if (ctx.type === 'transport' && client === c && state !== 'connected') void probeAdmission(c);
  });
  client = c;
  setState('connecting');
  c.connect();
  return c;
}

export function chatState(): ChatState { return state; }
export function onChatState(f: (s: ChatState) => void): () => void { stateListeners.add(f); return () => stateListeners.delete(f); }

/** subscribe gets or creates a subscription on the shared client. */
export function subscribe(c: Centrifuge, channel: string): Subscription {
  const existing = c.getSubscription(channel);
  if (existing) return existing;
  const sub = c.newSubscription(channel, { joinLeave: false });
  sub.subscribe();
  return sub;
}

export function release(c: Centrifuge, channel: string): void {
  const s = c.getSubscription(channel);
  if (s) { s.unsubscribe(); c.removeSubscription(s); }
}
