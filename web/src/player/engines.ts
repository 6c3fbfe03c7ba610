/**
 * player/engines.ts: the playback engines behind the player, each a small
 * object with the same shape: attach to a <video>, report levels and latency, detach.
 */
import { ApiError } from '../api';
import { codeText, refusalOfStatus } from '../errors';

export type Protocol = 'webrtc' | 'llhls' | 'native' | 'flv';

export interface Level { index: number; label: string }

export interface Engine {
  readonly protocol: Protocol;
  levels(): Level[];
  currentLevel(): number;
  setLevel(i: number): void;
  /** Seconds behind the live edge, when known. */
  latency(): number | undefined;
  subtitleTracks(): { index: number; label: string }[];
  setSubtitle(i: number): void;
  /** The serving variant (X-Onair-Variant) when the engine could read its response headers. */
  variant(): string | undefined;
  destroy(): void;
}

export interface EngineEvents {
  onError(msg: string, fatal: boolean): void;
  onLevels(): void;
}

export function hlsUrl(channel: string): string { return `/live/${encodeURIComponent(channel)}/index.m3u8`; }
export function flvUrl(channel: string): string { return `/live/${encodeURIComponent(channel)}.flv`; }
export function whepUrl(channel: string): string { return `/live/${encodeURIComponent(channel)}/whep`; }

/** variantHeader reads X-Onair-Variant from what hls.js loaded a playlist with (an XHR or a fetch Response). */
function variantHeader(details: unknown): string | undefined {
  if (details instanceof XMLHttpRequest) return details.getResponseHeader('x-onair-variant') ?? undefined;
  if (details instanceof Response) return details.headers.get('x-onair-variant') ?? undefined;
  return undefined;
}

function bufferedLatency(video: HTMLVideoElement): number | undefined {
  const b = video.buffered;
  if (!b.length) return undefined;
  return Math.max(0, b.end(b.length - 1) - video.currentTime);
}

/** supported lists the protocols this browser can play, best first (WebRTC only when the server offers WHEP). */
export async function supportedProtocols(hasWhep: boolean): Promise<Protocol[]> {
  const out: Protocol[] = [];
  if (hasWhep && typeof RTCPeerConnection === 'function') out.push('webrtc');
  const mse = typeof MediaSource !== 'undefined' || 'ManagedMediaSource' in window;
  if (mse) out.push('llhls');
  const probe = document.createElement('video');
  if (probe.canPlayType('application/vnd.apple.mpegurl')) out.push('native');
  if (mse) out.push('flv');
  return out;
}

/** startHls plays LL-HLS with hls.js in low-latency mode (VOD too, when live is false). */
export async function startHls(video: HTMLVideoElement, url: string, ev: EngineEvents, live = true): Promise<Engine> {
  const { default: Hls } = await import('hls.js');
  const hls = new Hls({ lowLatencyMode: live, maxLiveSyncPlaybackRate: 1.5, backBufferLength: live ? 10 : 60, enableWorker: true, manifestLoadingMaxRetry: 30, manifestLoadingRetryDelay: 1000, levelLoadingMaxRetry: 20 });
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (data.fatal) {
      // A refusal by the server's connection limits is shown (worded) while hls.js keeps trying.
      const refusal = refusalOfStatus(data.response?.code ?? 0);
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) { hls.startLoad(); ev.onError(refusal ? codeText(refusal) ?? data.details : data.details, !!refusal); }
      else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); ev.onError(data.details, false); }
      else ev.onError(data.details, true);
    }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => { ev.onLevels(); void video.play().catch(() => undefined); });
  let variant: string | undefined;
  hls.on(Hls.Events.MANIFEST_LOADED, (_e, data) => { variant = variantHeader(data.networkDetails) ?? variant; });
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => ev.onLevels());
  hls.loadSource(url);
  hls.attachMedia(video);
  return {
    protocol: live ? 'llhls' : 'native',
    levels: () => hls.levels.map((l, index) => ({ index, label: l.height ? `${l.height}p` : `${Math.round(l.bitrate / 1000)} kbps` })),
    currentLevel: () => hls.manualLevel ?? -1,
    setLevel: (i) => { hls.currentLevel = i; },
    latency: () => (live ? (Number.isFinite(hls.latency) && hls.latency > 0 ? hls.latency : bufferedLatency(video)) : undefined),
    subtitleTracks: () => hls.subtitleTracks.map((s, index) => ({ index, label: s.name || s.lang || `#${index + 1}` })),
    setSubtitle: (i) => { hls.subtitleTrack = i; hls.subtitleDisplay = i >= 0; },
    variant: () => variant,
    destroy: () => hls.destroy(),
  };
}

