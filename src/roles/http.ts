import { ingestRoutes } from '../http/routes/ingest.js';
import { webRoutes } from '../http/web.js';
import type { Feature } from '../app/feature.js';

/** ingestFeature is GET /api/v1/ingest: the ports this deployment publishes on, for the studio and tools. */
export const ingestFeature: Feature<'ingest', {}, void> = {
  name: 'ingest',
  roles: ['api'],
  deps: {},
  create(base) {
    ingestRoutes(base.http, base.config, base.ports);
    return { api: undefined };
  },
};

/** webFeature serves the built front-end (dist/web) and its page routes; the API and /live/* stay as they are. */
export const webFeature: Feature<'web', {}, void> = {
  name: 'web',
  roles: ['web'],
  deps: {},
  create(base) {
    webRoutes(base.http, { dir: base.config.web.dir });
    return { api: undefined };
  },
};
