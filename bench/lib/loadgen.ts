/**
 * Load generator for the fan-out benchmark: many HTTP-FLV or RTMP viewers over loopback,
 * each parsing only until its first video keyframe, then just counting bytes.
 * Driven by JSON lines on stdin; answers JSON lines on stdout.
 *   {"cmd":"connect","proto":"flv"|"rtmp","port":P,"path":"live/bench","n":N,"timeoutMs":T,"readBatchMs":B}
 *   {"cmd":"mark"}   start of the measurement window
 *   {"cmd":"report","minBytes":B}  per-viewer bytes since mark, served count, first-keyframe times,
 *                                  socket reads per second since mark (all viewers)
 *   {"cmd":"close"}
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ChunkParser, encodeChunks, CSID_COMMAND, RTMP_MSG_COMMAND_AMF0, RTMP_MSG_VIDEO } from '../../src/formats/rtmp-chunk.js';
import { encodeAmf0 } from '../../src/formats/amf0.js';

interface V {
  socket: Socket;
  bytes: number;
  marked: number;
  t0: number;
  /** When the TCP connection was established (connect-to-first-keyframe starts here). */
  connectedAt: number;
  firstKeyMs: number;
  scan: Buffer | null;
  parser: ChunkParser | null;
  closed: boolean;
}

const viewers: V[] = [];
/** Socket reads ('data' events) over all viewers, and their count at the last mark: how many reads the server's writes cost us. */
let reads = 0;
let readsAtMark = 0;
let markedAt = 0;
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const SOURCE_ADDRESSES = 8; // 127.0.0.1 .. 127.0.0.8, to spread ephemeral ports

