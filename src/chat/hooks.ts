/**
 * Contracts between the chat server and the features that hook into it
 * (moderation, super chats, effects). The chat server calls these; it never
 * imports the features themselves.
 */

/** ChatUserInfo is what a connection token's `info` claim carries about the user. */
export interface ChatUserInfo {
  /** Display name. */
  name?: string;
  /** Global admin flag. */
  admin?: boolean;
  /** Per-channel roles: channel name → role list ("owner", "manager", "subscriber", "follower"). */
  roles?: Record<string, string[]>;
  [key: string]: unknown;
}

/** PublishContext describes a client publication before it reaches the channel. */
export interface PublishContext {
  /** Full channel name, e.g. "chat:demo". */
  channel: string;
  clientId: string;
  /** User id from the token's `sub`; empty for anonymous. */
  user: string;
  info: ChatUserInfo | undefined;
  data: unknown;
}

/** PublishDecision tells the chat server what to do with a publication. */
export type PublishDecision =
  | { action: 'allow'; data?: unknown }
  | { action: 'reject'; code: number; message: string; temporary?: boolean }
  /** The hook consumed it (e.g. a `/ban` command); the sender gets `reply` as the publish result. */
  | { action: 'handled'; reply?: unknown };

/** PublishHook may inspect, rewrite or refuse client publications. */
export interface PublishHook {
  onPublish(ctx: PublishContext): Promise<PublishDecision>;
}

/** RpcHandler serves `rpc` commands of one method name. */
export type RpcHandler = (ctx: { clientId: string; user: string; info: ChatUserInfo | undefined; data: unknown }) => Promise<unknown>;

/** ServerPublisher is the narrow chat interface other roles use to push into channels. */
export interface ServerPublisher {
  /** publish sends data to a channel as the server; resolves with its history position. */
  publish(channel: string, data: unknown): Promise<{ offset?: number; epoch?: string }>;
  /** disconnectUser closes every connection of a user (e.g. after a ban). */
  disconnectUser?(user: string, code: number, reason: string): Promise<void>;
  /** unsubscribeUser removes a user from a channel on every node. */
  unsubscribeUser?(user: string, channel: string): Promise<void>;
}

/**
 * HistoryFilter hides publications from history and recovery replies (e.g. chat messages a
 * manager deleted). It gets a channel's publications oldest first, as JSON strings in `data`,
 * and returns the ones to show; it must not reorder them.
 */
export type HistoryFilter = (channel: string, publications: { data: string; offset?: number }[]) => { data: string; offset?: number }[];

/**
 * PublishListener sees each publication once, on the node that published it (its JSON data), after
 * the broker took it; it must not throw or block (e.g. chat replay queues it for storage).
 */
export type PublishListener = (channel: string, data: string) => void;

/** ChatExtensionPoint is what features (moderation, super chats, effects) get from the chat role. */
export interface ChatExtensionPoint {
  publisher: ServerPublisher;
  addPublishHook(hook: PublishHook): void;
  registerRpc(method: string, handler: RpcHandler): void;
  /** addHistoryFilter applies a filter to every history and recovery reply of this node. */
  addHistoryFilter?(filter: HistoryFilter): void;
  /** addPublishListener shows every publication this node makes (client and server ones). */
  addPublishListener?(listener: PublishListener): void;
}
