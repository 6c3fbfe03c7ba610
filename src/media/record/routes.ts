/**
 * HTTP routes of recordings and jobs: /api/v1/vods (paged list, one, delete), /vod-files
 * (MP4 and images with HTTP range requests), /api/v1/jobs (list, one, cancel, retry, enqueue),
 * and /live/{channel}/thumbnail.jpg.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ApiContext } from '../../http/routes/context.js';
import { actorOf } from '../../http/auth.js';
import { AppError, notFound } from '../../http/errors.js';
import { JobLimitError, type JobQueue } from '../../platform/jobs/queue.js';
import { JOB_TYPES } from '../../platform/jobs/rules.js';
import { JOB_STATES, type JobState } from '../../platform/jobs/schema.js';
import type { LiveThumbnails } from '../thumbnail/live.js';
import { deleteRecordingFiles } from './recorder.js';
import { toVod, vodFileUrl, type RecordingStore } from './vods.js';
import type { JobList, VodAnswer, VodDetail, VodList } from '../../api/schemas.js';

/** Content types of the files a VOD directory serves; anything else is not served. */
const VOD_FILE_TYPES: Record<string, string> = { '.mp4': 'video/mp4', '.jpg': 'image/jpeg', '.vtt': 'text/vtt; charset=utf-8' };
const VOD_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const VOD_FILE_MAX_AGE_SECONDS = 3600;
/** Caption files in a recording folder: captions-{language}.vtt. */
const CAPTION_FILE = /^captions-([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)\.vtt$/;

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const paging = { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, offset: { type: 'string', pattern: '^[0-9]{1,7}$' } } as const;
/** VOD_TITLE_MAX_LENGTH matches a channel title's limit (its broadcast title is where a VOD's starts). */
const VOD_TITLE_MAX_LENGTH = 140;

export interface VodRouteDeps {
  api: ApiContext;
  store: RecordingStore;
  queue: JobQueue;
  recordingsRoot: string;
}

/** ByteRange is an inclusive byte range of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * parseRange reads a `Range: bytes=...` header for a file of `size` bytes (RFC 9110 14.2):
 * undefined = serve the whole file (absent, other unit, or several ranges), 'unsatisfiable' = 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return 'unsatisfiable';
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return undefined; // invalid range-spec: ignore the header
  return { start, end };
}

/** sendFileWithRanges answers GET/HEAD for a file with 200, 206 or 416. */
export async function sendFileWithRanges(reply: FastifyReply, file: string, contentType: string, rangeHeader: string | undefined, maxAge: number): Promise<FastifyReply> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new Error('not a file');
    size = s.size;
  } catch {
    throw notFound('no such file');
  }
  reply.header('accept-ranges', 'bytes').header('content-type', contentType).header('cache-control', `public, max-age=${maxAge}`);
  const range = parseRange(rangeHeader, size);
  if (range === 'unsatisfiable') return reply.status(416).header('content-range', `bytes */${size}`).send();
  if (!range) return reply.status(200).header('content-length', size).send(createReadStream(file));
  return reply
    .status(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
    .header('content-length', range.end - range.start + 1)
    .send(createReadStream(file, { start: range.start, end: range.end }));
}

const registered = new WeakSet<FastifyInstance>();

