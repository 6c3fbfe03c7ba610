/**
 * GoLive: "go live from this browser" in the studio. The camera and microphone (or a screen)
 * are published over WHIP (POST /whip with the stream key as bearer token; docs/whip.md):
 * H.264 preferred, all candidates gathered before the offer, DELETE on stop.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLang, type Lang } from '../i18n';
import { errorText } from '../errors';
import { ApiError, errorOf } from '../api';

const STRINGS = {
  en: {
    title: 'Go live from this browser',
    hint: 'Publishes over WebRTC (WHIP) with the stream key, instead of OBS.',
    source: 'Source',
    camera: 'Camera and microphone',
    screen: 'Screen (with microphone)',
    key: 'Stream key',
    keyHint: 'Paste the stream key (it is shown only once; rotate it to get a new one).',
    start: 'Go live',
    stop: 'Stop',
    starting: 'Connecting…',
    live: 'Live from this browser',
    busy: 'The channel is already live (from OBS or another browser).',
    badKey: 'The stream key is wrong or was rotated.',
    noH264: 'This browser cannot send H.264 video.',
    failed: 'Could not go live: {reason}',
  },
  ko: {
    title: '이 브라우저에서 방송하기',
    hint: 'OBS 대신 스트림 키로 WebRTC(WHIP) 송출을 합니다.',
    source: '소스',
    camera: '카메라와 마이크',
    screen: '화면 (마이크 포함)',
    key: '스트림 키',
    keyHint: '스트림 키를 붙여 넣으세요 (키는 한 번만 보입니다. 새 키가 필요하면 재발급하세요).',
    start: '방송 시작',
    stop: '중지',
    starting: '연결 중…',
    live: '이 브라우저에서 방송 중',
    busy: '이미 방송 중인 채널입니다 (OBS 또는 다른 브라우저).',
    badKey: '스트림 키가 틀렸거나 재발급되었습니다.',
    noH264: '이 브라우저는 H.264 영상을 보낼 수 없습니다.',
    failed: '방송을 시작하지 못했습니다: {reason}',
  },
} satisfies Record<Lang, Record<string, string>>;

type Key = keyof typeof STRINGS.en;
/** Longest wait for our own ICE candidates before the offer goes out anyway. */
const GATHER_TIMEOUT_MS = 2000;

interface Publishing {
  pc: RTCPeerConnection;
  stream: MediaStream;
  location: string | null;
}

async function captureSource(kind: 'camera' | 'screen'): Promise<MediaStream> {
  if (kind === 'camera') return navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } }, audio: true });
  const screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 30 } }, audio: false });
  try {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const track of mic.getAudioTracks()) screen.addTrack(track);
  } catch { /* no microphone: video only */ }
  return screen;
}

