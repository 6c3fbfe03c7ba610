/**
 * The failover part of the cluster benchmark (`npm run bench -- cluster --failover [--runs 10]`):
 * how long a viewer on an edge waits for bytes after the primary's node is killed with SIGKILL.
 *
 * Three media nodes with default cluster settings (cluster.heartbeatTimeoutMs 2000): primary P and
 * backup B publish the same key (ffmpeg, the 1 s fixture in real time), one HTTP-FLV viewer reads
 * from edge E. Each run kills P's process, times the viewer's silence (the kill → the first bytes
 * after it), then starts a fresh node with a publisher as the new backup of the promoted one, so
 * the next run kills that. The viewer keeps its one connection through every run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { LOOP_FIXTURE } from '../../testkit/ffmpeg-loop.js';

/** A node of the benchmark (bench/lib/cluster-node.ts). */
export interface FailoverNode { httpPort: number; rtmpPort: number; pid: number; streamKey?: string; proc: ChildProcess }

export interface FailoverOptions {
  runs: number;
  channel: string;
  startNode(channel?: string): Promise<FailoverNode>;
  track(c: ChildProcess): ChildProcess;
}

export interface FailoverResult {
  runs: number;
  resumeMs: number[];
  p50Ms: number;
  p95Ms: number;
  /** Runs whose viewer got nothing within RESUME_TIMEOUT_MS (counted, not timed). */
  failed: number;
  /** Whether the viewer kept its one connection through every run. */
  sameConnection: boolean;
  loadavg: number[];
}

/** Bytes already on their way when the node died arrive within this long; later bytes are the new primary's. */
const IN_FLIGHT_MS = 100;
const RESUME_TIMEOUT_MS = 30_000;
/** A fresh backup has its tracks, its GOP and the lease holder's heartbeats within this long. */
const BACKUP_SETTLE_MS = 4000;
const STEADY_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** percentile of sorted-on-the-fly values (nearest rank). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}

/** Viewer reads HTTP-FLV over one socket and keeps when each chunk arrived. */
class Viewer {
  readonly socket: Socket;
  arrivals: number[] = [];
  closed = false;

  constructor(port: number, channel: string) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('connect', () => this.socket.write(`GET /live/${channel}.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('data', () => {
      this.arrivals.push(performance.now());
      if (this.arrivals.length > 10_000) this.arrivals = this.arrivals.slice(-1000);
    });
  }

  firstAfter(t: number): number | undefined {
    return this.arrivals.find((a) => a > t);
  }
}

async function until(f: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

function publish(o: FailoverOptions, node: FailoverNode, key: string): ChildProcess {
  return o.track(spawn('ffmpeg', ['-v', 'error', '-re', '-stream_loop', '-1', '-i', LOOP_FIXTURE, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${node.rtmpPort}/live/${key}`], { stdio: 'ignore' }));
}

async function killNode(node: FailoverNode, publisher: ChildProcess): Promise<void> {
  const gone = new Promise((r) => node.proc.once('exit', r));
  node.proc.kill('SIGKILL');
  if (publisher.exitCode === null) publisher.kill('SIGKILL');
  await gone;
}

/** runFailover runs the measurement; the caller stops every tracked process afterwards. */
export async function runFailover(o: FailoverOptions): Promise<FailoverResult> {
  const first = await o.startNode(o.channel);
  const key = first.streamKey;
  if (!key) throw new Error('the first node did not make the channel');
  let primary = { node: first, publisher: publish(o, first, key) };
  await sleep(BACKUP_SETTLE_MS); // live on P, listed in the cluster live list
  const second = await o.startNode();
  let backup = { node: second, publisher: publish(o, second, key) };
  const edge = await o.startNode();
  await sleep(BACKUP_SETTLE_MS);
  const viewer = new Viewer(edge.httpPort, o.channel);
  await until(() => viewer.arrivals.length > 20, RESUME_TIMEOUT_MS, 'the viewer on the edge gets media');

  const resumeMs: number[] = [];
  let failed = 0;
  for (let i = 0; i < o.runs; i++) {
    await sleep(STEADY_MS);
    const t0 = performance.now();
    await killNode(primary.node, primary.publisher);
    try {
      await until(() => viewer.firstAfter(t0 + IN_FLIGHT_MS) !== undefined, RESUME_TIMEOUT_MS, 'bytes after the kill');
      const ms = Math.round((viewer.firstAfter(t0 + IN_FLIGHT_MS) ?? t0) - t0);
      resumeMs.push(ms);
      console.log(`run ${i + 1}/${o.runs}: bytes resumed at the edge viewer ${ms} ms after kill -9 of the primary`);
    } catch {
      failed++;
      console.log(`run ${i + 1}/${o.runs}: no bytes within ${RESUME_TIMEOUT_MS} ms`);
    }
    if (i === o.runs - 1) break;
    // The promoted node is the primary now; a fresh node takes the backup's place.
    primary = backup;
    const fresh = await o.startNode();
    backup = { node: fresh, publisher: publish(o, fresh, key) };
    await sleep(BACKUP_SETTLE_MS);
  }
  const result: FailoverResult = {
    runs: o.runs, resumeMs, p50Ms: percentile(resumeMs, 50), p95Ms: percentile(resumeMs, 95), failed,
    sameConnection: !viewer.closed, loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  viewer.socket.destroy();
  return result;
}