/** startNative plays HLS with the browser's own player (Safari, iOS). */
export function startNative(video: HTMLVideoElement, url: string, ev: EngineEvents): Engine {
  video.src = url;
  const onErr = () => ev.onError(video.error?.message || 'media error', false);
  video.addEventListener('error', onErr);
  void video.play().catch(() => undefined);
  return {
    protocol: 'native',
    levels: () => [],
    currentLevel: () => -1,
    setLevel: () => undefined,
    latency: () => bufferedLatency(video),
    subtitleTracks: () => Array.from(video.textTracks).map((t, index) => ({ index, label: t.label || t.language || `#${index + 1}` })),
    setSubtitle: (i) => { Array.from(video.textTracks).forEach((t, j) => { t.mode = j === i ? 'showing' : 'disabled'; }); },
    variant: () => undefined,
    destroy: () => { video.removeEventListener('error', onErr); video.removeAttribute('src'); video.load(); },
  };
}

/** startFlv plays HTTP-FLV with mpegts.js, chasing the live edge. */
export async function startFlv(video: HTMLVideoElement, url: string, ev: EngineEvents): Promise<Engine> {
  const mod = await import('mpegts.js');
  const mpegts = (mod.default ?? mod);
  const absolute = new URL(url, location.href).href;
  const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: absolute, hasAudio: true, hasVideo: true }, {
    enableWorker: false, enableStashBuffer: false, stashInitialSize: 128, lazyLoad: false,
    liveBufferLatencyChasing: true, liveBufferLatencyMaxLatency: 1.5, liveBufferLatencyMinRemain: 0.3,
  });
  player.on(mpegts.Events.ERROR, (type: string, detail: string, info?: { code?: number }) => {
    // mpegts.js gives the HTTP status of a refused request, not its body: 429/503 are the connection limits' refusals.
    const refusal = refusalOfStatus(info?.code ?? 0);
    ev.onError(refusal ? codeText(refusal) ?? `${type}: ${detail}` : `${type}: ${detail}`, !!refusal);
  });
  player.attachMediaElement(video);
  player.load();
  void (player.play() as Promise<void> | undefined)?.catch?.(() => undefined);
  return {
    protocol: 'flv',
    levels: () => [],
    currentLevel: () => -1,
    setLevel: () => undefined,
    latency: () => bufferedLatency(video),
    subtitleTracks: () => [],
    setSubtitle: () => undefined,
    // mpegts.js does not show response headers: an FLV viewer's variant comes from the proxy or the node (docs/operators.md).
    variant: () => undefined,
    destroy: () => { try { player.pause(); player.unload(); player.detachMediaElement(); player.destroy(); } catch { /* already torn down */ } },
  };
}

/** startWhep plays WebRTC through a WHEP endpoint (offer in, answer out). */
export async function startWhep(video: HTMLVideoElement, url: string, ev: EngineEvents): Promise<Engine> {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; void video.play().catch(() => undefined); };
  pc.onconnectionstatechange = () => { if (pc.connectionState === 'failed') ev.onError('WebRTC connection failed', true); };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await new Promise<void>((res) => {
    if (pc.iceGatheringState === 'complete') return res();
    const t = setTimeout(res, 2000);
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); res(); } };
  });
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
  if (!r.ok) {
    pc.close();
    let e: { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
    try { e = (await r.json() as { error?: typeof e }).error; } catch { /* not JSON */ }
    throw new ApiError(r.status, e?.code ?? `http_${r.status}`, e?.message ?? `WHEP ${r.status}`, e?.details);
  }
  const resource = r.headers.get('location');
  const variant = r.headers.get('x-onair-variant') ?? undefined;
  await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
  return {
    protocol: 'webrtc',
    levels: () => [],
    currentLevel: () => -1,
    setLevel: () => undefined,
    latency: () => undefined,
    subtitleTracks: () => [],
    setSubtitle: () => undefined,
    variant: () => variant,
    destroy: () => {
      pc.close();
      video.srcObject = null;
      if (resource) void fetch(new URL(resource, new URL(url, location.href)).href, { method: 'DELETE' }).catch(() => undefined);
    },
  };
}

/** hasWhep asks the server whether it has a WHEP endpoint for this channel. */
export async function hasWhep(channel: string): Promise<boolean> {
  try {
    const r = await fetch(whepUrl(channel), { method: 'OPTIONS' });
    return r.status !== 404 && r.status !== 405 && r.status < 500;
  } catch {
    return false;
  }
}
