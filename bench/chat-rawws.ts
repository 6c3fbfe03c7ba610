// Minimal raw WebSocket client for chat benchmarks: one net.Socket per connection,
// our own handshake and frame parser, so the load generator stays cheap.
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

const OP_TEXT = 0x1;
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
/** Socket reads of all connections of this process (each is at least one server write). */
export const readStats = { reads: 0 };
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** maskedFrame builds a client (masked) frame. */
export function maskedFrame(payload: Buffer, opcode = OP_TEXT): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (head === 2) out[1] = 0x80 | n;
  else if (head === 4) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  const mask = randomBytes(4);
  mask.copy(out, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

export interface RawWs {
  socket: Socket;
  sendText(text: string): void;
  closed: boolean;
}

/**
 * openRawWs connects and upgrades; onText gets each text frame's payload (a view, valid only during the call).
 */
export function openRawWs(opts: {
  host: string;
  port: number;
  path: string;
  localAddress?: string;
  onText: (ws: RawWs, payload: Buffer) => void;
  onClose?: (ws: RawWs, code: number) => void;
}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    // onread with one shared buffer skips the Readable stream machinery: far cheaper per read.
    const socket = connect({
      host: opts.host,
      port: opts.port,
      localAddress: opts.localAddress,
      onread: { buffer: READ_BUFFER, callback: (n: number, b: Uint8Array) => (readStats.reads++, onData(Buffer.from(b.buffer, b.byteOffset, n))) },
    });
    socket.setNoDelay(true);
    const ws: RawWs = {
      socket,
      closed: false,
      sendText(text: string) {
        if (!ws.closed) socket.write(maskedFrame(Buffer.from(text)));
      },
    };
    let upgraded = false;
    let pending: Buffer | null = null;
    const fail = (e: Error) => {
      if (!upgraded) reject(e);
    };
    socket.once('error', fail);
    socket.on('close', () => {
      if (!ws.closed) {
        ws.closed = true;
        opts.onClose?.(ws, 1006);
      }
    });
    socket.on('connect', () => {
      socket.write(
        `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    const onData = (chunk: Buffer): boolean => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          pending = Buffer.from(buf);
          return true;
        }
        const head = buf.subarray(0, end).toString();
        if (!head.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          reject(new Error('upgrade failed: ' + head.split('\r\n')[0]));
          return false;
        }
        upgraded = true;
        socket.removeListener('error', fail);
        socket.on('error', () => undefined);
        resolve(ws);
        buf = buf.subarray(end + 4);
      }
      let off = 0;
      while (buf.length - off >= 2) {
        const b0 = buf[off]!;
        const b1 = buf[off + 1]!;
        let len = b1 & 0x7f;
        let hl = 2;
        if (len === 126) {
          if (buf.length - off < 4) break;
          len = buf.readUInt16BE(off + 2);
          hl = 4;
        } else if (len === 127) {
          if (buf.length - off < 10) break;
          len = buf.readUInt32BE(off + 2) * 4294967296 + buf.readUInt32BE(off + 6);
          hl = 10;
        }
        if (buf.length - off < hl + len) break;
        const payload = buf.subarray(off + hl, off + hl + len);
        const op = b0 & 0x0f;
        off += hl + len;
        if (op === OP_TEXT || op === 0) opts.onText(ws, payload);
        else if (op === OP_PING) socket.write(maskedFrame(Buffer.from(payload), OP_PONG));
        else if (op === OP_CLOSE) {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          ws.closed = true;
          opts.onClose?.(ws, code);
          socket.end();
          return false;
        }
      }
      if (off < buf.length) pending = Buffer.from(buf.subarray(off));
      return true;
    };
  });
}
