/**
 * Captions REST API:
 *   GET  /api/v1/channels/{name}/captions          state and the engines offered here (public)
 *   POST /api/v1/channels/{name}/captions          {enabled, language?, engine?}  owner/manager
 *   POST /api/v1/channels/{name}/captions/cues     {text, final, lang?, startMs?, endMs?}  owner/manager (studio Web Speech)
 *   GET  /api/v1/channels/{name}/captions.vtt?lang the live (or last) session's cues as WebVTT
 */
import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/auth.js';
import { AppError } from '../http/errors.js';
import { TokenBucket } from '../http/token-bucket.js';
import type { ApiContext } from '../http/routes/context.js';
import { CaptionCapacityError, EngineLanguageError, type CaptionsService } from './service.js';
import type { CaptionsAnswer } from '../api/schemas.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const LANG_PATTERN = '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$';
/** Longest cue text accepted from a browser. */
export const MAX_CUE_TEXT = 500;
/** Browser cues: a burst of this many, refilled at CUE_RATE_PER_SECOND per channel. */
export const CUE_BURST = 20;
export const CUE_RATE_PER_SECOND = 5;
/** Cue times must stay within a day of stream time. */
const MAX_CUE_MS = 2 ** 42;

export interface CaptionsRoutesOptions {
  /** Engines the server can run (the toggle refuses others). */
  serverEngines: string[];
  /** Known server engines that cannot run here, with the reason (e.g. the apt-get command). */
  unavailable?: Record<string, string | undefined>;
}

export function captionsRoutes(app: FastifyInstance, ctx: ApiContext, captions: CaptionsService, opts: CaptionsRoutesOptions): void {
  const { platform, auth } = ctx;
  const limiter = new TokenBucket(CUE_BURST, CUE_RATE_PER_SECOND);
  const engines = ['browser', ...opts.serverEngines];

  const manage = async (req: Parameters<typeof auth.required>[0], name: string) => {
    const p = await auth.required(req);
    const channel = await platform.channels.require(name);
    await platform.channels.assertCanManage(channel, actorOf(p));
    return channel;
  };

  app.get('/api/v1/channels/:name/captions', { schema: { params: nameParam } }, async (req) => {
    const { name } = req.params as { name: string };
    await platform.channels.require(name);
    return { captions: captions.state(name), engines } satisfies CaptionsAnswer;
  });

  app.post('/api/v1/channels/:name/captions', {
    schema: {
      params: nameParam,
      body: {
        type: 'object', required: ['enabled'], additionalProperties: false,
        properties: { enabled: { type: 'boolean' }, language: { type: 'string', pattern: LANG_PATTERN, maxLength: 16 }, engine: { type: 'string', maxLength: 32 } },
      },
    },
  }, async (req) => {
    const { name } = req.params as { name: string };
    const body = req.body as { enabled: boolean; language?: string; engine?: string };
    await manage(req, name);
    const why = body.engine !== undefined ? opts.unavailable?.[body.engine] : undefined;
    if (why) throw new AppError('unavailable', why);
    if (body.engine !== undefined && !engines.includes(body.engine)) {
      throw new AppError('validation_failed', `engine must be one of ${engines.join(', ')}`);
    }
    if (!body.enabled) return { captions: await captions.disable(name) } satisfies CaptionsAnswer;
    try {
      return { captions: await captions.enable(name, { engine: body.engine as never, language: body.language }) } satisfies CaptionsAnswer;
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof EngineLanguageError) throw new AppError('unsupported_language', err.message, { engine: err.engine, language: err.language });
      if (err instanceof CaptionCapacityError) throw new AppError('captions_capacity', err.message, { max: err.max });
      throw new AppError('unavailable', (err as Error).message);
    }
  });

  app.post('/api/v1/channels/:name/captions/cues', {
    schema: {
      params: nameParam,
      body: {
        type: 'object', required: ['text', 'final'], additionalProperties: false,
        properties: {
          text: { type: 'string', minLength: 1, maxLength: MAX_CUE_TEXT },
          final: { type: 'boolean' },
          lang: { type: 'string', pattern: LANG_PATTERN, maxLength: 16 },
          startMs: { type: 'number', minimum: 0, maximum: MAX_CUE_MS },
          endMs: { type: 'number', minimum: 0, maximum: MAX_CUE_MS },
        },
      },
    },
  }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const body = req.body as { text: string; final: boolean; lang?: string; startMs?: number; endMs?: number };
    await manage(req, name);
    if (body.text.trim() === '') throw new AppError('validation_failed', 'text must not be blank');
    if (body.startMs !== undefined && body.endMs !== undefined && body.endMs < body.startMs) throw new AppError('validation_failed', 'endMs must not be before startMs');
    if (ctx.liveInfo && !ctx.liveInfo(name).live) throw new AppError('conflict', `channel ${name} is not live; captions need a live stream`);
    if (!limiter.take(name)) throw new AppError('too_many_requests', `at most ${CUE_RATE_PER_SECOND} caption cues per second per channel`);
    const cue = await captions.addBrowserCue(name, body);
    return reply.status(202).send({ cue });
  });

  app.get('/api/v1/channels/:name/captions.vtt', {
    schema: { params: nameParam, querystring: { type: 'object', additionalProperties: false, properties: { lang: { type: 'string', pattern: LANG_PATTERN, maxLength: 16 } } } },
  }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const { lang } = req.query as { lang?: string };
    await platform.channels.require(name);
    const tracks = captions.tracks(name);
    const track = lang ? tracks.find((t) => t.lang === lang) : tracks[0];
    if (!track) throw new AppError('not_found', `no captions${lang ? ` in ${lang}` : ''} for ${name}`);
    return reply.type('text/vtt; charset=utf-8').header('cache-control', 'no-cache').send(track.toVtt());
  });
}
