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
    from: { type: 'string', pattern: '^[0-9]{1,12}$' }, to: { type: 'string', pattern: '^[0-9]{1,12}$' },
    limit: { type: 'string', pattern: '^[0-9]{1,4}$' }, cursor: { type: 'string', maxLength: 128 },
  },
} as const;

function queryOf(raw: unknown): ReplayQuery {
  const q = raw as { from?: string; to?: string; limit?: string; cursor?: string };
  const from = q.from !== undefined ? Number(q.from) : undefined;
  const to = q.to !== undefined ? Number(q.to) : undefined;
  const limit = q.limit !== undefined ? Number(q.limit) : DEFAULT_REPLAY_PAGE;
  if (limit < 1 || limit > MAX_REPLAY_PAGE) throw badRequest(`limit: 1-${MAX_REPLAY_PAGE}`);
  if (from !== undefined && to !== undefined && to < from) throw badRequest('to must not be before from');
  return { limit, ...(from !== undefined ? { fromMs: from } : {}), ...(to !== undefined ? { toMs: to } : {}), ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) };
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
