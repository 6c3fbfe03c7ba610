/**
 * Channel names shared by the Pusher and Centrifugo protocols.
 *
 * Pusher names cannot contain ':', so one rule maps them onto onair channels:
 *
 *   [private-|presence-]{namespace}-{rest}  <->  {namespace}:{rest}   when {namespace} is a configured chat namespace
 *   [private-|presence-]{name}              <->  {name}               otherwise (the no-namespace channel "{name}")
 *
 * The prefix is Pusher's channel type (who may subscribe, whether presence applies); it is
 * not part of the onair name, so `chat-demo`, `private-chat-demo` and `presence-chat-demo`
 * are three Pusher views of the one onair channel `chat:demo`. When several namespaces match,
 * the longest wins (`a-b-c` with namespaces `a` and `a-b` is `a-b:c`).
 */

export type PusherChannelType = 'public' | 'private' | 'presence';

export const PRIVATE_PREFIX = 'private-';
export const PRESENCE_PREFIX = 'presence-';
/** ENCRYPTED_PREFIX marks end-to-end encrypted channels, which onair does not serve. */
export const ENCRYPTED_PREFIX = 'private-encrypted-';
/** MAX_PUSHER_NAME_LENGTH is Pusher's limit on channel names. */
export const MAX_PUSHER_NAME_LENGTH = 164;
/** The characters Pusher allows in channel names. */
const NAME_RE = /^[A-Za-z0-9_\-=@,.;]+$/;
/** NAMESPACE_SEPARATOR joins namespace and rest in onair names; '-' does in Pusher names. */
const ONAIR_SEPARATOR = ':';
const PUSHER_SEPARATOR = '-';

/**
 * A signed-in user's server-to-user channel (`#server-to-user-{id}`, what pusher-js joins after
 * `pusher:signin` and `sendToUser` triggers) is the user-limited no-namespace onair channel
 * `server-to-user#{id}`: only that user may subscribe, on either protocol.
 */
export const SERVER_TO_USER_PREFIX = '#server-to-user-';
export const USER_CHANNEL_PREFIX = 'server-to-user#';

export interface MappedChannel {
  /** The Pusher name as given. */
  name: string;
  type: PusherChannelType;
  /** The onair channel name. */
  channel: string;
  /** For a server-to-user channel: the user whose channel it is. */
  user?: string;
}

/** isValidPusherName checks Pusher's character set and length. */
export function isValidPusherName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_PUSHER_NAME_LENGTH && NAME_RE.test(name);
}

/** channelTypeOf reads the type prefix of a Pusher channel name. */
export function channelTypeOf(name: string): PusherChannelType {
  if (name.startsWith(PRESENCE_PREFIX)) return 'presence';
  if (name.startsWith(PRIVATE_PREFIX)) return 'private';
  return 'public';
}

/** prefixOf is the name prefix of a channel type. */
export function prefixOf(type: PusherChannelType): string {
  return type === 'presence' ? PRESENCE_PREFIX : type === 'private' ? PRIVATE_PREFIX : '';
}

/**
 * ChannelMapper maps Pusher names to onair channels and back for a set of namespaces
 * (the keys of `chat.namespaces`; the empty namespace is the no-namespace channel).
 */
export class ChannelMapper {
  /** Non-empty namespaces, longest first (the longest match wins). */
  private readonly namespaces: string[];

  constructor(namespaces: Iterable<string>) {
    this.namespaces = [...namespaces].filter((n) => n !== '').sort((a, b) => b.length - a.length);
  }

  /** toOnair maps a Pusher name, or null when it is not a valid (or a served) Pusher name. */
  toOnair(name: string): MappedChannel | null {
    if (name.startsWith(SERVER_TO_USER_PREFIX)) {
      const user = name.slice(SERVER_TO_USER_PREFIX.length);
      if (!isValidPusherName(user) || name.length > MAX_PUSHER_NAME_LENGTH) return null;
      return { name, type: 'public', channel: USER_CHANNEL_PREFIX + user, user };
    }
    if (!isValidPusherName(name) || name.startsWith(ENCRYPTED_PREFIX)) return null;
    const type = channelTypeOf(name);
    const base = name.slice(prefixOf(type).length);
    if (base === '') return null;
    for (const ns of this.namespaces) {
      if (base.length > ns.length + 1 && base.startsWith(ns) && base[ns.length] === PUSHER_SEPARATOR) {
        return { name, type, channel: ns + ONAIR_SEPARATOR + base.slice(ns.length + 1) };
      }
    }
    return { name, type, channel: base };
  }
}

/**
 * toPusherName is the Pusher name of an onair channel for a channel type: the first ':'
 * becomes '-'. (It is the inverse of toOnair for every channel a Pusher client can reach.)
 */
export function toPusherName(channel: string, type: PusherChannelType): string {
  if (channel.startsWith(USER_CHANNEL_PREFIX)) return SERVER_TO_USER_PREFIX + channel.slice(USER_CHANNEL_PREFIX.length);
  const i = channel.indexOf(ONAIR_SEPARATOR);
  const base = i < 0 ? channel : channel.slice(0, i) + PUSHER_SEPARATOR + channel.slice(i + 1);
  return prefixOf(type) + base;
}
