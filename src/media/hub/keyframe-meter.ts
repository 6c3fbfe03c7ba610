/**
 * KeyframeMeter measures each live channel's keyframe interval from the outside of the hub: it
 * subscribes to every stream as it starts and keeps the decode times of its last few video
 * keyframes, so the owner's live view (GET /api/v1/channels/{name}/live) can show how far apart
 * they are — a long interval means slow joins and late LL-HLS parts.
 */
import type { MediaFrame, StreamHubApi, StreamSubscriber } from './types.js';

/** KEYFRAMES_KEPT bounds the window: the interval is averaged over the last KEYFRAMES_KEPT - 1 GOPs. */
export const KEYFRAMES_KEPT = 6;

/** KeyframeWindow keeps the decode times (ms) of the most recent video keyframes. */
export class KeyframeWindow {
  private readonly times: number[] = [];

  add(dtsMs: number): void {
    const last = this.times[this.times.length - 1];
    if (last !== undefined && dtsMs <= last) return; // the GOP cache replay of a late subscription
    this.times.push(dtsMs);
    if (this.times.length > KEYFRAMES_KEPT) this.times.shift();
  }

  /** intervalSeconds is the mean time between the kept keyframes; undefined before the second one. */
  intervalSeconds(): number | undefined {
    const first = this.times[0];
    const last = this.times[this.times.length - 1];
    if (first === undefined || last === undefined || this.times.length < 2) return undefined;
    return Math.round((last - first) / (this.times.length - 1)) / 1000;
  }
}

type MeterHub = Pick<StreamHubApi, 'subscribe' | 'liveChannels'> & {
  on(event: 'streamStart', listener: (channel: string) => void): unknown;
  off(event: 'streamStart', listener: (channel: string) => void): unknown;
};

/** KeyframeMeter attaches a KeyframeWindow to every live stream of a hub until stop(). */
export class KeyframeMeter {
  private readonly windows = new Map<string, { window: KeyframeWindow; detach: () => void }>();
  private readonly onStart = (channel: string): void => this.attach(channel);

  constructor(private readonly hub: MeterHub) {}

  start(): void {
    this.hub.on('streamStart', this.onStart);
    for (const channel of this.hub.liveChannels()) this.attach(channel);
  }

  stop(): void {
    this.hub.off('streamStart', this.onStart);
    for (const w of this.windows.values()) w.detach();
    this.windows.clear();
  }

  /** intervalSeconds answers the channel's keyframe interval, when it is live and has shown two keyframes. */
  intervalSeconds(channel: string): number | undefined {
    return this.windows.get(channel)?.window.intervalSeconds();
  }

  private attach(channel: string): void {
    this.windows.get(channel)?.detach();
    const window = new KeyframeWindow();
    const sub: StreamSubscriber = {
      onFrame: (f: MediaFrame) => {
        if (f.kind === 'video' && f.keyframe) window.add(f.dts);
      },
      onEnd: () => {
        if (this.windows.get(channel)?.window === window) this.windows.delete(channel);
      },
    };
    const detach = this.hub.subscribe(channel, sub);
    this.windows.set(channel, { window, detach });
  }
}
