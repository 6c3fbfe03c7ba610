/** Super chat alert audio: the server-side speech of a super chat, for overlays (docs/chat.md). */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../http/errors.js';
import type { SuperChat } from '../../chat/supporters/superchat.js';
import type { TtsService } from './tts.js';

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

/** alertSpeech is what an alert reads: who, how much, and the (moderated) message. */
export function alertSpeech(sc: Pick<SuperChat, 'user' | 'amount' | 'message'>): string {
  return `${sc.user.name}님, ${sc.amount.toLocaleString('ko-KR')}원. ${sc.message}`;
}

export function alertRoutes(app: FastifyInstance, deps: { superchats: { get(id: string): Promise<SuperChat | undefined> }; tts: TtsService }): void {
  app.get('/api/v1/superchats/:id/tts', { schema: { params: idParam } }, async (req, reply) => {
    const sc = await deps.superchats.get((req.params as { id: string }).id);
    // Only super chats their sender asked to be read.
    if (!sc?.tts) throw notFound('no spoken super chat with this id');
    const spoken = await deps.tts.speak(alertSpeech(sc));
    if (!spoken) throw notFound('nothing to read');
    return reply
      .header('content-type', 'audio/wav')
      .header('cache-control', 'public, max-age=86400, immutable')
      .header('etag', `"${spoken.key}"`)
      .send(spoken.wav);
  });
}
