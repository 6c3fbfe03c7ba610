/**
 * Relay URLs carry secrets: the stream key (an RTMP URL's last path segment, often echoed back by
 * the remote server's refusal) and user:password. Every relay log line and status field passes
 * through scrubSecrets, so neither reaches logs, the relay list or a restream's lastError.
 */

/** SCRUBBED replaces a secret in text shown to people. */
export const SCRUBBED = '***';
/** Secrets shorter than this are not replaced inside other text (they would mangle ordinary words). */
const MIN_SECRET_CHARS = 4;

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** urlSecrets lists the secret parts of a relay URL: user, password, and an RTMP URL's stream name (with and without its query). */
export function urlSecrets(url: string): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  const out: string[] = [];
  if (u.password) out.push(u.password, decode(u.password));
  if (u.username) out.push(u.username, decode(u.username));
  if (/^rtmps?:$/.test(u.protocol)) {
    const segments = u.pathname.split('/').filter(Boolean);
    // rtmp://host/app/KEY: everything after the app is the stream name (the key on push targets).
    if (segments.length >= 2) {
      const name = segments.slice(1).join('/');
      out.push(name, decode(name));
      if (u.search) out.push(name + u.search, u.search.slice(1));
    }
  }
  return [...new Set(out.filter((s) => s.length >= MIN_SECRET_CHARS))].sort((a, b) => b.length - a.length);
}

/** scrubSecrets replaces every occurrence of each secret (longest first) and any URL userinfo in `text`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(SCRUBBED);
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@]*@/gi, `$1${SCRUBBED}@`);
}

/** maskRelayUrl is a relay URL fit to show: user:password and the RTMP stream name replaced. */
export function maskRelayUrl(url: string): string {
  return scrubSecrets(url, urlSecrets(url));
}
