/** Notification routes: a user's list and read marks (docs/architecture.md). */
import type { FastifyInstance } from 'fastify';
import type { NotificationList, NotificationsRead } from '../../api/schemas.js';
import { badRequest } from '../../http/errors.js';
import type { ApiContext } from '../../http/routes/context.js';
import { MAX_PAGE, type NotificationStore } from './store.js';

/** DEFAULT_PAGE is a page's size when the caller names none. */
const DEFAULT_PAGE = 20;
/** MAX_READ_IDS bounds the ids one read call may name. */
const MAX_READ_IDS = 500;

export function notificationRoutes(app: FastifyInstance, deps: { api: ApiContext; store: NotificationStore }): void {
  const { auth } = deps.api;

  app.get('/api/v1/me/notifications', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, cursor: { type: 'string', maxLength: 128 } } } },
  }, async (req): Promise<NotificationList> => {
    const user = await auth.user(req);
    const q = req.query as { limit?: string; cursor?: string };
    const limit = q.limit !== undefined ? Number(q.limit) : DEFAULT_PAGE;
    if (limit < 1 || limit > MAX_PAGE) throw badRequest(`limit: 1-${MAX_PAGE}`);
    try {
      return await deps.store.list(user.id, { limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) });
    } catch (err) {
      if (err instanceof RangeError) throw badRequest('cursor: pass the next value of the previous page');
      throw err;
    }
  });

  app.post('/api/v1/me/notifications/read', {
    schema: {
      body: {
        type: 'object', additionalProperties: false,
        properties: { ids: { type: 'array', maxItems: MAX_READ_IDS, items: { type: 'string', maxLength: 64 } }, all: { type: 'boolean' } },
      },
    },
  }, async (req): Promise<NotificationsRead> => {
    const user = await auth.user(req);
    const body = req.body as { ids?: string[]; all?: boolean };
    if (body.all !== true && body.ids === undefined) throw badRequest('name the notifications to mark read: {"ids": [...]} or {"all": true}');
    const marked = await deps.store.markRead(user.id, body.all === true ? 'all' : { ids: body.ids ?? [] });
    return { marked, unread: await deps.store.unread(user.id) };
  });
}
