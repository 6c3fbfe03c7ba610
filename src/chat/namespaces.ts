/**
 * Channel names and namespace options: `[$]namespace:name[#user,user]`.
 */
import type { NamespaceOptions } from '../config/schema.js';
import { LruMap } from './lru.js';

/** NAME_CACHE_SIZE bounds the parsed channel names kept (names come from clients). */
const NAME_CACHE_SIZE = 10_000;

/** PRIVATE_PREFIX marks channels that need a subscription token. */
export const PRIVATE_PREFIX = '$';
/** NAMESPACE_SEPARATOR splits the namespace from the rest of a channel name. */
export const NAMESPACE_SEPARATOR = ':';
/** USER_BOUNDARY starts the list of users allowed in a user-limited channel. */
export const USER_BOUNDARY = '#';
const USER_SEPARATOR = ',';
/** MAX_CHANNEL_LENGTH bounds channel names. */
export const MAX_CHANNEL_LENGTH = 255;
/** HISTORY_META_TTL_SECONDS keeps a stream's epoch and offset after its last publication. */
export const HISTORY_META_TTL_SECONDS = 30 * 24 * 3600;

/** REQUIRE_CHANNEL_BY_DEFAULT: namespaces whose channels need an existing onair channel unless requireChannel says otherwise. */
export const REQUIRE_CHANNEL_BY_DEFAULT: ReadonlySet<string> = new Set(['chat', 'effects', 'captions']);

/** requiresChannel tells whether a namespace's channels exist only for existing onair channels. */
export function requiresChannel(namespace: string, options: NamespaceOptions): boolean {
  return options.requireChannel ?? REQUIRE_CHANNEL_BY_DEFAULT.has(namespace);
}

/** ChannelInfo is what the server derives from a channel name. */
export interface ChannelInfo {
  namespace: string;
  options: NamespaceOptions;
  private: boolean;
  /** Users allowed by a `#` suffix, or null when not user-limited. */
  users: string[] | null;
}

/** Namespaces resolves channel names against configured namespace options. */
export class Namespaces {
  private readonly map: Map<string, NamespaceOptions>;
  private readonly cache = new LruMap<string, ChannelInfo | null>(NAME_CACHE_SIZE);

  constructor(namespaces: Record<string, NamespaceOptions>) {
    this.map = new Map(Object.entries(namespaces));
  }

  /** resolve returns the channel's info, or null for an invalid name or an unknown namespace. */
  resolve(channel: string): ChannelInfo | null {
    const cached = this.cache.get(channel);
    if (cached !== undefined) return cached;
    const info = this.compute(channel);
    this.cache.set(channel, info);
    return info;
  }

  private compute(channel: string): ChannelInfo | null {
    if (channel === '' || channel.length > MAX_CHANNEL_LENGTH) return null;
    let rest = channel;
    const priv = rest.startsWith(PRIVATE_PREFIX);
    if (priv) rest = rest.slice(PRIVATE_PREFIX.length);
    const sep = rest.indexOf(NAMESPACE_SEPARATOR);
    const namespace = sep >= 0 ? rest.slice(0, sep) : '';
    const options = this.map.get(namespace);
    if (!options) return null;
    let users: string[] | null = null;
    const hash = rest.lastIndexOf(USER_BOUNDARY);
    if (hash >= 0) users = rest.slice(hash + 1).split(USER_SEPARATOR).filter((u) => u !== '');
    return { namespace, options, private: priv, users };
  }
}
