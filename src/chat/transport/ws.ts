/**
 * WebSocket transports: bidirectional `/connection/websocket` and
 * unidirectional `/connection/uni_websocket`, on the `ws` package (noServer).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { ChatNode } from '../node.js';
import { acceptClient, type Client } from '../client.js';
import { Disconnects, type Disconnect } from '../protocol/codes.js';
import { encodeProtoPush, encodeProtoReplies } from '../protocol/protobuf.js';
import { encodeItems, writeAll, type OutItem, type Transport, type TransportKind } from './types.js';
import { clientAddressOf } from '../../http/client-address.js';
import { rawHttpRefusal, refusalError, type ListenerLimits } from '../../net/listener-limits.js';

export const WS_PATH = '/connection/websocket';
export const UNI_WS_PATH = '/connection/uni_websocket';
/** PROTOBUF_SUBPROTOCOL is the WebSocket subprotocol the SDK's protobuf build asks for. */
export const PROTOBUF_SUBPROTOCOL = 'centrifuge-protobuf';
/** WS_CLOSE_MESSAGE_TOO_BIG is the code `ws` closes with when maxPayload is exceeded; we answer 3501 instead. */
const WS_CLOSE_MESSAGE_TOO_BIG = 1009;
/** SLOW_TERMINATE_MS is how long a slow client's close frame may wait behind its backlog. */
const SLOW_TERMINATE_MS = 5000;

/** ChatWebSocket closes with 3501 "message too big" where `ws` would use 1009. */
class ChatWebSocket extends WebSocket {
  override close(code?: number, data?: string | Buffer): void {
    if (code === WS_CLOSE_MESSAGE_TOO_BIG) {
      super.close(Disconnects.messageTooBig.code, Disconnects.messageTooBig.reason);
      return;
    }
    super.close(code, data);
  }
}

/** WsKind is the transport kind of a chat WebSocket, by path and subprotocol. */
type WsKind = 'websocket' | 'websocket_protobuf' | 'uni_websocket' | 'uni_websocket_protobuf';

/** WsTransport writes to one WebSocket; shared batches go straight to the socket as pre-built frames. */
class WsTransport implements Transport {
  readonly kind: TransportKind;
  readonly unidirectional: boolean;
  private readonly ws: WebSocket;
  /** The raw socket under ws (set by ws before the connection callback). */
  private readonly socket: Socket;

  constructor(ws: WebSocket, kind: WsKind) {
    this.ws = ws;
    this.socket = (ws as unknown as { _socket: Socket })._socket;
    this.unidirectional = kind === 'uni_websocket' || kind === 'uni_websocket_protobuf';
    this.kind = kind;
  }

  writeText(messages: readonly string[]): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.kind === 'websocket_protobuf') this.ws.send(encodeProtoReplies(messages), { binary: true });
    else if (this.kind === 'uni_websocket_protobuf') for (const m of messages) this.ws.send(encodeProtoPush(m), { binary: true });
    else if (!this.unidirectional) this.ws.send(messages.join('\n'));
    else for (const m of messages) this.ws.send(m);
  }

  writeItems(items: readonly OutItem[], n: number): void {
    const first = items[0];
    if (this.ws.readyState !== WebSocket.OPEN || n === 0 || first === undefined) return;
    // Server frames are unmasked, so a shared batch's frame bytes serve every connection as they
    // are. ws writes synchronously without permessage-deflate, so these frames cannot interleave
    // with its own (close, pong).
    if (typeof first !== 'string') {
      // The fan-out fast path: one shared buffer (a batch, or a run of batches joined once for
      // every connection holding it), one write, nothing allocated here.
      const bytes = n === 1 ? first.bytes(this.kind) : first.runBytes(this.kind, items, n);
      if (bytes !== null) {
        this.socket.write(bytes);
        return;
      }
    }
    const bufs: Buffer[] = [];
    encodeItems(this.kind, items, n, bufs);
    writeAll(this.socket, bufs);
  }

  writeShared(bytes: Buffer): void {
    // Unmasked server frames, as in writeItems: the same bytes serve every connection.
    if (this.ws.readyState === WebSocket.OPEN) this.socket.write(bytes);
  }

  bufferedBytes(): number {
    // What ws.bufferedAmount reports without permessage-deflate, read directly.
    return this.socket.writableLength;
  }

  close(d: Disconnect): void {
    const ws = this.ws;
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      ws.close(d.code, d.reason);
      if (d.code === Disconnects.slow.code) {
        const t = setTimeout(() => ws.terminate(), SLOW_TERMINATE_MS);
        t.unref();
        ws.once('close', () => clearTimeout(t));
      }
    }
  }
}

