import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, getToken, setToken, type AuthSession, type Me, type PasswordChanged, type RegistrationModeAnswer } from './api';

/** auth.ts: who is logged in, shared by every page. */

let me: Me | null = null;
let loaded = false;
const listeners = new Set<() => void>();
const emit = () => { for (const f of listeners) f(); };

/** refreshMe asks GET /api/v1/me; a stale token is dropped. */
export async function refreshMe(): Promise<Me | null> {
  if (!getToken()) {
    me = null;
  } else {
    try {
      me = await api<Me>('GET', '/api/v1/me');
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setToken(null);
      me = null;
    }
  }
  loaded = true;
  emit();
  return me;
}

export async function login(username: string, password: string): Promise<void> {
  const r = await api<AuthSession>('POST', '/api/v1/auth/login', { body: { username, password }, token: null });
  setToken(r.token);
  await refreshMe();
}

export async function register(username: string, password: string, displayName?: string, invite?: string): Promise<void> {
  const r = await api<AuthSession>('POST', '/api/v1/auth/register', { body: { username, password, ...(displayName ? { displayName } : {}), ...(invite ? { invite } : {}) }, token: null });
  setToken(r.token);
  await refreshMe();
}

/** RegistrationMode is the server's auth.registration.mode: who may create an account. */
export type RegistrationMode = RegistrationModeAnswer['mode'];

/** registrationMode asks the server whether sign-up is open, needs an invite code, or is closed. */
export async function registrationMode(): Promise<RegistrationMode> {
  const r = await api<RegistrationModeAnswer>('GET', '/api/v1/auth/registration', { token: null });
  return r.mode;
}

export async function logout(): Promise<void> {
  try { await api('POST', '/api/v1/auth/logout'); } catch { /* already gone */ }
  setToken(null);
  me = null;
  emit();
}

/** changePassword changes the password; other sessions end (this one stays). Answers how many ended. */
export async function changePassword(currentPassword: string, newPassword: string): Promise<number> {
  const r = await api<PasswordChanged>('POST', '/api/v1/auth/password', { body: { currentPassword, newPassword } });
  return r.endedSessions;
}

/** logoutEverywhere ends every session of the user, this one included, and their chat connections. */
export async function logoutEverywhere(): Promise<void> {
  await api('POST', '/api/v1/auth/logout-all');
  setToken(null);
  me = null;
  emit();
}

/** useMe gives the current user (null when anonymous) and whether it is known yet. */
export function useMe(): { me: Me | null; loaded: boolean } {
  const [, force] = useState(0);
  const seen = { me, loaded };
  useEffect(() => {
    const f = () => force((n) => n + 1);
    listeners.add(f);
    if (!loaded) void refreshMe();
    // It may have changed between this render and the listener being added.
    else if (seen.loaded !== loaded || seen.me !== me) f();
    return () => { listeners.delete(f); };
  }, []);
  return { me, loaded };
}

/** rolesIn lists the viewer's roles in one channel ("owner", "manager", ...). */
export function rolesIn(m: Me | null, channel: string): string[] {
  return m?.roles?.[channel] ?? [];
}

export function canManage(m: Me | null, channel: string): boolean {
  if (!m) return false;
  if (m.admin) return true;
  const r = rolesIn(m, channel);
  return r.includes('owner') || r.includes('manager');
}

/** Login dialog requests: any component can ask the shell to open it. */
const loginRequests = new Set<() => void>();
export function requestLogin(): void { for (const f of loginRequests) f(); }
export function onLoginRequest(f: () => void): () => void { loginRequests.add(f); return () => loginRequests.delete(f); }
