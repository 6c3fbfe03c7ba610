/**
 * A small test stream (ffmpeg test pattern and tone, 320x180) published over RTMP to the
 * legitimate user's channel, for the attacks on viewers (HTTP-FLV, LL-HLS, WHEP).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Account } from './context.js';
import { http, sleep } from './net.js';
import type { HostPort } from './options.js';

const LIVE_WAIT_MS = 20_000;

export class LiveStream {
  private ffmpeg?: ChildProcess;
  private ready?: Promise<string | undefined>;
  /** Why the stream could not start (when it did not). */
  failure?: string;

  constructor(private readonly base: string, private readonly rtmp: HostPort | undefined, private readonly account: Account) {}

  /** channel starts the stream on first use and answers the live channel's name, or undefined (see failure). */
  channel(): Promise<string | undefined> {
    this.ready ??= this.start();
    return this.ready;
  }

  private async start(): Promise<string | undefined> {
    if (!this.rtmp) {
      this.failure = 'needs --rtmp to publish a test stream';
      return undefined;
    }
    const host = this.rtmp.host.includes(':') ? `[${this.rtmp.host}]` : this.rtmp.host;
    const ff = spawn(process.env.FFMPEG_PATH ?? 'ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://${host}:${this.rtmp.port}/live/${this.account.streamKey}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.ffmpeg = ff;
    let stderr = '';
    ff.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-500); });
    const spawnError = new Promise<string>((resolve) => ff.once('error', (e) => resolve(e.message)));
    const deadline = Date.now() + LIVE_WAIT_MS;
    while (Date.now() < deadline) {
      const err = await Promise.race([spawnError, sleep(500).then(() => undefined)]);
      if (err) { this.failure = `ffmpeg: ${err}`; return undefined; }
      if (ff.exitCode !== null) { this.failure = `ffmpeg exited: ${stderr.trim()}`; return undefined; }
      const r = await http(`${this.base}/api/v1/channels/${this.account.channel}`);
      if (r.status === 200 && (JSON.parse(r.text) as { stream?: { live?: boolean } }).stream?.live) return this.account.channel;
    }
    this.failure = 'the test stream did not go live within 20 s';
    return undefined;
  }

  stop(): void {
    this.ffmpeg?.kill('SIGKILL');
  }
}
