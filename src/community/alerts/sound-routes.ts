/** Alert sound routes: a channel's choice (public, the overlay reads it), the owner's upload. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AlertSound } from '../../api/schemas.js';
import { actorOf } from '../../http/auth.js';
import { AppError, badRequest, notFound } from '../../http/errors.js';
import type { ApiContext } from '../../http/routes/context.js';
import { AlertSoundStore, BUNDLED_SOUNDS, CUSTOM_SOUND, NO_SOUND, sniffAudio, type SoundChoice } from './sounds.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const CHOICES: readonly string[] = [...BUNDLED_SOUNDS, CUSTOM_SOUND, NO_SOUND];

export function alertSoundRoutes(app: FastifyInstance, deps: { api: ApiContext; store: AlertSoundStore; maxBytes: number }): void {
  const { platform, auth } = deps.api;
  const answer = async (channel: { id: string; name: string }): Promise<AlertSound> => {
    const c = await deps.store.choice(channel.id);
    const url = c.sound === NO_SOUND ? null
      : c.sound === CUSTOM_SOUND ? `/api/v1/channels/${channel.name}/alert-sound/file?v=${c.updatedAt}`
      : `/alert-sounds/${c.sound}.wav`;
    return { sound: c.sound, url, bundled: [...BUNDLED_SOUNDS], hasCustom: c.hasCustom };
  };
  const managed = async (req: FastifyRequest) => {
    const p = await auth.required(req);
    const c = await platform.channels.require((req.params as { name: string }).name);
    await platform.channels.assertCanManage(c, actorOf(p));
    return c;
  };

  app.get('/api/v1/channels/:name/alert-sound', { schema: { params: nameParam } }, async (req) =>
    answer(await platform.channels.require((req.params as { name: string }).name)));

  app.put('/api/v1/channels/:name/alert-sound', {
    schema: { params: nameParam, body: { type: 'object', required: ['sound'], additionalProperties: false, properties: { sound: { type: 'string', enum: [...CHOICES] } } } },
  }, async (req) => {
    const c = await managed(req);
    const sound = (req.body as { sound: SoundChoice }).sound;
    if (sound === CUSTOM_SOUND && !(await deps.store.choice(c.id)).hasCustom) throw badRequest('upload a sound first (POST …/alert-sound/file)');
    await deps.store.choose(c.id, sound);
    return answer(c);
  });

  // The upload travels as base64 in JSON, so the shared HTTP app needs no binary body parser.
  app.post('/api/v1/channels/:name/alert-sound/file', {
    bodyLimit: Math.ceil(deps.maxBytes * 4 / 3) + 1024,
    schema: { params: nameParam, body: { type: 'object', required: ['data'], additionalProperties: false, properties: { data: { type: 'string', maxLength: Math.ceil(deps.maxBytes * 4 / 3) + 4 } } } },
  }, async (req) => {
    const c = await managed(req);
    const bytes = Buffer.from((req.body as { data: string }).data, 'base64');
    if (bytes.length === 0) throw badRequest('data: base64 of a WAV, Ogg or MP3 file');
    if (bytes.length > deps.maxBytes) throw new AppError('payload_too_large', `the sound is larger than ${deps.maxBytes} bytes`);
    const type = sniffAudio(bytes);
    if (!type) throw new AppError('validation_failed', 'data: the sound must be a WAV, Ogg or MP3 file');
    await deps.store.upload(c.id, type, bytes);
    return answer(c);
  });

  app.get('/api/v1/channels/:name/alert-sound/file', { schema: { params: nameParam } }, async (req, reply) => {
    const c = await platform.channels.require((req.params as { name: string }).name);
    const f = await deps.store.custom(c.id);
    if (!f) throw notFound('this channel has no uploaded sound');
    return reply.header('content-type', f.type).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(f.data);
  });
}
