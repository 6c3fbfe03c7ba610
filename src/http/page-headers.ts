/**
 * Security headers of the web app's pages (docs/security.md): a strict
 * Content-Security-Policy, and no framing by other sites except for overlays, which OBS and
 * other streaming tools load as browser sources.
 */

/** HOST_RE is what a Host header may look like to be echoed into the CSP (name or [v6], optional port). */
const HOST_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * CSP_DIRECTIVES are what the built app needs: its own scripts and styles only (no inline
 * script), media and workers from blob: (MSE players, hls.js's worker), the API and chat
 * WebSockets on this host, images from this host and data: (player and effect icons).
 */
const CSP_DIRECTIVES: [string, string][] = [
  ['default-src', "'self'"],
  ['script-src', "'self'"],
  ['style-src', "'self'"],
  ['img-src', "'self' data: blob:"],
  ['media-src', "'self' blob:"],
  ['worker-src', "'self' blob:"],
  ['font-src', "'self'"],
  ['manifest-src', "'self'"],
  ['object-src', "'none'"],
  ['base-uri', "'none'"],
  ['form-action', "'self'"],
];

export interface PageHeaderOptions {
  /** The request's Host (fastify request.host): WebSockets to it are allowed explicitly (older engines do not map 'self' to ws:). */
  host?: string;
  /** Overlays may be framed anywhere (OBS browser sources, other tools); every other page only by this origin. */
  framable: boolean;
}

/** contentSecurityPolicy is the CSP header value for one page response. */
export function contentSecurityPolicy(opts: PageHeaderOptions): string {
  const sockets = opts.host && HOST_RE.test(opts.host) ? ` ws://${opts.host} wss://${opts.host}` : '';
  const directives = [...CSP_DIRECTIVES, ['connect-src', `'self'${sockets}`] as [string, string]];
  if (!opts.framable) directives.push(['frame-ancestors', "'self'"]);
  return directives.map(([k, v]) => `${k} ${v}`).join('; ');
}

/** pageHeaders are the headers every page (index.html for an SPA route) is sent with. */
export function pageHeaders(opts: PageHeaderOptions): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(opts),
    ...(opts.framable ? {} : { 'x-frame-options': 'DENY' }),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  };
}
