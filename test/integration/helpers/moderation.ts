// Shared helpers of the moderation integration suites: SDK clients with platform tokens, waits.
import { WebSocket } from 'ws';
import { Centrifuge, type PublicationContext, type Subscription } from 'centrifuge';
import { chatInfoFor, signChatToken } from '../../../src/platform/chat-tokens.js';
import type { Platform } from '../../../src/platform/index.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface ChatUser {
  client: Centrifuge;
  sub: Subscription;
  pubs: any[];
  unsubscribed: { code: number; reason: string }[];
  /** say publishes {type:'message', text} and resolves, or rejects with {code, message}. */
  say(text: string): Promise<unknown>;
  rpc(method: string, data: unknown): Promise<any>;
  close(): void;
}

/** connectUser connects the SDK with a token signed like the platform does and subscribes to chat:{channel}. */
export async function connectUser(wsUrl: string, secret: string, platform: Platform, userId: string, channel: string): Promise<ChatUser> {
  const client = new Centrifuge(wsUrl, {
    websocket: WebSocket,
    getToken: async () => (await signChatToken(secret, userId, await chatInfoFor(platform, userId), 3600)).token,
    minReconnectDelay: 50,
    maxReconnectDelay: 300,
  });
  const pubs: any[] = [];
  const unsubscribed: { code: number; reason: string }[] = [];
  await new Promise<void>((resolve) => {
    client.once('connected', () => resolve());
    client.connect();
  });
  const sub = client.newSubscription(`chat:${channel}`);
  sub.on('publication', (ctx: PublicationContext) => pubs.push(ctx.data));
  sub.on('unsubscribed', (ctx) => unsubscribed.push({ code: ctx.code, reason: ctx.reason }));
  sub.subscribe();
  await sub.ready(5000);
  return {
    client, sub, pubs, unsubscribed,
    say: (text) => sub.publish({ type: 'message', text }),
    rpc: async (method, data) => (await client.rpc(method, data)).data,
    close: () => client.disconnect(),
  };
}

/** rejectsWith asserts a publish/rpc promise fails with this application code; answers the message. */
export async function rejectsWith(p: Promise<unknown>, code: number): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; message?: string };
    if (err.code !== code) throw new Error(`expected code ${code}, got ${err.code}: ${err.message}`);
    return err.message ?? '';
  }
  throw new Error(`expected a refusal with code ${code}, but it succeeded`);
}
