/**
 * Server wiring of live ABR (media role): the manager attached to the hub, the LL-HLS
 * rendition mapping, the publish guard on rendition names, and the per-channel setting API:
 *
 *   GET /api/v1/channels/{name}/abr   → { abr: { enabled, default, effective, ladder, transcoder } }
 *   PUT /api/v1/channels/{name}/abr   { enabled: true | false | null }  (owner or admin; null = follow the default)
 */
import type { FastifyInstance } from 'fastify';
import type { ServerParts } from '../../server.js';
import { actorOf } from '../../http/auth.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { AbrManager, type AbrChannelInfo } from './manager.js';
import { AbrSettings } from './settings.js';
import type { ApiContext } from '../../http/routes/context.js';

const managers = new WeakMap<ServerParts, AbrManager>();

/** abrOf gives a server's ABR manager (media role), if wired. */
export function abrOf(parts: ServerParts): AbrManager | undefined {
  return managers.get(parts);
}

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 64 } } } as const;

export interface AbrRouteDeps {
  api: ApiContext;
  settings: AbrSettings;
  defaultEnabled: boolean;
  ladder: readonly { name: string; height: number; videoKbps: number }[];
  /** Applies a changed setting to a live channel at once. */
  refresh(channel: string): Promise<void>;
  info(channel: string): AbrChannelInfo | undefined;
}

/** abrRoutes registers the per-channel ABR setting routes. */
export function abrRoutes(app: FastifyInstance, d: AbrRouteDeps): void {
  const { api, settings } = d;
  const view = async (channel: { id: string; name: string }) => {
    const own = await settings.get(channel.id);
    return {
      enabled: own ?? null,
      default: d.defaultEnabled,
      effective: own ?? d.defaultEnabled,
      ladder: d.ladder,
      transcoder: d.info(channel.name) ?? null,
    };
  };

  app.get('/api/v1/channels/:name/abr', { schema: { params: nameParam } }, async (req) => {
    const c = await api.platform.channels.require((req.params as { name: string }).name);
    return { abr: await view(c) };
  });

  app.put('/api/v1/channels/:name/abr', {
    schema: { params: nameParam, body: { type: 'object', required: ['enabled'], additionalProperties: false, properties: { enabled: { type: ['boolean', 'null'] } } } },
  }, async (req) => {
    const p = await api.auth.required(req);
    const c = await api.platform.channels.require((req.params as { name: string }).name);
    await api.platform.channels.assertCanManage(c, actorOf(p), 'owner');
    await settings.set(c.id, (req.body as { enabled: boolean | null }).enabled);
    await d.refresh(c.name);
    return { abr: await view(c) };
  });
}

/** wireAbr (media role): live ABR renditions of channels that have it on. */
export function wireAbr(parts: ServerParts): void {
  const { config, logger } = parts;
  const media = parts.media;
  if (!media) return;
  const settings = new AbrSettings(parts.platform.db);
  const isEnabled = async (channel: string): Promise<boolean> => {
    const row = await parts.platform.channels.find(channel);
    if (!row) return false;
    return (await settings.get(row.id)) ?? config.media.abr.enabled;
  };
  const manager = new AbrManager({
    hub: media.hub, config, logger, registry: parts.registry, ffmpeg: locateFfmpeg(config.ffmpegPath)?.path, isEnabled,
  });
  managers.set(parts, manager);
  parts.hls?.mapRenditions((name) => manager.renditionOf(name));
  const removeGuard = media.addPublishGuard((channel) => manager.publishRefusal(channel));
  abrRoutes(parts.app, {
    api: parts.api, settings, defaultEnabled: config.media.abr.enabled, ladder: config.media.abr.ladder,
    refresh: (channel) => manager.refresh(channel),
    info: (channel) => manager.info(channel)[0],
  });
  parts.addService({
    name: 'abr',
    start: () => manager.start(),
    stop: async () => {
      removeGuard();
      parts.hls?.mapRenditions(undefined);
      await manager.stop();
    },
  });
}
