/** Test doubles for the HLS service: a manual clock and a minimal stream hub. */
import { EventEmitter } from 'node:events';
import type { AudioTrackInfo, MediaFrame, StreamHubApi, StreamSubscriber, VideoTrackInfo } from '../src/media/hub/types.js';
import type { HlsClock } from '../src/media/hls/service.js';

export class FakeClock implements HlsClock {
  t = 1_700_000_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers.delete(h as number);
  };
  /** advance moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  pending(): number {
    return this.timers.size;
  }
}

export class FakeHub extends EventEmitter implements StreamHubApi {
  subs = new Map<string, Set<StreamSubscriber>>();
  live = new Set<string>();
  subscribe(channel: string, s: StreamSubscriber): () => void {
    let set = this.subs.get(channel);
    if (!set) this.subs.set(channel, (set = new Set()));
    set.add(s);
    return () => set.delete(s);
  }
  isLive(channel: string): boolean {
    return this.live.has(channel);
  }
  liveChannels(): string[] {
    return [...this.live];
  }
  publish(channel: string, video: VideoTrackInfo | undefined, audio: AudioTrackInfo | undefined): void {
    this.live.add(channel);
    this.emit('streamStart', channel);
    for (const s of this.subs.get(channel) ?? []) s.onTracks?.(video, audio);
  }
  frame(channel: string, f: MediaFrame): void {
    for (const s of this.subs.get(channel) ?? []) s.onFrame(f);
  }
  end(channel: string): void {
    this.live.delete(channel);
    for (const s of [...(this.subs.get(channel) ?? [])]) s.onEnd?.('unpublished');
    this.subs.delete(channel);
    this.emit('streamEnd', channel, 'unpublished');
  }
}
