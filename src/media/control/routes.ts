/**
 * Stream control routes (docs/restream.md):
 *
 *   POST   /api/v1/channels/{name}/live/end        {reason?, blockSeconds? 0..86400, rotateKey?}  owner or admin
 *   GET    /api/v1/channels/{name}/live/block      → {blockedUntil, reason}                       owner or admin
 *   DELETE /api/v1/channels/{name}/live/block      → {lifted}                                     owner or admin
 *   GET    /api/v1/streams                         → {mediaHere, streams: [...]}                  admin
 *          (with redis.url: every media node's streams, each with `node`; plus node, nodes, clusterError?)
 *   GET    /api/v1/channels/{name}/restreams       → {restreams: [...], max}                      owner or admin
 *   POST   /api/v1/channels/{name}/restreams       {name, url, streamKey?, enabled?} → 201        owner or admin
 *   PATCH  /api/v1/channels/{name}/restreams/{id}  {name?, url?, streamKey?, enabled?}            owner or admin
 *   DELETE /api/v1/channels/{name}/restreams/{id}  → 204                                          owner or admin
 *
 * Managers get 403: they moderate chat; ending the broadcast or sending it elsewhere is the
 * broadcaster's (or an admin's) decision.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../../http/routes/context.js';
import type { ChannelsTable } from '../../platform/db/schema.js';
import { forbidden } from '../../http/errors.js';
import { END_REASON_MAX_LENGTH, MAX_BLOCK_SECONDS, type ControlActor, type StreamControl } from './service.js';
import { RESTREAM_KEY_MAX_LENGTH, RESTREAM_NAME_MAX_LENGTH, RESTREAM_URL_MAX_LENGTH } from './targets.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;
const targetParam = { type: 'object', required: ['name', 'id'], properties: { name: { type: 'string', maxLength: 64 }, id: { type: 'string', maxLength: 64 } } } as const;
const targetFields = {
  name: { type: 'string', minLength: 1, maxLength: RESTREAM_NAME_MAX_LENGTH },
  url: { type: 'string', minLength: 1, maxLength: RESTREAM_URL_MAX_LENGTH },
  streamKey: { type: 'string', minLength: 1, maxLength: RESTREAM_KEY_MAX_LENGTH },
  enabled: { type: 'boolean' },
} as const;

export interface ControlRouteDeps {
  api: ApiContext;
  control: StreamControl;
  maxTargetsPerChannel: number;
}

/** controlRoutes registers the stream control and restream routes. */
export function controlRoutes(app: FastifyInstance, d: ControlRouteDeps): void {
  const { api, control } = d;

  /** ownerOrAdmin loads the channel and says who acts: its owner, or an admin; else 401/403. */
  const ownerOrAdmin = async (req: FastifyRequest): Promise<{ channel: ChannelsTable; actor: ControlActor }> => {
    const p = await api.auth.required(req);
    const channel = await api.platform.channels.require((req.params as { name: string }).name);
    if (p.kind === 'admin-token') return { channel, actor: { by: 'admin', userId: '' } };
    const roles = await api.platform.channels.rolesOf(channel.id, p.user.id);
    if (roles.includes('owner')) return { channel, actor: { by: 'owner', userId: p.user.id } };
    if (p.user.is_admin === 1) return { channel, actor: { by: 'admin', userId: p.user.id } };
    throw forbidden('only the channel owner or an admin may do this');
  };

  app.post('/api/v1/channels/:name/live/end', {
    schema: {
      params: nameParam,
      body: {
        type: ['object', 'null'], additionalProperties: false,
        properties: { reason: { type: 'string', maxLength: END_REASON_MAX_LENGTH }, blockSeconds: { type: 'integer', minimum: 0, maximum: MAX_BLOCK_SECONDS }, rotateKey: { type: 'boolean' } },
      },
    },
  }, async (req) => {
    const { channel, actor } = await ownerOrAdmin(req);
    const b = (req.body ?? {}) as { reason?: string; blockSeconds?: number; rotateKey?: boolean };
    return control.end(channel, actor, b);
  });

  app.get('/api/v1/channels/:name/live/block', { schema: { params: nameParam } }, async (req) => {
    const { channel } = await ownerOrAdmin(req);
    return control.blockOf(channel);
  });

  app.delete('/api/v1/channels/:name/live/block', { schema: { params: nameParam } }, async (req) => {
    const { channel, actor } = await ownerOrAdmin(req);
    return { lifted: await control.unblock(channel, actor) };
  });

  app.get('/api/v1/streams', async (req) => {
    await api.auth.admin(req);
    return control.streamsView();
  });

  app.get('/api/v1/channels/:name/restreams', { schema: { params: nameParam } }, async (req) => {
    const { channel } = await ownerOrAdmin(req);
    return { restreams: await control.listTargets(channel), max: d.maxTargetsPerChannel };
  });

  app.post('/api/v1/channels/:name/restreams', {
    schema: { params: nameParam, body: { type: 'object', required: ['name', 'url'], additionalProperties: false, properties: targetFields } },
  }, async (req, reply) => {
    const { channel } = await ownerOrAdmin(req);
    const target = await control.createTarget(channel, req.body as { name: string; url: string; streamKey?: string; enabled?: boolean });
    return reply.status(201).send({ restream: target });
  });

  app.patch('/api/v1/channels/:name/restreams/:id', {
    schema: { params: targetParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: targetFields } },
  }, async (req) => {
    const { channel } = await ownerOrAdmin(req);
    return { restream: await control.updateTarget(channel, (req.params as { id: string }).id, req.body as never) };
  });

  app.delete('/api/v1/channels/:name/restreams/:id', { schema: { params: targetParam } }, async (req, reply) => {
    const { channel } = await ownerOrAdmin(req);
    await control.deleteTarget(channel, (req.params as { id: string }).id);
    return reply.status(204).send();
  });
}
