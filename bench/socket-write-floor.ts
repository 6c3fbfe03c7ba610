// The floor under a fan-out round: the cost of one small write to a loopback TCP socket, from
// Node's socket.write and from a bare C write(2) loop (bench/floor/write-floor.c, built with cc
// into a temp dir when a C compiler is present), each writing to N sockets held by a polling
// reader process (bench/floor/reader.mjs). A chat or FLV fan-out to N viewers pays this per
// viewer per write, so a round over 10,000 subscribers cannot be shorter than 10,000 x it.
// Usage: npm run bench -- socket-write-floor [--sockets 10000] [--bytes 120] [--passes 30]
import { spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { resultsPath, writeResultJson } from './lib/results.js';

const { values } = parseArgs({ options: { sockets: { type: 'string', default: '10000' }, bytes: { type: 'string', default: '120' }, passes: { type: 'string', default: '30' }, out: { type: 'string' } } });
const SOCKETS = Number(values.sockets);
const BYTES = Number(values.bytes);
const PASSES = Number(values.passes);

interface Row {
  writer: string;
  sockets: number;
  bytes: number;
  passes: number;
  wallMsPerPass: number;
  userUsPerWrite: number;
  sysUsPerWrite: number;
  totalUsPerWrite: number;
  failed: number;
}

function startReader(port: number): Promise<ChildProcess> {
  const reader = fork('bench/floor/reader.mjs', [String(port), String(SOCKETS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    reader.once('message', () => resolve(reader));
    reader.once('exit', (code) => reject(new Error(`reader exited ${code}`)));
  });
}

function stopReader(reader: ChildProcess): Promise<void> {
  if (reader.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => reader.once('exit', () => r()));
  reader.send('exit');
  setTimeout(() => reader.kill('SIGKILL'), 3000).unref();
  return exited;
}

async function nodeWriter(): Promise<Row> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => undefined);
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const reader = await startReader(port);
  try {
    while (sockets.length < SOCKETS) await new Promise((r) => setTimeout(r, 20));
    const buf = Buffer.alloc(BYTES, 0x78);
    const pause = () => new Promise((r) => setTimeout(r, 1));
    for (let i = 0; i < 3; i++) {
      for (const s of sockets) s.write(buf);
      await pause();
    }
    const cpu0 = process.cpuUsage();
    let wall = 0;
    for (let p = 0; p < PASSES; p++) {
      const t0 = performance.now();
      for (const s of sockets) s.write(buf);
      wall += performance.now() - t0;
      await pause();
    }
    const cpu = process.cpuUsage(cpu0);
    const writes = SOCKETS * PASSES;
    const failed = sockets.filter((s) => s.writableLength > 0).length;
    return row('node socket.write', wall / PASSES, cpu.user / writes, cpu.system / writes, failed);
  } finally {
    await stopReader(reader);
    for (const s of sockets) s.destroy();
    server.close();
  }
}

async function cWriter(): Promise<Row | { writer: string; skipped: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'onair-write-floor-'));
  try {
    const bin = join(dir, 'write-floor');
    const cc = spawnSync('cc', ['-O2', '-o', bin, 'bench/floor/write-floor.c'], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) return { writer: 'C write(2)', skipped: `no C compiler (${cc.error?.message ?? cc.stderr.trim()})` };
    const port = await freePort();
    const proc = spawn(bin, [String(SOCKETS), String(port), String(BYTES), String(PASSES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done || !JSON.parse(first.value).listening) throw new Error('write-floor did not listen');
    const reader = await startReader(port);
    try {
      const result = await lines.next();
      if (result.done) throw new Error('write-floor printed no result');
      const r = JSON.parse(result.value) as { wallMsPerPass: number; userUsPerWrite: number; sysUsPerWrite: number; failed: number };
      return row('C write(2)', r.wallMsPerPass, r.userUsPerWrite, r.sysUsPerWrite, r.failed);
    } finally {
      await stopReader(reader);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(writer: string, wallMsPerPass: number, user: number, sys: number, failed: number): Row {
  return { writer, sockets: SOCKETS, bytes: BYTES, passes: PASSES, wallMsPerPass: +wallMsPerPass.toFixed(2), userUsPerWrite: +user.toFixed(2), sysUsPerWrite: +sys.toFixed(2), totalUsPerWrite: +(user + sys).toFixed(2), failed };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

const rows = [await nodeWriter(), await cWriter()];
console.log(`\none ${BYTES}-byte write to each of ${SOCKETS} loopback sockets, ${PASSES} passes (load ${loadavg()[0]!.toFixed(1)})`);
console.log('writer               ms/pass  user µs  sys µs  total µs per write');
for (const r of rows) {
  if ('skipped' in r) console.log(`${r.writer.padEnd(20)} skipped: ${r.skipped}`);
  else console.log(`${r.writer.padEnd(20)} ${String(r.wallMsPerPass).padStart(7)}  ${String(r.userUsPerWrite).padStart(7)}  ${String(r.sysUsPerWrite).padStart(6)}  ${String(r.totalUsPerWrite).padStart(8)}${r.failed ? `  (${r.failed} short)` : ''}`);
}
const file = writeResultJson(resultsPath(`socket-write-floor-${Date.now()}.json`, values.out), { bench: 'socket-write-floor', date: new Date().toISOString(), cpus: cpus().length, loadavg: loadavg(), sockets: SOCKETS, bytes: BYTES, passes: PASSES, rows });
console.log('wrote ' + file);
