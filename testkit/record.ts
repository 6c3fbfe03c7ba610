/** Helpers for recording integration tests: async ffmpeg/ffprobe runs and polling. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** publish streams `seconds` of 640x360 test pattern + tone over RTMP (real time). */
export function publish(rtmpPort: number, key: string, seconds: number, size = '640x360'): ChildProcess {
  return spawn('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** run spawns a tool without blocking the event loop (the server under test may live in this process). */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export async function probe(path: string): Promise<{ duration: number; streams: { codec_type: string; codec_name: string; width?: number; height?: number }[] }> {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name,width,height', '-of', 'json', path]);
  if (r.status !== 0) throw new Error(`ffprobe ${path}: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { format: { duration: string }; streams: [] };
  return { duration: Number(j.format.duration), streams: j.streams };
}

/** decodeErrors decodes a whole file and returns ffmpeg's error output ('' when clean). */
export async function decodeErrors(path: string): Promise<string> {
  const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', path, '-f', 'null', '-']);
  return (r.stderr + (r.status === 0 ? '' : ` (exit ${r.status})`)).trim();
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, stepMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(stepMs);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

/** topLevelBoxes lists an MP4's top-level box types in order. */
export function topLevelBoxes(path: string): string[] {
  const buf = readFileSync(path);
  const out: string[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    out.push(buf.toString('latin1', off + 4, off + 8));
    if (size === 1) size = Number(buf.readBigUInt64BE(off + 8));
    if (size < 8) break;
    off += size;
  }
  return out;
}

/** processesWithArg lists pids whose command line contains `needle` (to check ffmpeg was stopped). */
export function processesWithArg(needle: string): number[] {
  const out: number[] = [];
  let dirs: string[] = [];
  try {
    dirs = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const d of dirs) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}
