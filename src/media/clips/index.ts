/**
 * Clips feature: `clipsFeature` (media role) adds the clip routes and the cutting service;
 * it uses the recorder and recording store of src/media/record/wiring.ts as declared deps.
 */
import { join } from 'node:path';
import { Gauge, Histogram } from 'prom-client';
import type { Feature } from '../../app/feature.js';
import type { StreamHub } from '../hub/hub.js';
import { locateFfmpeg } from '../ffmpeg.js';
import { recordingsRootOf } from '../record/recorder.js';
import type { Recordings, RecorderApi } from '../record/wiring.js';
import { ClipStore, clipsMigrations } from './db.js';
import { clipRoutes } from './routes.js';
import { ClipService } from './service.js';

export { ClipService, type ClipActor, type ClipServiceOptions } from './service.js';
export { ClipStore, toClip, clipFileUrl, type Clip, type ClipsTable, type ClipState } from './db.js';
export { clipRoutes } from './routes.js';
export { selectClipRuns, cutLiveTail, cutVodRange, mediaEndSeconds } from './cut.js';

/** clipsRootOf is `${dataDir}/clips` (outside the recordings, so retention never removes a clip). */
export const clipsRootOf = (dataDir: string) => join(dataDir, 'clips');

/** clipsFeature is the clip routes and the cutting service (media role), on the recorder's recordings. */
export const clipsFeature: Feature<'clips', { recordings: Recordings; hub: StreamHub; recorder?: RecorderApi }, ClipService> = {
  name: 'clips',
  roles: ['media'],
  migrations: clipsMigrations,
  deps: { recordings: 'required', hub: 'required', recorder: 'optional' },
  create(base, { recordings, hub, recorder }) {
    const { config } = base;
    const store = new ClipStore(base.platform.db);
    const readySeconds = new Histogram({
      name: 'onair_clip_ready_seconds', help: 'Time from a clip request to its ready (or failed) state, by kind (live, vod)', labelNames: ['kind', 'outcome'],
      buckets: [0.5, 1, 1.5, 2, 3, 5, 10, 20, 60], registers: [base.registry],
    });
    const service = new ClipService({
      store, recordings: recordings.store, recordingsRoot: recordingsRootOf(config), clipsRoot: clipsRootOf(config.dataDir), config,
      channels: base.platform.channels, social: base.platform.social,
      isLive: (ch) => hub.isLive(ch),
      activeDir: (ch) => recorder?.activeDir(ch),
      ffmpeg: locateFfmpeg(config.ffmpegPath)?.path, nodeId: recordings.nodeId, logger: base.logger.child({ part: 'clips' }),
      onFinished: (kind, outcome, seconds) => readySeconds.observe({ kind, outcome }, seconds),
    });
    new Gauge({
      name: 'onair_clips_in_progress', help: 'Clips waiting or being cut on this node', registers: [base.registry],
      collect() { this.set(service.inProgress); },
    });
    clipRoutes(base.http, { api: base.api, store, recordings: recordings.store, service });
    return { api: service, start: () => service.start(), stop: () => service.stop() };
  },
};