/** vodRoutes registers the VOD and job routes once per app (media and worker roles both call it). */
export function vodRoutes(app: FastifyInstance, d: VodRouteDeps): void {
  if (registered.has(app)) return;
  registered.add(app);
  const { api, store, queue } = d;

  app.get('/api/v1/vods', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { channel: { type: 'string', maxLength: 64 }, state: { type: 'string', enum: ['recording', 'finalizing', 'ready', 'failed', 'all'] }, ...paging } } },
  }, async (req) => {
    const q = req.query as { channel?: string; state?: string; limit?: string; offset?: string };
    const limit = Math.min(Number(q.limit ?? 20), 100);
    const offset = Number(q.offset ?? 0);
    const states = !q.state ? (['ready'] as const) : q.state === 'all' ? undefined : ([q.state] as ['ready']);
    // By the current channel's id, not its name: a deleted and re-created name does not list the old channel's VODs.
    let channelId: string | undefined;
    if (q.channel) {
      const channel = await api.platform.channels.find(q.channel);
      if (!channel) return { vods: [], total: 0, limit, offset } satisfies VodList;
      channelId = channel.id;
    }
    const { items, total } = await store.list({ channelId, states: states ? [...states] : undefined, limit, offset });
    return { vods: items.map(toVod), total, limit, offset } satisfies VodList;
  });

  app.get('/api/v1/vods/:id', { schema: { params: idParam } }, async (req) => {
    const row = await store.get((req.params as { id: string }).id);
    if (!row) throw notFound('no such VOD');
    const jobs = await queue.list({ recordingId: row.id, limit: 50 });
    const vod = toVod(row);
    // Live captions land in the folder at stream end (possibly after finalisation): list them from disk too.
    const files = await readdir(join(d.recordingsRoot, row.dir)).catch(() => [] as string[]);
    for (const f of files) {
      const language = CAPTION_FILE.exec(f)?.[1];
      if (language !== undefined && !vod.captions.some((c) => c.file === f)) vod.captions.push({ language, file: f, url: vodFileUrl(row.id, f) });
    }
    return { vod, jobs } satisfies VodDetail;
  });

  // The owner or a manager renames a VOD (it starts with the broadcast title of its session).
  app.patch('/api/v1/vods/:id', {
    schema: { params: idParam, body: { type: 'object', required: ['title'], additionalProperties: false, properties: { title: { type: 'string', minLength: 1, maxLength: VOD_TITLE_MAX_LENGTH } } } },
  }, async (req) => {
    const p = await api.auth.required(req);
    const row = await store.get((req.params as { id: string }).id);
    if (!row) throw notFound('no such VOD');
    const actor = actorOf(p);
    const channel = await api.platform.channels.find(row.channel_name);
    if (channel && channel.id === row.channel_id) await api.platform.channels.assertCanManage(channel, actor, 'manager');
    else if (actor.is_admin !== 1) throw new AppError('forbidden', 'only an admin may rename the VODs of a deleted channel');
    const title = (req.body as { title: string }).title.trim();
    if (!title) throw new AppError('validation_failed', 'title: must not be blank');
    await store.update(row.id, { title });
    return { vod: toVod({ ...row, title }) } satisfies VodAnswer;
  });

  app.delete('/api/v1/vods/:id', { schema: { params: idParam } }, async (req, reply) => {
    const p = await api.auth.required(req);
    const row = await store.get((req.params as { id: string }).id);
    if (!row) throw notFound('no such VOD');
    const actor = actorOf(p);
    const channel = await api.platform.channels.find(row.channel_name);
    if (channel && channel.id === row.channel_id) await api.platform.channels.assertCanManage(channel, actor, 'owner');
    else if (actor.is_admin !== 1) throw new AppError('forbidden', 'only an admin may delete the VODs of a deleted channel');
    if (row.state === 'recording' || row.state === 'finalizing') throw new AppError('conflict', 'the recording is still in progress');
    await queue.removeForRecording(row.id);
    await deleteRecordingFiles(d.recordingsRoot, row);
    await store.remove(row.id);
    return reply.status(204).send();
  });

  app.post('/api/v1/vods/:id/jobs', {
    schema: { params: idParam, body: { type: 'object', required: ['type'], additionalProperties: false, properties: { type: { type: 'string', enum: [...JOB_TYPES] }, language: { type: 'string', pattern: '^[a-z]{2,3}(-[A-Za-z]{2,4})?$' } } } },
  }, async (req, reply) => {
    const p = await api.auth.required(req);
    const row = await store.get((req.params as { id: string }).id);
    if (!row) throw notFound('no such VOD');
    // By id: a channel re-created under the same name (another owner) does not own the old VODs.
    const channel = await api.platform.channels.find(row.channel_name);
    if (channel && channel.id === row.channel_id) await api.platform.channels.assertCanManage(channel, actorOf(p), 'owner');
    else if (actorOf(p).is_admin !== 1) throw new AppError('forbidden', 'only an admin may queue jobs on the VODs of a deleted channel');
    if (row.state !== 'ready') throw new AppError('conflict', `the recording is ${row.state}, not ready`);
    const b = req.body as { type: string; language?: string };
    const actor = actorOf(p);
    const limits = api.config.jobs;
    try {
      // The same job already waiting on this VOD is answered with that job (200), not queued twice.
      const { job, existing } = await queue.enqueueLimited({
        type: b.type, recordingId: row.id, payload: { recordingId: row.id, ...(b.language ? { language: b.language } : {}) },
        requestedBy: actor.id || null, maxPerRecording: limits.maxPerVod, maxPerUser: actor.is_admin === 1 ? 0 : limits.maxPerUser,
      });
      return await reply.status(existing ? 200 : 201).send({ job });
    } catch (err) {
      if (err instanceof JobLimitError) throw new AppError('too_many_jobs', err.message, { scope: err.scope, max: err.max });
      throw err;
    }
  });

  // GET (fastify adds HEAD) with byte ranges, so players can seek.
  app.get('/vod-files/:id/:file', {
    schema: { params: { type: 'object', required: ['id', 'file'], properties: { id: { type: 'string', maxLength: 64 }, file: { type: 'string', maxLength: 64 } } } },
  }, async (req, reply) => {
    const { id, file } = req.params as { id: string; file: string };
    const ext = file.slice(file.lastIndexOf('.'));
    const type = VOD_FILE_TYPES[ext];
    if (!VOD_FILE_NAME.test(file) || !type || file.includes('.part.') || file.includes('..')) throw notFound('no such file');
    const row = await store.get(id);
    if (!row || row.state !== 'ready') throw notFound('no such VOD');
    return sendFileWithRanges(reply, join(d.recordingsRoot, row.dir, file), type, req.headers.range, VOD_FILE_MAX_AGE_SECONDS);
  });

  // Jobs: operators only.
  app.get('/api/v1/jobs', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: [...JOB_STATES] }, type: { type: 'string', maxLength: 32 }, vod: { type: 'string', maxLength: 64 }, ...paging } } },
  }, async (req) => {
    await api.auth.admin(req);
    const q = req.query as { state?: JobState; type?: string; vod?: string; limit?: string; offset?: string };
    const jobs = await queue.list({ state: q.state, type: q.type, recordingId: q.vod, limit: Math.min(Number(q.limit ?? 50), 500), offset: Number(q.offset ?? 0) });
    return { jobs, counts: await queue.counts() } satisfies JobList;
  });

  app.get('/api/v1/jobs/:id', { schema: { params: idParam } }, async (req) => {
    await api.auth.admin(req);
    const job = await queue.get((req.params as { id: string }).id);
    if (!job) throw notFound('no such job');
    return { job };
  });

  app.post('/api/v1/jobs/:id/cancel', { schema: { params: idParam } }, async (req) => {
    await api.auth.admin(req);
    const job = await queue.cancel((req.params as { id: string }).id);
    if (!job) throw notFound('no such job');
    return { job };
  });

  app.post('/api/v1/jobs/:id/retry', { schema: { params: idParam } }, async (req) => {
    await api.auth.admin(req);
    const id = (req.params as { id: string }).id;
    const before = await queue.get(id);
    if (!before) throw notFound('no such job');
    if (before.state !== 'failed' && before.state !== 'cancelled') throw new AppError('conflict', `only failed or cancelled jobs can be retried (this one is ${before.state})`);
    return { job: await queue.retry(id) };
  });
}

/**
 * thumbnailRoute serves /live/{channel}/thumbnail.jpg (an exact route beside the LL-HLS wildcard);
 * `remote` gives the thumbnail of a channel published on another media node (the cluster; on an
 * api-only node every thumbnail is such a one).
 */
export function thumbnailRoute(app: FastifyInstance, thumbs: Pick<LiveThumbnails, 'get'>, intervalSeconds: number, remote?: (channel: string) => Promise<{ jpeg: Buffer; at: number } | undefined>): void {
  app.get('/live/:channel/thumbnail.jpg', { schema: { params: { type: 'object', required: ['channel'], properties: { channel: { type: 'string', maxLength: 64 } } } } }, async (req, reply) => {
    const channel = (req.params as { channel: string }).channel;
    const t = thumbs.get(channel) ?? (await remote?.(channel));
    if (!t) throw notFound('no thumbnail for this channel yet');
    return reply
      .header('content-type', 'image/jpeg')
      .header('cache-control', `public, max-age=${intervalSeconds}`)
      .header('last-modified', new Date(t.at).toUTCString())
      .send(t.jpeg);
  });
}