/** WsAcceptor upgrades HTTP requests on the chat WebSocket paths. */
export class WsAcceptor {
  private readonly wss: WebSocketServer;
  private readonly node: ChatNode;
  private readonly sockets = new Set<WebSocket>();

  constructor(
    node: ChatNode,
    maxFrameBytes: number,
    /** limits.chatWs: connections per client address and in all; over a cap the upgrade is answered 429/503. */
    private readonly limits: ListenerLimits | null = null,
  ) {
    this.node = node;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: maxFrameBytes,
      WebSocket: ChatWebSocket,
      // The protobuf build asks for centrifuge-protobuf; any other subprotocol is not confirmed,
      // so such clients fail fast.
      handleProtocols: (protocols) => (protocols.has(PROTOBUF_SUBPROTOCOL) ? PROTOBUF_SUBPROTOCOL : false),
    });
  }

  /** handleUpgrade takes the upgrade if the path is ours; false lets another handler try. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    if (path !== WS_PATH && path !== UNI_WS_PATH) return false;
    const uni = path === UNI_WS_PATH;
    const admission = this.limits?.admit(clientAddressOf(req));
    if (admission && !admission.ok) {
      socket.end(rawHttpRefusal(refusalError('chatWs', admission.reason, this.limits!.settings)));
      return true;
    }
    if (admission) socket.once('close', () => admission.lease.release());
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, uni, req.headers));
    return true;
  }

  private onConnection(ws: WebSocket, uni: boolean, headers: IncomingMessage['headers']): void {
    // The centrifuge-protobuf subprotocol selects protobuf on both paths (on uni_websocket an onair
    // extension: a ConnectRequest first, then one Push per binary message).
    const protobuf = ws.protocol === PROTOBUF_SUBPROTOCOL;
    const kind: WsKind = uni ? (protobuf ? 'uni_websocket_protobuf' : 'uni_websocket') : protobuf ? 'websocket_protobuf' : 'websocket';
    const client = acceptClient(this.node, new WsTransport(ws, kind), headers);
    this.sockets.add(ws);
    ws.on('message', (data: Buffer) => onMessage(client, data, kind));
    ws.on('close', () => {
      this.sockets.delete(ws);
      client.onTransportClosed();
      this.node.forget(client);
    });
    ws.on('error', () => undefined);
  }

  /** close terminates sockets still open after the node closed them. */
  async close(): Promise<void> {
    await settleSockets(this.sockets);
    this.wss.close();
  }
}

/** Sockets asked to close get this long to finish their closing handshake before they are terminated. */
const CLOSE_GRACE_MS = 1000;

/**
 * settleSockets waits until every socket of the set has closed (their owners have already asked
 * them to), terminating those still open after CLOSE_GRACE_MS. Shared by the chat front-ends.
 */
export async function settleSockets(sockets: Set<WebSocket>): Promise<void> {
  const open = [...sockets];
  if (open.length === 0) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      for (const ws of sockets) ws.terminate();
      resolve();
    }, CLOSE_GRACE_MS);
    let left = open.length;
    for (const ws of open) {
      ws.once('close', () => {
        if (--left === 0) {
          clearTimeout(t);
          resolve();
        }
      });
    }
  });
}

function onMessage(client: Client, data: Buffer, kind: WsKind): void {
  if (kind === 'websocket') {
    client.onFrame(data.toString());
    return;
  }
  if (kind === 'websocket_protobuf') {
    client.onProtobufFrame(data);
    return;
  }
  // Unidirectional: the first message is the connect request; later ones only count as activity.
  if (client.connected || client.closed) return;
  if (kind === 'uni_websocket_protobuf') client.onUniProtobufConnect(data);
  else client.onUniConnect(data.toString());
}
