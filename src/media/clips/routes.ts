/**
 * HTTP routes of clips: make one from a live channel or a VOD, read, list (per channel, per
 * VOD), delete, and /clip-files/{id}/{file} (MP4 and poster, with byte ranges like VOD files).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ApiContext } from '../../http/routes/context.js';
import { actorOf } from '../../http/auth.js';
import { AppError, forbidden, notFound } from '../../http/errors.js';
import type { RecordingStore } from '../record/vods.js';
import { sendFileWithRanges } from '../record/routes.js';
import { toClip, type ClipStore } from './db.js';
import { MAX_TITLE_CHARS, type ClipService } from './service.js';
import type { ClipAnswer, ClipList } from '../../api/schemas.js';

const CLIP_FILE_TYPES: Record<string, string> = { '.mp4': 'video/mp4', '.jpg': 'image/jpeg' };
/** A clip never changes once ready. */
const CLIP_FILE_MAX_AGE_SECONDS = 86_400;
const MAX_LIMIT = 100;

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const listQuery = {
  type: 'object', additionalProperties: false,
  properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, offset: { type: 'string', pattern: '^[0-9]{1,7}$' }, state: { type: 'string', enum: ['ready', 'all'] } },
} as const;
const title = { type: 'string', maxLength: MAX_TITLE_CHARS } as const;

export interface ClipRouteDeps {
  api: ApiContext;
  store: ClipStore;
  recordings: RecordingStore;
  service: ClipService;
}

/** withRetryAfter answers a rate-limit refusal with a Retry-After header. */
async function withRetryAfter<T>(reply: FastifyReply, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    const wait = err instanceof AppError ? (err.details?.retryAfterSeconds as number | undefined) : undefined;
    if (wait !== undefined) reply.header('retry-after', String(wait));
    throw err;
  }
}

function paging(q: { limit?: string; offset?: string; state?: string }) {
  return { limit: Math.min(Number(q.limit ?? 20), MAX_LIMIT), offset: Number(q.offset ?? 0), states: q.state === 'all' ? undefined : (['ready'] as ['ready']) };
}

/** clipRoutes registers the clip routes. */
export function clipRoutes(app: FastifyInstance, d: ClipRouteDeps): void {
  const { api, store, service } = d;

  app.post('/api/v1/channels/:name/clips', {
    schema: { params: nameParam, body: { type: ['object', 'null'], additionalProperties: false, properties: { seconds: { type: 'integer' }, title } } },
  }, async (req, reply) => {
    const user = await api.auth.user(req);
    const channel = await api.platform.channels.find((req.params as { name: string }).name);
    if (!channel) throw notFound('no such channel');
    const body = (req.body ?? {}) as { seconds?: number; title?: string };
    const row = await withRetryAfter(reply, () => service.liveClip(channel, user, body));
    return reply.status(202).header('location', `/api/v1/clips/${row.id}`).send({ clip: toClip(row) } satisfies ClipAnswer);
  });

  app.post('/api/v1/vods/:id/clips', {
    schema: { params: idParam, body: { type: 'object', required: ['start', 'duration'], additionalProperties: false, properties: { start: { type: 'number' }, duration: { type: 'number' }, title } } },
  }, async (req, reply) => {
    const user = await api.auth.user(req);
    const vod = await d.recordings.get((req.params as { id: string }).id);
    if (!vod) throw notFound('no such VOD');
    const channel = await api.platform.channels.find(vod.channel_name);
    const body = req.body as { start: number; duration: number; title?: string };
    const row = await withRetryAfter(reply, () => service.vodClip(vod, channel && channel.id === vod.channel_id ? channel : undefined, user, body));
    return reply.status(202).header('location', `/api/v1/clips/${row.id}`).send({ clip: toClip(row) } satisfies ClipAnswer);
  });

  app.get('/api/v1/clips/:id', { schema: { params: idParam } }, async (req) => {
    const row = await store.get((req.params as { id: string }).id);
    if (!row) throw notFound('no such clip');
    return { clip: toClip(row) } satisfies ClipAnswer;
  });

  app.get('/api/v1/channels/:name/clips', { schema: { params: nameParam, querystring: listQuery } }, async (req) => {
    const name = (req.params as { name: string }).name;
    if (!(await api.platform.channels.find(name))) throw notFound('no such channel');
    const p = paging(req.query as Record<string, string>);
    const { items, total } = await store.list({ channel: name, ...p });
    return { clips: items.map(toClip), total, limit: p.limit, offset: p.offset } satisfies ClipList;
  });

  app.get('/api/v1/vods/:id/clips', { schema: { params: idParam, querystring: listQuery } }, async (req) => {
    const id = (req.params as { id: string }).id;
    const p = paging(req.query as Record<string, string>);
    const { items, total } = await store.list({ sourceVodId: id, ...p });
    if (total === 0 && !(await d.recordings.get(id))) throw notFound('no such VOD');
    return { clips: items.map(toClip), total, limit: p.limit, offset: p.offset } satisfies ClipList;
  });

  app.delete('/api/v1/clips/:id', { schema: { params: idParam } }, async (req, reply) => {
    const principal = await api.auth.required(req);
    const row = await store.get((req.params as { id: string }).id);
    if (!row) throw notFound('no such clip');
    const actor = actorOf(principal);
    if (actor.is_admin !== 1 && actor.id !== row.created_by) {
      const channel = await api.platform.channels.find(row.channel_name);
      if (!channel || channel.id !== row.channel_id) throw forbidden('only the clip\'s creator or an admin may delete the clips of a deleted channel');
      await api.platform.channels.assertCanManage(channel, actor, 'manager').catch(() => {
        throw forbidden('only the clip\'s creator, the channel owner, a manager or an admin may delete this clip');
      });
    }
    await service.remove(row);
    return reply.status(204).send();
  });

  // GET (fastify adds HEAD) with byte ranges, so players can seek.
  app.get('/clip-files/:id/:file', {
    schema: { params: { type: 'object', required: ['id', 'file'], properties: { id: { type: 'string', maxLength: 64 }, file: { type: 'string', maxLength: 80 } } } },
  }, async (req, reply) => {
    const { id, file } = req.params as { id: string; file: string };
    const row = await store.get(id);
    if (!row || row.state !== 'ready' || (file !== row.file && file !== row.poster)) throw notFound('no such clip file');
    const type = CLIP_FILE_TYPES[file.slice(file.lastIndexOf('.'))];
    if (!type) throw notFound('no such clip file');
    return sendFileWithRanges(reply, service.fileOf(file), type, req.headers.range, CLIP_FILE_MAX_AGE_SECONDS);
  });
}
