/**
 * RemoteThumbnails: the live thumbnail of a channel published on another media node, for this
 * node's /live/{channel}/thumbnail.jpg. Only the origin makes thumbnails (an edge stream runs no
 * ffmpeg); an edge fetches the origin's JPEG and keeps it as long as the origin says it is fresh.
 */
import type { ClusterLiveView } from './live-view.js';

/** How long an edge waits for the origin's thumbnail. */
const FETCH_TIMEOUT_MS = 2_000;
/** The largest JPEG taken from an origin. */
const MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024;

export interface RemoteThumbnail {
  jpeg: Buffer;
  /** Epoch ms when the origin made it (its Last-Modified), else when it was fetched. */
  at: number;
}

interface Cached {
  fetchedAt: number;
  thumb: RemoteThumbnail | undefined;
}

export class RemoteThumbnails {
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<RemoteThumbnail | undefined>>();

  constructor(
    private readonly view: Pick<ClusterLiveView, 'remote'>,
    /** record.thumbnailIntervalSeconds in ms: a fetched thumbnail is kept this long. */
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** get gives the thumbnail of a channel live on another node (undefined: not live elsewhere, or none yet). */
  get(channel: string): Promise<RemoteThumbnail | undefined> {
    const remote = this.view.remote(channel);
    const base = typeof remote?.entry.nodeUrl === 'string' ? remote.entry.nodeUrl : undefined;
    if (!base) {
      this.cache.delete(channel);
      return Promise.resolve(undefined);
    }
    const c = this.cache.get(channel);
    if (c && this.now() - c.fetchedAt < this.maxAgeMs) return Promise.resolve(c.thumb);
    let p = this.inflight.get(channel);
    if (!p) {
      p = this.fetchFrom(base, channel).finally(() => this.inflight.delete(channel));
      this.inflight.set(channel, p);
    }
    return p;
  }

  private async fetchFrom(base: string, channel: string): Promise<RemoteThumbnail | undefined> {
    let thumb: RemoteThumbnail | undefined;
    try {
      const res = await fetch(`${base.replace(/\/+$/, '')}/live/${encodeURIComponent(channel)}/thumbnail.jpg`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.ok && body.length > 0 && body.length <= MAX_THUMBNAIL_BYTES) {
        const modified = Date.parse(res.headers.get('last-modified') ?? '');
        thumb = { jpeg: body, at: Number.isFinite(modified) ? modified : this.now() };
      }
    } catch {
      thumb = undefined; // the origin is away: no thumbnail this time, asked again after maxAge
    }
    this.cache.set(channel, { fetchedAt: this.now(), thumb });
    return thumb;
  }
}
