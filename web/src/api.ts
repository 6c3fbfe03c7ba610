/** api.ts: JSON calls to /api/v1 with the login token as a Bearer header. */

const TOKEN_KEY = 'onair.token';
const ADMIN_TOKEN_KEY = 'onair.adminToken';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
    this.name = 'ApiError';
  }
}

export function getToken(): string | null {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}
export function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage blocked */ }
}
export function getAdminToken(): string | null {
  try { return sessionStorage.getItem(ADMIN_TOKEN_KEY); } catch { return null; }
}
export function setAdminToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(ADMIN_TOKEN_KEY, token);
    else sessionStorage.removeItem(ADMIN_TOKEN_KEY);
  } catch { /* storage blocked */ }
}

export interface ApiOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Use this bearer instead of the login token (admin token, overlay token). */
  token?: string | null;
  signal?: AbortSignal;
}

/** errorOf reads the API's one error shape (ApiErrorBody) out of a parsed body, if it has it. */
export function errorOf(data: unknown): { code?: string; message?: string; details?: Record<string, unknown> } {
  if (!data || typeof data !== 'object' || !('error' in data)) return {};
  const e = data.error;
  if (!e || typeof e !== 'object') return {};
  const field = (k: string): unknown => (k in e ? (e as Record<string, unknown>)[k] : undefined);
  const code = field('code');
  const message = field('message');
  const details = field('details');
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
    ...(details && typeof details === 'object' ? { details: details as Record<string, unknown> } : {}),
  };
}

/**
 * api calls the REST API; non-2xx answers throw ApiError with the server's code and message.
 * T names the answer's shape from src/api/schemas.ts. It is a compile-time promise, not a run-time
 * check: the server builds (or type-checks) each answer from the same schema, so the bundle does
 * not carry zod to check it again. Calls that ignore the answer leave T as unknown.
 */
export async function api<T = unknown>(method: string, path: string, opts: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  const token = opts.token !== undefined ? opts.token : getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path.startsWith('/') ? path : `/api/v1/${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: opts.signal, credentials: 'same-origin' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network', (err as Error).message || 'network error');
  }
  const text = await res.text();
  let data: unknown;
  try { data = text ? JSON.parse(text) : undefined; } catch { data = undefined; }
  if (!res.ok) {
    const e = errorOf(data);
    throw new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? res.statusText, e.details);
  }
  return data as T;
}

/** tryApi is api() that answers undefined for routes this server does not have (404/501/503). */
export async function tryApi<T = unknown>(method: string, path: string, opts: ApiOptions = {}): Promise<T | undefined> {
  try {
    return await api<T>(method, path, opts);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 501 || err.status === 503) && /no route|not running|not available/i.test(err.message)) return undefined;
    if (err instanceof ApiError && err.status === 404 && err.code === 'not_found' && /^no route/.test(err.message)) return undefined;
    throw err;
  }
}

/** newIdempotencyKey makes a random key for retry-safe payments. */
export function newIdempotencyKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// Shapes of the documented API: one source, the zod schemas the server answers with (types only,
// so no server code reaches the bundle).
export type {
  PublicUser, TrackSummary, StreamInfo, PublicStream, LiveDetail, IngestAddresses, Me, AuthSession, UserProfile,
  ChannelAnswer, ChannelList, ChannelCreated, StreamKey, ManagerList, Relationship, FollowState, UserList, RegistrationModeAnswer, PasswordChanged, ChatToken,
  VodView, VodList, VodDetail, JobView, JobList, ClipView, ClipAnswer, ClipList, CaptionsState, CaptionsAnswer,
  Wallet, TopupView, TopupCreated, TopupConfirmed, PaymentsConfig, SuperChatView, SuperChatSent, Pinned, Supporters, Earnings, OverlayList, OverlayCreated, OverlayPage,
  ModeSettingsView, FilterList, ModerationOverview, AuditEntryView, AuditLog, HeldList,
  RestreamTarget, RestreamList, LiveBlock, LiveEnded, LiveStreamView, Streams, Health, QoeAdmin,
  NotificationItem, NotificationList, NotificationsRead, ChatReplay, AlertSound,
} from '../../src/api/schemas';
import type { ChannelWithLive, PublicChannel } from '../../src/api/schemas';
/** Channel is a channel as the list and channel routes answer it (stream and followers there; not after create/update). */
export type Channel = PublicChannel & Partial<Pick<ChannelWithLive, 'stream' | 'followers' | 'ownerName'>>;
