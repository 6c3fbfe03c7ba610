// A centrifuge SDK client subscribed to one channel of a whole test server, collecting what is published there.
import { Centrifuge, type Subscription } from 'centrifuge';
import { WebSocket } from 'ws';

export interface Listener {
  client: Centrifuge;
  sub: Subscription;
  /** Publication data in arrival order. */
  received: any[];
}

/** listen connects (anonymously, or with a chat token) and resolves once channel is subscribed. */
export async function listen(httpPort: number, channel: string, token?: string): Promise<Listener> {
  const client = new Centrifuge(`ws://127.0.0.1:${httpPort}/connection/websocket`, { websocket: WebSocket, ...(token ? { token } : {}) });
  const received: any[] = [];
  const sub = client.newSubscription(channel);
  sub.on('publication', (ctx) => received.push(ctx.data));
  const subscribed = new Promise((r) => sub.once('subscribed', r));
  sub.subscribe();
  client.connect();
  await subscribed;
  return { client, sub, received };
}
