/**
 * ChannelDirectory answers whether an onair channel exists, for namespaces with `requireChannel`
 * (chat:, effects:, captions: by default): a chat channel such as `chat:demo` exists only while
 * the onair channel `demo` does, so a client cannot make up channel names by the thousand.
 */
import { LruMap } from './lru.js';

/** ChannelLookup asks the platform (the database) whether an onair channel exists. */
export type ChannelLookup = (name: string) => Promise<boolean>;

/** ChannelDirectoryOptions bound the existence cache. */
export interface ChannelDirectoryOptions {
  /** Names remembered, existing or not (least recently used forgotten first). */
  maxEntries: number;
  /** How long an answer is reused (ms); a create or delete on this node drops it at once. */
  ttlMs: number;
  now?: () => number;
}

/** ChannelDirectory caches channel existence, positive and negative, with a short TTL. */
export class ChannelDirectory {
  private readonly known: LruMap<string, { exists: boolean; at: number }>;
  private readonly loading = new Map<string, Promise<boolean>>();
  private readonly now: () => number;

  constructor(private readonly lookup: ChannelLookup, private readonly opts: ChannelDirectoryOptions) {
    this.known = new LruMap(opts.maxEntries);
    this.now = opts.now ?? Date.now;
  }

  /** exists answers from the cache or asks the platform once, however many callers wait. */
  async exists(name: string): Promise<boolean> {
    const hit = this.known.get(name);
    if (hit && this.now() - hit.at < this.opts.ttlMs) return hit.exists;
    let p = this.loading.get(name);
    if (!p) {
      const load = this.lookup(name).then((exists) => {
        // A create or delete meanwhile (invalidate) dropped the load: keep its answer out of the cache.
        if (this.loading.get(name) === load) this.known.set(name, { exists, at: this.now() });
        return exists;
      }).finally(() => {
        if (this.loading.get(name) === load) this.loading.delete(name);
      });
      p = load;
      // The in-flight map is bounded by the callers waiting on it, which the rate limit bounds.
      this.loading.set(name, p);
    }
    return p;
  }

  /** invalidate forgets a name (its channel was created or deleted). */
  invalidate(name: string): void {
    this.known.delete(name);
    this.loading.delete(name);
  }

  /** size is how many names are cached (tests, metrics). */
  get size(): number {
    return this.known.size;
  }
}

/** onairChannelOf is the onair channel a chat channel belongs to: `chat:demo#a,b` → `demo`. */
export function onairChannelOf(channel: string, namespace: string): string {
  let rest = channel.startsWith('$') ? channel.slice(1) : channel;
  if (namespace !== '') rest = rest.slice(namespace.length + 1);
  const hash = rest.indexOf('#');
  return hash >= 0 ? rest.slice(0, hash) : rest;
}
