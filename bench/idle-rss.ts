/**
 * Idle memory: what one `onair serve` (default roles, embedded defaults: SQLite, no Redis) holds
 * with one publisher and no viewers, and where every MiB of it goes.
 *
 * Method: the compiled server (dist/cli.js, built with tsc when missing — tsx would add its own
 * compiler to the figure) starts in a fresh data directory with bench/lib/memory-probe.mjs
 * preloaded; a channel is created with the CLI; ffmpeg publishes the 1 s H.264 + AAC fixture in
 * real time (stream copy). After --seconds (default 30) of live stream the probe reports RSS split
 * into file-backed pages (the node binary and libraries, shared with every node process) and
 * anonymous pages: V8 heap (by space), Buffers outside the heap (GOP cache, LL-HLS parts, socket
 * buffers) and the rest (malloc arenas, thread stacks, V8's own tables). The same is taken once
 * before the publish, and for a bare `node` process as the floor no Node program goes under.
 * Usage: node --import tsx bench/idle-rss.ts [--seconds 30] [--out DIR]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../testkit/ports.js';
import { LoopPublishers, LOOP_FIXTURE } from '../testkit/ffmpeg-loop.js';
import { sleep, until } from '../testkit/wait.js';
import { argValue, REPO_ROOT, resultsPath, writeResultJson } from './lib/results.js';

const SECONDS = Number(argValue('seconds') ?? 30);
const OUT = resultsPath(`idle-rss-${Date.now()}.json`, argValue('out'));
const CLI = join(REPO_ROOT, 'dist/cli.js');
const PROBE = join(REPO_ROOT, 'bench/lib/memory-probe.mjs');
const MIB = 1024 * 1024;

interface Probe {
  usage: NodeJS.MemoryUsage;
  smapsKiB: Record<string, number>;
  heapSpaces: Record<string, { size: number; used: number }>;
  heapCode: Record<string, number>;
}

const mib = (bytes: number) => Math.round((bytes / MIB) * 10) / 10;

/** breakdown splits RSS into parts that add up to it (MiB). */
function breakdown(p: Probe) {
  const rss = p.smapsKiB.Rss * 1024;
  const anon = p.smapsKiB.Anonymous * 1024;
  const heap = p.usage.heapTotal;
  const outside = p.usage.external;
  return {
    rssMiB: mib(rss),
    fileBackedMiB: mib(rss - anon),
    anonymousMiB: mib(anon),
    v8HeapMiB: mib(heap),
    v8HeapUsedMiB: mib(p.usage.heapUsed),
    buffersOutsideHeapMiB: mib(outside),
    otherAnonymousMiB: mib(Math.max(0, anon - heap - outside)),
    heapSpacesUsedMiB: Object.fromEntries(Object.entries(p.heapSpaces).filter(([, s]) => s.size > 0).map(([k, s]) => [k, mib(s.used)])),
    bytecodeMiB: mib(p.heapCode.bytecode_and_metadata_size ?? 0),
    machineCodeMiB: mib(p.heapCode.code_and_metadata_size ?? 0),
  };
}

async function probe(child: ChildProcess, file: string): Promise<Probe> {
  rmSync(file, { force: true });
  child.kill('SIGUSR2');
  await until(() => existsSync(file), 5000, 'the memory probe', 50);
  return JSON.parse(readFileSync(file, 'utf8')) as Probe;
}

/** bareNode is a `node` process doing nothing: the floor under any Node server. */
async function bareNodeMiB(): Promise<number> {
  const p = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await sleep(500);
  const status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
  p.kill('SIGKILL');
  return Math.round((Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024) * 10) / 10;
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) {
    console.log('dist/cli.js is missing: building it with tsc (what `npm start` runs)');
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('tsc failed');
  }
  const dir = mkdtempSync(join(tmpdir(), 'onair-idle-rss-'));
  const probeFile = join(dir, 'probe.json');
  const [httpPort, rtmpPort, srtPort, rtspPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    ONAIR_HTTP_PORT: String(httpPort), ONAIR_RTMP_PORT: String(rtmpPort), ONAIR_MEDIA_SRT_PORT: String(srtPort), ONAIR_MEDIA_RTSP_PORT: String(rtspPort),
    ONAIR_HOST: '127.0.0.1', ONAIR_MEMORY_PROBE_OUT: probeFile,
  };
  const load0 = loadavg();
  const floor = await bareNodeMiB();
  const server = spawn(process.execPath, ['--import', PROBE, CLI, 'serve'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let serverErr = '';
  server.stderr?.on('data', (c: Buffer) => { if (serverErr.length < 20_000) serverErr += c.toString(); });
  const publishers = new LoopPublishers();
  const base = `http://127.0.0.1:${httpPort}`;
  try {
    await until(() => fetch(`${base}/healthz`).then((r) => r.ok, () => false), 60_000, 'onair /healthz', 200).catch((err: unknown) => { throw new Error(`${(err as Error).message}\n${serverErr}`); });
    await sleep(2000);
    const started = breakdown(await probe(server, probeFile));
    const created = spawnSync(process.execPath, [CLI, 'channel', 'create', 'idle'], { cwd: dir, env, encoding: 'utf8' });
    const streamKey = (JSON.parse(created.stdout.trim().split('\n').pop() ?? '{}') as { streamKey?: string }).streamKey;
    if (!streamKey) throw new Error(`channel create failed: ${created.stderr}`);
    publishers.start(`rtmp://127.0.0.1:${rtmpPort}/live/${streamKey}`);
    await until(async () => {
      const r = (await (await fetch(`${base}/api/v1/channels/idle`)).json().catch(() => ({}))) as { channel?: { stream?: { live?: boolean } } };
      return r.channel?.stream?.live === true;
    }, 30_000, 'the channel going live', 200);
    await sleep(SECONDS * 1000);
    const live = breakdown(await probe(server, probeFile));
    const result = {
      date: new Date().toISOString(), node: process.version, seconds: SECONDS,
      loadavgAtStart: load0.map((x) => +x.toFixed(2)), loadavgAtEnd: loadavg().map((x) => +x.toFixed(2)),
      method: 'dist/cli.js serve, default roles and embedded defaults (SQLite, no Redis), one stream-copied ffmpeg publisher of the 640x360 fixture, no viewers',
      fixture: LOOP_FIXTURE.replace(REPO_ROOT + '/', ''),
      bareNodeRssMiB: floor,
      started, live,
    };
    writeResultJson(OUT, result);
    const row = (label: string, b: ReturnType<typeof breakdown>) =>
      `${label.padEnd(22)} ${String(b.rssMiB).padStart(7)} ${String(b.fileBackedMiB).padStart(7)} ${String(b.v8HeapMiB).padStart(7)} ${String(b.buffersOutsideHeapMiB).padStart(7)} ${String(b.otherAnonymousMiB).padStart(7)}`;
    console.log(`${'MiB'.padEnd(22)} ${'RSS'.padStart(7)} ${'file'.padStart(7)} ${'V8 heap'.padStart(7)} ${'buffers'.padStart(7)} ${'other'.padStart(7)}`);
    console.log(row('started, no publisher', started));
    console.log(row(`live ${SECONDS} s, 1 publisher`, live));
    console.log(`bare node process: ${floor} MiB; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n→ ${OUT}`);
  } finally {
    publishers.killAll();
    server.kill('SIGTERM');
    await Promise.race([new Promise((r) => server.once('exit', r)), sleep(10_000)]);
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
