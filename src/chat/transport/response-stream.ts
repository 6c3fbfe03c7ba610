/**
 * ResponseStream is the way out of every chat transport that streams one HTTP response (the
 * unidirectional uni_sse / uni_http_stream and the bidirectional emulation http_stream / sse):
 * queued items encoded for its kind and written as one write, shared bytes as they are, and an
 * end that the client has already announced with its disconnect push.
 */
import type { ServerResponse } from 'node:http';
import type { Disconnect } from '../protocol/codes.js';
import { encodeItems, writeAll, type OutItem, type Transport, type TransportKind } from './types.js';

export abstract class ResponseStream implements Transport {
  abstract readonly kind: TransportKind;
  abstract readonly unidirectional: boolean;
  protected ended = false;

  constructor(protected readonly res: ServerResponse) {}

  abstract writeText(messages: readonly string[]): void;

  /** open: the response can still take bytes. */
  protected get open(): boolean {
    return !this.ended && !this.res.destroyed;
  }

  writeItems(items: readonly OutItem[], n: number): void {
    if (!this.open || n === 0) return;
    const bufs: Buffer[] = [];
    encodeItems(this.kind, items, n, bufs);
    writeAll(this.res, bufs);
  }

  writeShared(bytes: Buffer): void {
    if (this.open) this.res.write(bytes);
  }

  bufferedBytes(): number {
    return this.res.writableLength;
  }

  close(_d: Disconnect): void {
    if (this.ended) return;
    this.ended = true;
    // The client wrote the disconnect push before this.
    this.res.end();
  }
}
