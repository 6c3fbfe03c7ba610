/**
 * HTTP-FLV and WebSocket-FLV playback of /live/{channel}.flv.
 *
 * HTTP-FLV takes over the request's socket (fastify only routes): we write the response head
 * ourselves and then one HTTP chunk per hub flush, the same Buffer for every viewer.
 * WebSocket-FLV sends one binary message per flush holding whole FLV tags (what mpegts.js reads).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeFlvHeader } from '../../formats/flv.js';
import type { Logger } from '../../observability/logger.js';
import type { StreamHub } from '../hub/hub.js';
import { CRLF, chunkedHead, type Batch } from '../hub/batch.js';
import type { StartInfo, Viewer } from '../hub/viewer.js';
import { clientAddressOf } from '../../http/client-address.js';
import { rawHttpRefusal, refusalError, type ListenerLimits } from '../../net/listener-limits.js';

export const FLV_CONTENT_TYPE = 'video/x-flv';
const FLV_PATH = /^\/live\/([^/?#]+)\.flv(?:\?.*)?$/;
/** Channel names as the platform allows them; anything else is not a channel. */
const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const END_OF_CHUNKS = Buffer.from('0\r\n\r\n');
const RESPONSE_HEAD = Buffer.from(
  [
    'HTTP/1.1 200 OK',
    `Content-Type: ${FLV_CONTENT_TYPE}`,
    'Transfer-Encoding: chunked',
    'Connection: close',
    'Cache-Control: no-cache, no-store',
    'Access-Control-Allow-Origin: *',
    '',
    '',
  ].join('\r\n'),
  'latin1',
);

/** channelFromFlvPath gives the channel of /live/{channel}.flv, or null. */
export function channelFromFlvPath(url: string | undefined): string | null {
  const encoded = FLV_PATH.exec(url ?? '')?.[1];
  if (encoded === undefined) return null;
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    return null;
  }
  return CHANNEL_NAME.test(name) ? name : null;
}

function notLiveBody(channel: string): string {
  return JSON.stringify({ error: { code: 'not_found', message: `channel ${channel} is not live` } });
}

/** HttpFlvViewer writes chunked HTTP-FLV straight to the socket (protocol `edge`: a media node pulling). */
export class HttpFlvViewer implements Viewer {
  onClose?: () => void;
  private done = false;

  constructor(private readonly socket: Socket, readonly protocol: 'flv' | 'edge' = 'flv') {
    socket.setNoDelay(true);
    const gone = () => {
      if (this.done) return;
      this.done = true;
      this.onClose?.();
    };
    socket.on('close', gone);
    socket.on('error', gone);
  }

  queuedBytes(): number {
    return this.socket.writableLength;
  }

  start(info: StartInfo): number {
    const flvHeader = encodeFlvHeader(info.hasAudio, info.hasVideo);
    const tags = [...info.headers, ...info.gop];
    let len = flvHeader.length;
    for (const t of tags) len += t.flv.length;
    const s = this.socket;
    s.cork();
    s.write(RESPONSE_HEAD);
    s.write(chunkedHead(len));
    s.write(flvHeader);
    for (const t of tags) s.write(t.flv);
    s.write(CRLF);
    s.uncork();
    return RESPONSE_HEAD.length + len;
  }

  write(batch: Batch): number {
    const b = batch.flvChunked();
    this.socket.write(b);
    return b.length;
  }

  end(_reason: string, clean: boolean): void {
    if (this.done) return;
    this.done = true;
    if (clean) this.socket.end(END_OF_CHUNKS);
    else this.socket.destroy();
  }
}

/** WsFlvViewer sends FLV over WebSocket binary messages. */
export class WsFlvViewer implements Viewer {
  readonly protocol = 'wsflv' as const;
  onClose?: () => void;
  private done = false;

  constructor(private readonly ws: WebSocket) {
    ws.on('close', () => {
      if (this.done) return;
      this.done = true;
      this.onClose?.();
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', () => {}); // clients have nothing to say; pings are answered by ws
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  start(info: StartInfo): number {
    const first = Buffer.concat([encodeFlvHeader(info.hasAudio, info.hasVideo), ...info.headers.map((t) => t.flv), ...info.gop.map((t) => t.flv)]);
    this.ws.send(first, { binary: true });
    return first.length;
  }

  write(batch: Batch): number {
    const b = batch.flvRaw();
    this.ws.send(b, { binary: true });
    return b.length;
  }

  end(reason: string, clean: boolean): void {
    if (this.done) return;
    this.done = true;
    if (clean) this.ws.close(1000, reason.slice(0, 100));
    else this.ws.terminate();
  }
}

/** FlvHttpOutput registers the HTTP-FLV route and takes WebSocket-FLV upgrades. */
export class FlvHttpOutput {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });

  constructor(
    private readonly hub: StreamHub,
    private readonly logger: Logger,
    /** limits.flv: viewers per client address and in all, HTTP-FLV and WS-FLV together. */
    readonly limits: ListenerLimits | null = null,
  ) {}

  /** register adds GET /live/:file for *.flv (other /live paths are left to other outputs). */
  register(app: FastifyInstance): void {
    app.get<{ Params: { file: string } }>('/live/:file', async (req, reply) => {
      const channel = channelFromFlvPath(`/live/${req.params.file}`);
      if (!channel) return reply.callNotFound();
      // Live here, or pulled from the media node that holds it (the cluster's edge pull).
      if (!(await this.hub.openForPlay(channel))) {
        return reply.code(404).header('access-control-allow-origin', '*').type('application/json').send(notLiveBody(channel));
      }
      const socket = req.raw.socket;
      if (socket.destroyed) {
        reply.hijack(); // the player left while the pull started: nothing to attach
        return;
      }
      const lease = this.limits?.admitOrThrow(req.clientIp);
      reply.hijack();
      if (lease) socket.once('close', () => lease.release());
      const viewer = new HttpFlvViewer(socket);
      const detach = this.hub.addViewer(channel, viewer);
      if (!detach) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n' + notLiveBody(channel));
        return;
      }
      this.logger.debug({ channel, ip: req.clientIp }, 'http-flv viewer joined');
    });
  }

  /** handleUpgrade takes WebSocket upgrades of /live/{channel}.flv; false for other paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const channel = channelFromFlvPath(req.url);
    if (!channel) return false;
    if (this.hub.playable(channel)) {
      this.upgrade(channel, req, socket, head);
      return true;
    }
    // Not live here: maybe on another media node (the edge pull brings it); the socket waits meanwhile.
    socket.on('error', () => socket.destroy());
    void this.hub.openForPlay(channel).then((ok) => {
      if (socket.destroyed) return;
      if (ok) return this.upgrade(channel, req, socket, head);
      const body = notLiveBody(channel);
      socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    return true;
  }

  private upgrade(channel: string, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const admission = this.limits?.admit(clientAddressOf(req));
    if (admission && !admission.ok) {
      socket.end(rawHttpRefusal(refusalError('flv', admission.reason, this.limits!.settings)));
      return;
    }
    if (admission) socket.once('close', () => admission.lease.release());
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const viewer = new WsFlvViewer(ws);
      if (!this.hub.addViewer(channel, viewer)) ws.close(1011, 'stream ended');
    });
  }

  close(): void {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}
