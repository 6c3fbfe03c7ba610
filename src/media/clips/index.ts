/**
 * Clips feature: `wireClips(parts)` (media role) adds the clip routes and the cutting
 * service; it uses the recorder and recording store of src/media/record/wiring.ts.
 */
import { join } from 'node:path';
import { Gauge, Histogram } from 'prom-client';
import type { ServerParts } from '../../server.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { recordingsRootOf } from '../record/recorder.js';
import { recordingParts } from '../record/wiring.js';
import { ClipStore } from './db.js';
import { clipRoutes } from './routes.js';
import { ClipService } from './service.js';

export { ClipService, type ClipActor, type ClipServiceOptions } from './service.js';
export { ClipStore, toClip, clipFileUrl, type Clip, type ClipsTable, type ClipState } from './db.js';
export { clipRoutes } from './routes.js';
export { selectClipRuns, cutLiveTail, cutVodRange, mediaEndSeconds } from './cut.js';

/** clipsRootOf is `${dataDir}/clips` (outside the recordings, so retention never removes a clip). */
export const clipsRootOf = (dataDir: string) => join(dataDir, 'clips');

const services = new WeakMap<ServerParts, ClipService>();

/** clipsOf gives the clip service of a server once wired (tests, CLI). */
export function clipsOf(parts: ServerParts): ClipService | undefined {
  return services.get(parts);
}

/** wireClips is the ROLE_WIRINGS step (media role): clip routes and the cutting service. */
export function wireClips(parts: ServerParts): ClipService {
  const existing = services.get(parts);
  if (existing) return existing;
  const rec = recordingParts(parts);
  const { config } = parts;
  const store = new ClipStore(parts.platform.db);
  const readySeconds = new Histogram({
    name: 'onair_clip_ready_seconds', help: 'Time from a clip request to its ready (or failed) state, by kind (live, vod)', labelNames: ['kind', 'outcome'],
    buckets: [0.5, 1, 1.5, 2, 3, 5, 10, 20, 60], registers: [parts.registry],
  });
  const service = new ClipService({
    store, recordings: rec.store, recordingsRoot: recordingsRootOf(config), clipsRoot: clipsRootOf(config.dataDir), config,
    channels: parts.platform.channels, social: parts.platform.social,
    // Looked up per request: the hub and recorder exist once the media services started.
    isLive: (ch) => parts.hub?.isLive(ch) ?? false,
    activeDir: (ch) => rec.recorder?.activeDir(ch),
    ffmpeg: locateFfmpeg(config.ffmpegPath)?.path, nodeId: rec.nodeId, logger: parts.logger.child({ part: 'clips' }),
    onFinished: (kind, outcome, seconds) => readySeconds.observe({ kind, outcome }, seconds),
  });
  new Gauge({
    name: 'onair_clips_in_progress', help: 'Clips waiting or being cut on this node', registers: [parts.registry],
    collect() { this.set(service.inProgress); },
  });
  services.set(parts, service);
  clipRoutes(parts.app, { api: parts.api, store, recordings: rec.store, service });
  parts.addService({ name: 'clips', start: () => service.start(), stop: () => service.stop() });
  return service;
}
