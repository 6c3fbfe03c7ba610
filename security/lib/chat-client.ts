/** A minimal Centrifugo-protocol chat client (JSON over WebSocket): connect, publish, wait for replies. */
import WebSocket from 'ws';

export interface ChatReply {
  id?: number;
  error?: { code: number; message: string };
  [k: string]: unknown;
}

export class ChatClient {
  private nextId = 1;
  private waiting = new Map<number, (r: ChatReply) => void>();
  closed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      for (const line of raw.toString().split('\n')) {
        if (!line) continue;
        let msg: ChatReply;
        try {
          msg = JSON.parse(line) as ChatReply;
        } catch {
          continue;
        }
        if (msg.id !== undefined) {
          this.waiting.get(msg.id)?.(msg);
          this.waiting.delete(msg.id);
        } else if (Object.keys(msg).length === 0) ws.send('{}'); // ping → pong
      }
    });
    ws.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.values()) w({ error: { code: -1, message: 'closed' } });
      this.waiting.clear();
    });
  }

  /** open connects the WebSocket and sends the protocol's connect command with a token. */
  static async open(url: string, token: string, headers: Record<string, string>, timeoutMs: number): Promise<ChatClient> {
    const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    const c = new ChatClient(ws);
    const r = await c.request({ connect: { token } }, timeoutMs);
    if (r.error) {
      c.close();
      throw new Error(`connect: ${r.error.code} ${r.error.message}`);
    }
    return c;
  }

  /** request sends one command and waits for its reply (an error reply on timeout or close). */
  request(command: Record<string, unknown>, timeoutMs: number): Promise<ChatReply> {
    if (this.closed) return Promise.resolve({ error: { code: -1, message: 'closed' } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiting.delete(id); resolve({ error: { code: -2, message: 'timeout' } }); }, timeoutMs);
      this.waiting.set(id, (r) => { clearTimeout(timer); resolve(r); });
      this.ws.send(JSON.stringify({ id, ...command }));
    });
  }

  publish(channel: string, data: unknown, timeoutMs: number): Promise<ChatReply> {
    return this.request({ publish: { channel, data } }, timeoutMs);
  }

  close(): void {
    this.ws.terminate();
  }
}
