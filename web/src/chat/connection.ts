import { Centrifuge, type Subscription } from 'centrifuge';
import { api, ApiError, getToken, type ChatToken } from '../api';

/** chat/connection.ts: one Centrifuge client per page, with tokens from POST /api/v1/chat/token. */

export type ChatState = 'connecting' | 'connected' | 'disconnected' | 'unavailable';

/** TOKEN_REVOKED_CODE is the close code of a revoked connection token (3500, reason "token revoked"). */
const TOKEN_REVOKED_CODE = 3500;
const REVOKED_RECONNECT_MS = 1500;

let client: Centrifuge | null = null;
let clientToken: string | null | undefined;
let unavailable = false;
const stateListeners = new Set<(s: ChatState) => void>();
let state: ChatState = 'connecting';

function setState(s: ChatState) {
  state = s;
  for (const f of stateListeners) f(s);
}

/** fetchChatToken gets a connection JWT: the user's when logged in, anonymous (read-only) otherwise. */
export async function fetchChatToken(bearer?: string | null): Promise<string> {
  const r = await api<ChatToken>('POST', '/api/v1/chat/token', { token: bearer === undefined ? getToken() : bearer, body: {} });
  return r.token;
}

function endpoint(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/connection/websocket`;
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
  const c = new Centrifuge(endpoint(), {
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
  c.on('connecting', () => setState(unavailable ? 'unavailable' : 'connecting'));
  c.on('connected', () => setState('connected'));
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
  c.on('error', () => { if (unavailable) setState('unavailable'); });
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