function out(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

/** isFlvKeyframeAt: an FLV video tag (stream id 0) whose body starts with AVC keyframe NALU (0x17 0x01). */
function findFlvKeyframe(b: Buffer): boolean {
  for (let i = 0; i + 13 <= b.length; i++) {
    if (b[i] === 0x09 && b[i + 8] === 0 && b[i + 9] === 0 && b[i + 10] === 0 && b[i + 11] === 0x17 && b[i + 12] === 0x01) return true;
  }
  return false;
}

function rtmpPlayBytes(path: string, port: number): { c0c1: Buffer; after: (s1: Buffer) => Buffer } {
  const c1 = Buffer.alloc(1536);
  const [app, ...rest] = path.split('/');
  const stream = rest.join('/');
  const cs = 128;
  const connectCmd = encodeChunks(CSID_COMMAND, RTMP_MSG_COMMAND_AMF0, 0, 0, encodeAmf0('connect', 1, { app: app!, tcUrl: `rtmp://127.0.0.1:${port}/${app}`, fpad: false, capabilities: 15 }), cs);
  const create = encodeChunks(CSID_COMMAND, RTMP_MSG_COMMAND_AMF0, 0, 0, encodeAmf0('createStream', 2, null), cs);
  const play = encodeChunks(8, RTMP_MSG_COMMAND_AMF0, 1, 0, encodeAmf0('play', 0, null, stream, -2000), cs);
  return {
    c0c1: Buffer.concat([Buffer.from([3]), c1]),
    after: (s1) => Buffer.concat([s1, connectCmd, create, play]),
  };
}

/**
 * Batched reads (`readBatchMs` > 0): once a viewer has its first keyframe, its socket stops
 * reading after each read and is resumed every readBatchMs, so the kernel coalesces what the
 * server wrote meanwhile into one read. A server that writes every frame separately then costs
 * the generator a few reads per viewer per second instead of one per message. Bytes are counted
 * the same way; only how often we read changes. 0 = read whenever data arrives.
 */
let readBatchMs = 0;
let batchTimer: NodeJS.Timeout | undefined;
/** One receive buffer for every socket in batched mode: reads are handled one at a time. */
const READ_BUFFER = Buffer.alloc(256 * 1024);
const parked = new Set<V>();

function setReadBatch(ms: number): void {
  if (ms === readBatchMs) return;
  readBatchMs = ms;
  if (batchTimer) clearInterval(batchTimer);
  batchTimer = undefined;
  if (ms > 0) {
    batchTimer = setInterval(() => {
      for (const v of parked) if (!v.closed) v.socket.resume();
      parked.clear();
    }, ms);
  }
}

function startViewer(proto: 'flv' | 'rtmp', port: number, path: string, i: number): V {
  const localAddress = `127.0.0.${1 + (i % SOURCE_ADDRESSES)}`;
  // onBytes handles one read; `shared` says the bytes live in READ_BUFFER and must be copied to be kept
  let onBytes: (d: Buffer, shared: boolean) => void = () => {};
  const socket = readBatchMs > 0
    ? connect({
        host: '127.0.0.1', port, localAddress,
        onread: {
          buffer: READ_BUFFER,
          callback: (nread: number, buf: Buffer) => {
            onBytes(buf.subarray(0, nread), true);
            if (!v.firstKeyMs) return true;
            parked.add(v);
            return false; // stop reading until the batch timer resumes this socket
          },
        },
      })
    : connect({ host: '127.0.0.1', port, localAddress });
  const v: V = { socket, bytes: 0, marked: 0, t0: performance.now(), connectedAt: 0, firstKeyMs: 0, scan: null, parser: null, closed: false };
  socket.on('error', () => {});
  socket.once('connect', () => (v.connectedAt = performance.now()));
  socket.on('close', () => (v.closed = true));
  if (readBatchMs === 0) socket.on('data', (d: Buffer) => onBytes(d, false));
  if (proto === 'flv') {
    socket.on('connect', () => socket.write(`GET /${path}.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    onBytes = (d, shared) => {
      reads++;
      v.bytes += d.length;
      if (v.firstKeyMs) return;
      v.scan = v.scan ? Buffer.concat([v.scan.subarray(Math.max(0, v.scan.length - 16)), d]) : shared ? Buffer.from(d) : d;
      if (findFlvKeyframe(v.scan)) {
        v.firstKeyMs = performance.now() - v.connectedAt;
        v.scan = null;
      }
    };
  } else {
    const hs = rtmpPlayBytes(path, port);
    let hsBuf: Buffer | null = Buffer.alloc(0);
    socket.on('connect', () => socket.write(hs.c0c1));
    onBytes = (d, shared) => {
      reads++;
      v.bytes += d.length;
      if (v.firstKeyMs) return;
      if (shared) d = Buffer.from(d); // the parser may keep a partial message across reads
      if (hsBuf) {
        hsBuf = Buffer.concat([hsBuf, d]);
        if (hsBuf.length < 3073) return;
        socket.write(hs.after(hsBuf.subarray(1, 1537)));
        d = hsBuf.subarray(3073);
        hsBuf = null;
        v.parser = new ChunkParser({
          maxMessageSize: 16 << 20,
          onMessage: (m) => {
            if (!v.firstKeyMs && m.type === RTMP_MSG_VIDEO && m.payload[0] === 0x17 && m.payload[1] === 1) v.firstKeyMs = performance.now() - v.connectedAt;
          },
        });
      }
      try {
        v.parser!.push(d);
      } catch {
        socket.destroy();
      }
      if (v.firstKeyMs) v.parser = null;
    };
  }
  return v;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function onCommand(c: Record<string, unknown>): Promise<void> {
  if (c.cmd === 'connect') {
    const n = Number(c.n);
    setReadBatch(Number(c.readBatchMs ?? 0));
    const start = Date.now();
    const timeoutMs = Number(c.timeoutMs ?? 60_000);
    // ramp: at most MAX_PENDING viewers waiting for their first keyframe at a time, so a
    // listen backlog (511 by default) never overflows into SYN retransmits
    const MAX_PENDING = 1000;
    const mine: V[] = [];
    for (let i = 0; i < n && Date.now() - start < timeoutMs; i++) {
      while (mine.filter((v) => !v.firstKeyMs && !v.closed).length >= MAX_PENDING && Date.now() - start < timeoutMs) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const v = startViewer(c.proto as 'flv' | 'rtmp', Number(c.port), String(c.path), viewers.length);
      viewers.push(v);
      mine.push(v);
    }
    while (Date.now() - start < timeoutMs) {
      if (viewers.every((v) => v.firstKeyMs > 0 || v.closed)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    out({ event: 'connected', requested: n, viewers: viewers.length, withKeyframe: viewers.filter((v) => v.firstKeyMs > 0).length, closed: viewers.filter((v) => v.closed).length, ms: Date.now() - start });
  } else if (c.cmd === 'mark') {
    for (const v of viewers) v.marked = v.bytes;
    readsAtMark = reads;
    markedAt = performance.now();
    lag.reset();
    out({ event: 'marked' });
  } else if (c.cmd === 'report') {
    const minBytes = Number(c.minBytes ?? 1);
    const windowBytes = viewers.map((v) => v.bytes - v.marked);
    const keys = viewers.filter((v) => v.firstKeyMs > 0).map((v) => v.firstKeyMs).sort((a, b) => a - b);
    out({
      event: 'report',
      viewers: viewers.length,
      open: viewers.filter((v) => !v.closed).length,
      served: windowBytes.filter((b) => b >= minBytes).length,
      windowBytesP50: pct([...windowBytes].sort((a, b) => a - b), 50),
      firstKeyP50: pct(keys, 50),
      firstKeyP99: pct(keys, 99),
      withKeyframe: keys.length,
      // how late this process's event loop ran during the window: a measure of CPU contention here
      loopLagP99Ms: Math.round(lag.percentile(99) / 1e4) / 100,
      readsPerSecond: Math.round((reads - readsAtMark) / Math.max(0.001, (performance.now() - markedAt) / 1000)),
    });
  } else if (c.cmd === 'close') {
    for (const v of viewers) v.socket.destroy();
    viewers.length = 0;
    parked.clear();
    out({ event: 'closed' });
  } else if (c.cmd === 'exit') {
    process.exit(0);
  }
}

const rl = createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(() => onCommand(JSON.parse(line) as Record<string, unknown>));
});
rl.on('close', () => void chain.then(() => process.exit(0)));
