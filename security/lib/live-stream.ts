/**
 * A small test stream (ffmpeg test pattern and tone, 320x180) published over RTMP to the
 * legitimate user's channel, for the attacks on viewers (HTTP-FLV, LL-HLS, WHEP).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { LEGIT_ADDRESS, type Account } from './context.js';
import { http, proxyV1Header, sleep } from './net.js';
import type { HostPort } from './options.js';

const LIVE_WAIT_MS = 20_000;

export class LiveStream {
  private ffmpeg?: ChildProcess;
  private ready?: Promise<string | undefined>;
  /** Why the stream could not start (when it did not). */
  failure?: string;

  private relay?: Server;

  constructor(private readonly base: string, private readonly rtmp: HostPort | undefined, private readonly account: Account, private readonly proxyProtocol: boolean) {}

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
    const via = this.proxyProtocol ? await this.startRelay(this.rtmp) : this.rtmp;
    const host = via.host.includes(':') ? `[${via.host}]` : via.host;
    const ff = spawn(process.env.FFMPEG_PATH ?? 'ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://${host}:${via.port}/live/${this.account.streamKey}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.ffmpeg = ff;
    let stderr = '';
    ff.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-500); });
    const spawnError = new Promise<string>((resolve) => ff.once('error', (e) => resolve(e.message)));
    const deadline = Date.now() + LIVE_WAIT_MS;
    while (Date.now() < deadline) {
      const err = await Promise.race([spawnError, sleep(500).then(() => undefined)]);
      if (err) { this.failure = `ffmpeg: ${err}`; return undefined; }
      if (ff.exitCode !== null) { this.failure = `ffmpeg exited: ${stderr.trim()}`; return undefined; }
      const r = await http(`${this.base}/api/v1/channels/${this.account.channel}`);
      if (r.status === 200 && (JSON.parse(r.text) as { channel?: { stream?: { live?: boolean } } }).channel?.stream?.live) return this.account.channel;
    }
    this.failure = 'the test stream did not go live within 20 s';
    return undefined;
  }

  /**
   * startRelay listens on loopback and forwards to the RTMP listener with a PROXY header first:
   * the target expects one from this machine (--proxy-protocol) and ffmpeg cannot send it.
   */
  private async startRelay(to: HostPort): Promise<HostPort> {
    const relay = createServer((client) => {
      const upstream = connect({ host: to.host, port: to.port }, () => {
        upstream.write(proxyV1Header(LEGIT_ADDRESS, to));
        client.pipe(upstream).pipe(client);
      });
      const end = () => { client.destroy(); upstream.destroy(); };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    this.relay = relay;
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    return { host: '127.0.0.1', port: (relay.address() as AddressInfo).port };
  }

  stop(): void {
    this.ffmpeg?.kill('SIGKILL');
    this.relay?.close();
  }
}
