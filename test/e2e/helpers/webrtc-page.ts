/**
 * Page-side WebRTC helpers for the e2e tests. Page functions are serialized into Chromium, so
 * they cannot import; installWebrtcPage(page) defines `window.rtcTest` once, and the tests'
 * page functions call it:
 *   rtcTest.oscillator()                     an audio track (48 kHz oscillator)
 *   rtcTest.gathered(pc)                     ICE gathering complete (or 2 s)
 *   rtcTest.whipPublish(video, key, opts)    sendonly H.264 (+ audio) offer → POST /whip
 *   rtcTest.whepPlay(url)                    recvonly video + audio offer → POST url
 */
import type { Page } from 'playwright-core';

export interface WhipPublishOptions {
  url?: string;
  /** Video codec MIME type to prefer (default video/h264). */
  codec?: string;
  /** Keep the canvas size when a loaded machine makes Chromium's encoder adapt (default true). */
  maintainResolution?: boolean;
  /** Audio track to send (default: a fresh oscillator). */
  audio?: MediaStreamTrack;
  /** A second video section, sent after the audio one, in this codec (MIME type, e.g. video/vp8). */
  extraVideo?: { track: MediaStreamTrack; codec: string };
}

export interface WhipPublishResult {
  status: number;
  body: string;
  location: string | null;
  contentType: string | null;
  /** The peer connection, closed when the server refused. */
  pc: RTCPeerConnection;
}

/** RTC_PAGE runs in the page: it must stay self-contained. */
const RTC_PAGE = () => {
  const gathered = (pc: RTCPeerConnection) =>
    new Promise<void>((res) => {
      if (pc.iceGatheringState === 'complete') return res();
      const t = setTimeout(res, 2000);
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(t);
          res();
        }
      };
    });
  const oscillator = () => {
    const ac = new AudioContext({ sampleRate: 48000 });
    const osc = ac.createOscillator();
    osc.frequency.value = 440;
    const dest = ac.createMediaStreamDestination();
    osc.connect(dest);
    osc.start();
    void ac.resume();
    return dest.stream.getAudioTracks()[0]!;
  };
  (window as any).rtcTest = {
    gathered,
    oscillator,
    async whipPublish(video: MediaStreamTrack, key: string, opts: WhipPublishOptions = {}): Promise<WhipPublishResult> {
      const codec = (opts.codec ?? 'video/h264').toLowerCase();
      const pc = new RTCPeerConnection();
      const vt = pc.addTransceiver(video, { direction: 'sendonly' });
      vt.setCodecPreferences(RTCRtpSender.getCapabilities('video')!.codecs.filter((c) => c.mimeType.toLowerCase() === codec));
      if (opts.maintainResolution !== false) {
        // Not contentHint 'detail': with it Chromium's H.264 encoder makes nearly every frame an IDR.
        const params = vt.sender.getParameters();
        (params as any).degradationPreference = 'maintain-resolution';
        await vt.sender.setParameters(params).catch(() => undefined);
      }
      pc.addTransceiver(opts.audio ?? oscillator(), { direction: 'sendonly' });
      if (opts.extraVideo) {
        const extra = opts.extraVideo.codec.toLowerCase();
        const xt = pc.addTransceiver(opts.extraVideo.track, { direction: 'sendonly' });
        xt.setCodecPreferences(RTCRtpSender.getCapabilities('video')!.codecs.filter((c) => c.mimeType.toLowerCase() === extra));
      }
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const r = await fetch(opts.url ?? '/whip', { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: pc.localDescription!.sdp });
      const body = await r.text();
      const result = { status: r.status, body, location: r.headers.get('location'), contentType: r.headers.get('content-type'), pc };
      if (r.status !== 201) pc.close();
      else await pc.setRemoteDescription({ type: 'answer', sdp: body });
      return result;
    },
    async whepPlay(url: string): Promise<{ status: number; pc: RTCPeerConnection }> {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
      if (r.status !== 201) {
        pc.close();
        return { status: r.status, pc };
      }
      await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
      return { status: r.status, pc };
    },
  };
};

/** installWebrtcPage defines window.rtcTest in the page's current document. */
export async function installWebrtcPage(page: Page): Promise<void> {
  // tsx (esbuild keepNames) wraps named inner functions in __name(...); the page has no such helper.
  await page.evaluate('globalThis.__name ??= (f) => f');
  await page.evaluate(RTC_PAGE);
}
