// HAProxy with the config shipped in docs/haproxy/onair.cfg, in front of onair nodes on loopback:
// the shipped file with only its node addresses, listen ports and global maxconn replaced
// (testkit/shipped-conf.ts), plus a stats socket the test reads server states from. Run in the
// foreground as this process's child in its own temp dir; stop() kills it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { portOpen } from './nginx.js';
import { replaceOnce, shippedConf } from './shipped-conf.js';
import { until } from './wait.js';

const SHIPPED = 'haproxy/onair.cfg';
const START_TIMEOUT_MS = 10_000;
/** Enough for a test, and within an unprivileged file-descriptor limit (the shipped 100,000 is not). */
const TEST_MAXCONN = 2000;

/** An onair node as HAProxy sees it: its HTTP and RTMP ports on 127.0.0.1. */
export interface HaproxyNode {
  httpPort: number;
  rtmpPort: number;
}

export interface Haproxy {
  proc: ChildProcess;
  /** The frontends: onair_http and onair_rtmp. */
  httpPort: number;
  rtmpPort: number;
  url: string;
  /** serverStatus reads `show stat`: status (UP, DOWN, …) per "backend/server" (media1, media2, … in node order). */
  serverStatus(): Promise<Record<string, string>>;
  /** output is what HAProxy printed (its alerts and warnings: servers going down and up). */
  output(): string;
  stop(): Promise<void>;
}

/** haproxyConfig is the shipped file for these nodes and ports (two nodes: the file lists two). */
export function haproxyConfig(nodes: readonly [HaproxyNode, HaproxyNode], httpPort: number, rtmpPort: number, statsSocket: string): string {
  let c = shippedConf(SHIPPED).text;
  c = replaceOnce(c, /^global\n {4}maxconn \d+\n/m, `global\n    maxconn ${TEST_MAXCONN}\n    stats socket ${statsSocket} level admin\n`, SHIPPED);
  c = replaceOnce(c, 'bind :80\n', `bind 127.0.0.1:${httpPort}\n`, SHIPPED);
  c = replaceOnce(c, 'bind :1935\n', `bind 127.0.0.1:${rtmpPort}\n`, SHIPPED);
  nodes.forEach((n, i) => {
    const addr = `10\\.0\\.0\\.${11 + i}`;
    c = replaceOnce(c, new RegExp(`${addr}:1935 check port 8080`, 'g'), `127.0.0.1:${n.rtmpPort} check port ${n.httpPort}`, SHIPPED);
    c = replaceOnce(c, new RegExp(`${addr}:8080`, 'g'), `127.0.0.1:${n.httpPort}`, SHIPPED);
  });
  return c;
}

function showStat(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = connect(socket, () => c.end('show stat\n'));
    c.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

/** parseShowStat turns `show stat` CSV into status per "backend/server" (frontend and backend rows left out). */
export function parseShowStat(csv: string): Record<string, string> {
  const lines = csv.split('\n').filter(Boolean);
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const st = header.indexOf('status');
  const out: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    const server = f[sv] ?? '';
    if (server === 'FRONTEND' || server === 'BACKEND') continue;
    out[`${f[px] ?? ''}/${server}`] = f[st] ?? '';
  }
  return out;
}

/** startHaproxy runs the shipped config in front of two nodes and waits until both frontends listen. */
export async function startHaproxy(nodes: readonly [HaproxyNode, HaproxyNode]): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'onair-haproxy-'));
  const [httpPort, rtmpPort] = [await freePort(), await freePort()];
  const socket = join(dir, 'admin.sock');
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(nodes, httpPort, rtmpPort, socket));
  const proc = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const s of [proc.stdout, proc.stderr]) s.on('data', (d: Buffer) => { output += d.toString(); });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    if (process.exitCode) console.error(`haproxy:\n${output.split('\n').slice(-20).join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(async () => proc.exitCode === null && (await portOpen(httpPort)) && (await portOpen(rtmpPort)), START_TIMEOUT_MS, 'haproxy listening');
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${output}`);
  }
  return {
    proc, httpPort, rtmpPort, url: `http://127.0.0.1:${httpPort}`,
    serverStatus: async () => parseShowStat(await showStat(socket)),
    output: () => output,
    stop,
  };
}
