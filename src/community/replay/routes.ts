/** Chat replay routes: a VOD's or a clip's chat by offset (docs/architecture.md). */
import type { FastifyInstance } from 'fastify';
import type { ChatReplay } from '../../api/schemas.js';
import { badRequest, notFound } from '../../http/errors.js';
import { MAX_REPLAY_PAGE, type ReplayPage, type ReplayQuery, type ReplayReader } from './reader.js';

/** DEFAULT_REPLAY_PAGE is a page's size when the caller names none. */
const DEFAULT_REPLAY_PAGE = 200;
const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const rangeQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    from: { type: 'integer', minimum: 0 }, to: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_REPLAY_PAGE }, cursor: { type: 'string', maxLength: 128 },
  },
} as const;

function queryOf(raw: unknown): ReplayQuery {
  const q = raw as { from?: number; to?: number; limit?: number; cursor?: string };
  if (q.from !== undefined && q.to !== undefined && q.to < q.from) throw badRequest('to must not be before from');
  return { limit: q.limit ?? DEFAULT_REPLAY_PAGE, ...(q.from !== undefined ? { fromMs: q.from } : {}), ...(q.to !== undefined ? { toMs: q.to } : {}), ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) };
}

async function answer(page: Promise<ReplayPage | null>, what: string): Promise<ChatReplay> {
  try {
    const p = await page;
    if (!p) throw notFound(`no such ${what}`);
    return p;
  } catch (err) {
    if (err instanceof RangeError) throw badRequest('cursor: pass the next value of the previous page');
    throw err;
  }
}

export function replayRoutes(app: FastifyInstance, reader: ReplayReader): void {
  app.get('/api/v1/vods/:id/chat', { schema: { params: idParam, querystring: rangeQuery } }, (req) =>
    answer(reader.forRecording((req.params as { id: string }).id, queryOf(req.query)), 'VOD'));
  app.get('/api/v1/clips/:id/chat', { schema: { params: idParam, querystring: rangeQuery } }, (req) =>
    answer(reader.forClip((req.params as { id: string }).id, queryOf(req.query)), 'clip'));
}
