/**
 * The live ABR feature (media role): the manager attached to the hub, the LL-HLS
 * rendition mapping, the publish guard on rendition names, and the per-channel setting API:
 *
 *   GET /api/v1/channels/{name}/abr   → { abr: { enabled, default, effective, ladder, transcoder } }
 *   PUT /api/v1/channels/{name}/abr   { enabled: true | false | null }  (owner or admin; null = follow the default)
 */
import type { FastifyInstance } from 'fastify';
import type { Feature } from '../../app/feature.js';
import type { MediaService } from '../index.js';
import type { HlsService } from '../hls/index.js';
import { actorOf } from '../../http/auth.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { AbrManager, type AbrChannelInfo } from './manager.js';
import { AbrSettings, abrMigrations } from './settings.js';
import type { ApiContext } from '../../http/routes/context.js';

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

/** abrFeature is live ABR: ffmpeg renditions {channel}_{rung} fed back into the hub and listed in the LL-HLS multivariant playlist. */
export const abrFeature: Feature<'abr', { media: MediaService; hls?: HlsService }, AbrManager> = {
  name: 'abr',
  roles: ['media'],
  migrations: abrMigrations,
  deps: { media: 'required', hls: 'optional' },
  create(base, { media, hls }) {
    const { config, logger } = base;
    const settings = new AbrSettings(base.platform.db);
    const isEnabled = async (channel: string): Promise<boolean> => {
      const row = await base.platform.channels.find(channel);
      if (!row) return false;
      return (await settings.get(row.id)) ?? config.media.abr.enabled;
    };
    const manager = new AbrManager({
      hub: media.hub, config, logger, registry: base.registry, ffmpeg: locateFfmpeg(config.ffmpegPath)?.path, isEnabled,
    });
    hls?.mapRenditions((name) => manager.renditionOf(name));
    const removeGuard = media.addPublishGuard((channel) => manager.publishRefusal(channel));
    abrRoutes(base.http, {
      api: base.api, settings, defaultEnabled: config.media.abr.enabled, ladder: config.media.abr.ladder,
      refresh: (channel) => manager.refresh(channel),
      info: (channel) => manager.info(channel)[0],
    });
    return {
      api: manager,
      start: () => manager.start(),
      stop: async () => {
        removeGuard();
        hls?.mapRenditions(undefined);
        await manager.stop();
      },
    };
  },
};
