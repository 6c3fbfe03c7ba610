/**
 * `GET /api/v1/chat/admission`: whether this node would take a chat WebSocket from the caller's
 * address now. A browser's WebSocket cannot read the 429/503 an upgrade is refused with (it
 * only sees a failed connection), so the web app asks here after a failed connect and words the
 * answer's code: 204, or the refusal's 429 too_many_connections / 503 server_full with details.
 */
import type { FastifyInstance } from 'fastify';
import type { ListenerLimits } from '../../net/listener-limits.js';

export const CHAT_ADMISSION_PATH = '/api/v1/chat/admission';

export function registerChatAdmission(app: FastifyInstance, wsLimits: ListenerLimits): void {
  app.get(CHAT_ADMISSION_PATH, async (req, reply) => {
    const refusal = wsLimits.refusalFor(req.clientIp);
    if (refusal) throw refusal;
    return reply.status(204).send();
  });
}
