/**
 * The origin side of an edge pull: GET /cluster/live/{channel}.flv serves a channel published on
 * this node as HTTP-FLV to another media node that proves it is one with the cluster secret
 * (secret.ts). The pull is one hub viewer of protocol `edge`: not counted among viewers and not
 * bound by the per-address viewer caps. Only local streams are served, so pulls never chain
 * through another edge.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../observability/logger.js';
import type { StreamHub } from '../hub/hub.js';
import { HttpFlvViewer, channelFromFlvPath } from '../flv/http-flv.js';
import { AppError } from '../../http/errors.js';
import { CLUSTER_SECRET_HEADER, clusterSecretMatches } from './secret.js';

export const CLUSTER_PULL_PREFIX = '/cluster/live/';

/** clusterPullPath is the origin path an edge pulls a channel from. */
export function clusterPullPath(channel: string): string {
  return `${CLUSTER_PULL_PREFIX}${encodeURIComponent(channel)}.flv`;
}

export interface PullRouteDeps {
  hub: StreamHub;
  secret: string;
  logger: Logger;
}

/** registerClusterPullRoute adds GET /cluster/live/:file to the node's HTTP app. */
export function registerClusterPullRoute(app: FastifyInstance, d: PullRouteDeps): void {
  app.get<{ Params: { file: string } }>(`${CLUSTER_PULL_PREFIX}:file`, (req, reply) => {
    const channel = channelFromFlvPath(`/live/${req.params.file}`);
    if (!channel) return reply.callNotFound();
    const given = req.headers[CLUSTER_SECRET_HEADER];
    if (given === undefined) {
      d.logger.warn({ channel, ip: req.clientIp }, 'cluster pull refused: no cluster secret');
      throw new AppError('unauthorized', `a cluster pull needs the ${CLUSTER_SECRET_HEADER} header`);
    }
    if (!clusterSecretMatches(given, d.secret)) {
      d.logger.warn({ channel, ip: req.clientIp }, 'cluster pull refused: wrong cluster secret');
      throw new AppError('forbidden', 'wrong cluster secret');
    }
    const stream = d.hub.streams.get(channel);
    if (!stream) throw new AppError('not_found', `channel ${channel} is not live on this node`);
    reply.hijack();
    const viewer = new HttpFlvViewer(req.raw.socket, 'edge');
    stream.addViewer(viewer);
    d.logger.info({ channel, ip: req.clientIp }, 'edge pull started');
    req.raw.socket.once('close', () => d.logger.info({ channel, ip: req.clientIp }, 'edge pull ended'));
  });
}
