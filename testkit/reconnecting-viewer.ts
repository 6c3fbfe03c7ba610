// A player that reconnects by itself, for load-balancer tests and the failure drill
// (bench/cluster-drill.ts): it plays HTTP-FLV, WebSocket-FLV or RTMP (through ffmpeg), and when
// the connection ends it waits `retryDelayMs` and connects again to the same URL (a balancer's),
// as a player with automatic reconnect does. It records when bytes arrived, so the longest
// silence (what the viewer sees as a stall) and the number of reconnects can be read afterwards.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { WebSocket } from 'ws';

export type PlayProtocol = 'http-flv' | 'ws-flv' | 'rtmp';

/** A connection attempt: calls onData per chunk and onEnd once; close() ends it. */
type Connect = (onData: (bytes: number) => void, onEnd: (why: string) => void) => { close(): void };

const connectHttp = (url: string): Connect => (onData, onEnd) => {
  let ended = false;
  const end = (why: string) => { if (!ended) { ended = true; onEnd(why); } };
  const req = request(url, (res) => {
    if (res.statusCode !== 200) { res.resume(); end(`HTTP ${res.statusCode}`); return; }
    res.on('data', (d: Buffer) => onData(d.length));
    res.on('close', () => end('closed'));
    res.on('error', () => end('error'));
  });
  req.on('error', (err) => end(err.message));
  req.end();
  return { close: () => { ended = true; req.destroy(); } };
};

const connectWs = (url: string): Connect => (onData, onEnd) => {
  let ended = false;
  const end = (why: string) => { if (!ended) { ended = true; onEnd(why); } };
  const ws = new WebSocket(url);
  ws.on('message', (d: Buffer) => onData(d.length));
  ws.on('close', (code) => end(`closed ${code}`));
  ws.on('error', (err) => end(err.message));
  return { close: () => { ended = true; ws.terminate(); } };
};

/** RTMP play through ffmpeg (the stream copied to FLV on stdout); a dead server makes ffmpeg exit. */
const connectRtmp = (url: string): Connect => (onData, onEnd) => {
  let ended = false;
  const p = spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-rw_timeout', '5000000', '-i', url, '-c', 'copy', '-f', 'flv', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
  p.stdout.on('data', (d: Buffer) => onData(d.length));
  p.once('exit', (code, signal) => { if (!ended) { ended = true; onEnd(`ffmpeg exited ${code ?? signal}`); } });
  p.once('error', (err) => { if (!ended) { ended = true; onEnd(err.message); } });
  return { close: () => { ended = true; p.kill('SIGKILL'); } };
};

const CONNECTORS: Record<PlayProtocol, (url: string) => Connect> = { 'http-flv': connectHttp, 'ws-flv': connectWs, rtmp: connectRtmp };

export interface ViewerSummary {
  bytes: number;
  /** Connections made after the first. */
  reconnects: number;
  /** Why each connection ended (the current one excluded). */
  ends: string[];
  /** The longest time between two arrivals of bytes since `since` (ms; with none since, the time since then). */
  longestSilenceMs: number;
}

export class ReconnectingViewer {
  private readonly connect: Connect;
  private current: { close(): void } | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private bytes = 0;
  private connects = 0;
  private readonly ends: string[] = [];
  /** Epoch ms of every arrival of bytes (one per ms at most, enough for silences of 100s of ms). */
  private readonly arrivals: number[] = [];

  constructor(protocol: PlayProtocol, url: string, private readonly retryDelayMs: number) {
    this.connect = CONNECTORS[protocol](url);
  }

  /** start makes the first connection. */
  start(): this {
    this.open();
    return this;
  }

  private open(): void {
    if (this.closed) return;
    this.connects++;
    this.current = this.connect(
      (n) => {
        this.bytes += n;
        const now = Date.now();
        if (this.arrivals[this.arrivals.length - 1] !== now) this.arrivals.push(now);
      },
      (why) => {
        this.current = undefined;
        this.ends.push(why);
        if (!this.closed) this.retry = setTimeout(() => this.open(), this.retryDelayMs);
      },
    );
  }

  /** receiving says whether bytes arrived within the last `ms`. */
  receiving(ms: number): boolean {
    const last = this.arrivals[this.arrivals.length - 1];
    return last !== undefined && Date.now() - last <= ms;
  }

  /** summary reads the viewer's record from `since` (epoch ms) to now. */
  summary(since = 0): ViewerSummary {
    let longest = 0;
    let prev = since;
    for (const t of this.arrivals) {
      if (t < since) continue;
      longest = Math.max(longest, t - prev);
      prev = t;
    }
    longest = Math.max(longest, Date.now() - prev);
    return { bytes: this.bytes, reconnects: Math.max(0, this.connects - 1), ends: [...this.ends], longestSilenceMs: longest };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.current?.close();
    this.current = undefined;
  }
}