/** startWhip publishes a stream; resolves with the session resource, or rejects with an HTTP status. */
async function startWhip(stream: MediaStream, streamKey: string): Promise<Publishing> {
  const pc = new RTCPeerConnection();
  const video = stream.getVideoTracks()[0];
  const audio = stream.getAudioTracks()[0];
  const vt = pc.addTransceiver(video ?? 'video', { direction: 'sendonly', streams: [stream] });
  const h264 = (RTCRtpSender.getCapabilities('video')?.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === 'video/h264');
  if (h264.length === 0) { pc.close(); throw new Error('no-h264'); }
  vt.setCodecPreferences(h264);
  // Opus is needed even without a microphone (the server asks for it); the section then stays silent.
  pc.addTransceiver(audio ?? 'audio', { direction: 'sendonly', streams: [stream] });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); } });
  });
  const res = await fetch('/whip', { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${streamKey}` }, body: pc.localDescription!.sdp });
  const body = await res.text();
  if (res.status !== 201) {
    pc.close();
    let e: ReturnType<typeof errorOf> = {};
    try { e = errorOf(JSON.parse(body) as unknown); } catch { /* plain text */ }
    throw new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? body, e.details);
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  return { pc, stream, location: res.headers.get('location') };
}

async function stopWhip(p: Publishing): Promise<void> {
  for (const track of p.stream.getTracks()) track.stop();
  // DELETE before closing: a closed peer connection sends a DTLS close that ends the session on the
  // server first, and the DELETE then meets a 404 the console reports as an error.
  if (p.location) await fetch(p.location, { method: 'DELETE' }).catch(() => undefined);
  p.pc.close();
}

export function GoLive({ streamKey, live }: { channel: string; streamKey: string | null; live: boolean }) {
  const lang = useLang();
  const s = (k: Key, vars: Record<string, string> = {}) => STRINGS[lang][k].replace(/\{(\w+)\}/g, (_, v: string) => vars[v] ?? '');
  const [source, setSource] = useState<'camera' | 'screen'>('camera');
  const [typedKey, setTypedKey] = useState('');
  const [state, setState] = useState<'idle' | 'starting' | 'live'>('idle');
  const [error, setError] = useState<string | null>(null);
  const pub = useRef<Publishing | null>(null);
  const preview = useRef<HTMLVideoElement>(null);
  const key = streamKey ?? typedKey.trim();

  const stop = async () => {
    const p = pub.current;
    pub.current = null;
    setState('idle');
    if (preview.current) preview.current.srcObject = null;
    if (p) await stopWhip(p);
  };
  useEffect(() => () => { void stop(); }, []);

  const start = async () => {
    setError(null);
    setState('starting');
    let stream: MediaStream | null = null;
    try {
      stream = await captureSource(source);
      if (preview.current) preview.current.srcObject = stream;
      const p = await startWhip(stream, key);
      pub.current = p;
      p.pc.addEventListener('connectionstatechange', () => {
        if (p.pc.connectionState === 'connected' && pub.current === p) setState('live');
        if (p.pc.connectionState === 'failed' && pub.current === p) { setError(s('failed', { reason: 'ICE' })); void stop(); }
      });
      // A screen share ended from the browser's own bar ends the publish.
      stream.getVideoTracks()[0]?.addEventListener('ended', () => { if (pub.current === p) void stop(); });
    } catch (err) {
      for (const track of stream?.getTracks() ?? []) track.stop();
      if (preview.current) preview.current.srcObject = null;
      setState('idle');
      const status = (err as { status?: number }).status;
      const msg = errorText(err);
      setError(status === 401 ? s('badKey') : status === 409 ? s('busy') : msg === 'no-h264' ? s('noH264') : s('failed', { reason: msg }));
    }
  };

  const active = state !== 'idle';
  return (
    <section class="card span-2" aria-labelledby="golive-h" id="golive" data-golive={state}>
      <h2 id="golive-h">{s('title')}</h2>
      <p class="muted small">{s('hint')}</p>
      <label class="inline-label">
        {s('source')}
        <select value={source} disabled={active} onChange={(e) => setSource((e.target as HTMLSelectElement).value as 'camera' | 'screen')} name="golive-source">
          <option value="camera">{s('camera')}</option>
          <option value="screen">{s('screen')}</option>
        </select>
      </label>
      {!streamKey && (
        <label class="inline-label">
          {s('key')}
          <input type="password" autocomplete="off" value={typedKey} disabled={active} onInput={(e) => setTypedKey((e.target as HTMLInputElement).value)} name="golive-key" />
        </label>
      )}
      {!streamKey && <p class="muted small">{s('keyHint')}</p>}
      <video ref={preview} muted autoplay playsInline class="golive-preview" hidden={!active} style={{ maxWidth: "100%", maxHeight: "240px", background: "#000" }} />
      <p>
        {active
          ? <button type="button" class="btn" onClick={() => void stop()}>{s('stop')}</button>
          : <button type="button" class="btn primary" disabled={!key || (live && !active)} onClick={() => void start()}>{s('start')}</button>}
        {' '}
        <span class="muted" role="status">{state === 'starting' ? s('starting') : state === 'live' ? s('live') : live ? s('busy') : ''}</span>
      </p>
      {error && <p class="error" role="alert">{error}</p>}
    </section>
  );
}
