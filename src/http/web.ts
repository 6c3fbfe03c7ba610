import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors.js';
import { pageHeaders } from './page-headers.js';

/** SPA_ROUTES are the page paths the web app handles in the browser; each answers index.html. */
export const SPA_ROUTES = ['/', '/watch/:channel', '/studio', '/overlay/:channel', '/admin', '/vod/:id', '/wallet', '/pay/test/:id'] as const;

/** ASSETS_PREFIX is where Vite puts hashed bundles; they never change, so they are cached for a year. */
const ASSETS_PREFIX = '/assets/';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

const HTML_TYPE = 'text/html; charset=utf-8';
const CONTENT_TYPES: Record<string, string> = {
  '.html': HTML_TYPE,
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** FRAMABLE_PREFIX: overlay pages are embedded by OBS and other tools, so they alone may be framed. */
const FRAMABLE_PREFIX = '/overlay/';

export interface WebOptions {
  /** Folder with the built web app (index.html + assets/); found next to the package when unset. */
  dir?: string;
}

/** defaultWebDir finds dist/web whether we run from src/ (tsx) or dist/ (compiled). */
export function defaultWebDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = resolve(here, '../web');
  const built = resolve(here, '../../dist/web');
  return [compiled, built].find((d) => existsSync(join(d, 'index.html'))) ?? built;
}

const NOT_BUILT_PAGE = `<!doctype html><html lang="en"><meta charset="utf-8"><title>onair</title>
<body>
<h1>onair</h1><p>The web app is not built yet. Run <code>npm run build</code> (it builds the server and the web app into <code>dist/</code>) and reload.</p>
<p>The API is at <a href="/healthz">/healthz</a> and <code>/api/v1</code>.</p></body></html>`;

/**
 * webRoutes serves the built web app: hashed files under /assets/ (immutable),
 * other top-level files of the build, and index.html for every SPA route.
 * API and media routes are untouched: unknown /api/* still gets the JSON 404.
 */
export function webRoutes(app: FastifyInstance, opts: WebOptions = {}): { dir: string } {
  const dir = resolve(opts.dir ?? defaultWebDir());
  let cachedIndex: { mtimeMs: number; body: Buffer } | undefined;

  const indexHtml = (): Buffer | undefined => {
    const file = join(dir, 'index.html');
    try {
      const st = statSync(file);
      if (!cachedIndex || cachedIndex.mtimeMs !== st.mtimeMs) cachedIndex = { mtimeMs: st.mtimeMs, body: readFileSync(file) };
      return cachedIndex.body;
    } catch {
      return undefined;
    }
  };

  const sendIndex = (req: FastifyRequest, reply: FastifyReply) => {
    const body = indexHtml();
    const framable = req.url.startsWith(FRAMABLE_PREFIX);
    reply.headers({ ...pageHeaders({ host: req.host, framable }), 'cache-control': REVALIDATE, 'content-type': HTML_TYPE });
    return reply.status(200).send(body ?? NOT_BUILT_PAGE);
  };

  for (const route of SPA_ROUTES) app.get(route, async (req, reply) => sendIndex(req, reply));

  // Files inside the build folder, never outside it (no "..", no absolute paths).
  const sendFile = async (reply: FastifyReply, rel: string, cache: string) => {
    const file = resolve(dir, rel);
    if (!file.startsWith(dir + sep)) throw new AppError('not_found', 'no such file');
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      body = await readFile(file);
    } catch {
      throw new AppError('not_found', `no such file ${rel}`);
    }
    reply.headers({ 'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', 'cache-control': cache, 'x-content-type-options': 'nosniff' });
    return reply.send(body);
  };

  app.get(`${ASSETS_PREFIX}*`, async (req, reply) => {
    const rel = decodeURIComponent((req.params as { '*': string })['*'] ?? '');
    return sendFile(reply, join('assets', rel), IMMUTABLE);
  });
  // Top-level public files Vite copies from web/public (favicon, manifest, robots).
  app.get('/:file', async (req, reply) => {
    const { file } = req.params as { file: string };
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.(svg|png|ico|webmanifest|txt|json)$/.test(file)) throw new AppError('not_found', `no route for GET /${file}`);
    return sendFile(reply, file, 'public, max-age=3600');
  });

  return { dir };
}
