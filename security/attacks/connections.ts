/**
 * Connection floods, one per listener: open many connections from one address, hold them for a
 * moment, and count how many the server kept. A defended server caps connections per address
 * (and globally), so it refuses or closes some of them.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { Attack, AttackContext, Verdict } from '../lib/context.js';
import { closeAll, http, openTcp, openWs, proxyV1Header, sleep, udpExchange, type TcpHold, type WsHold } from '../lib/net.js';
import type { HostPort } from '../lib/options.js';
import { HS_TYPE_INDUCTION, UDT_DGRAM, encodeHandshake } from '../../src/formats/srt-packet.js';

const BATCH = 50;
const HOLD_MS = 2000;
const CONNECT_TIMEOUT_MS = 5000;
/** RTMP handshake C0 (version 3) + C1 (time, zero, 1528 random bytes). */
export const rtmpC0C1 = () => Buffer.concat([Buffer.from([3]), Buffer.alloc(8), randomBytes(1528)]);

async function inBatches<T>(ctx: AttackContext, count: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count && ctx.msLeft() > HOLD_MS; i += BATCH) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => open(i + k)))));
  }
  return out;
}

const hold = (ctx: AttackContext) => sleep(Math.min(HOLD_MS, ctx.msLeft()));

function verdictOf(attempted: number, kept: number, extra = ''): Verdict {
  return { refused: kept < attempted, detail: `${kept} of ${attempted} connections kept open after ${HOLD_MS / 1000} s${extra}` };
}

async function tcpFlood(ctx: AttackContext, at: HostPort | undefined, flag: string, firstBytes: () => Buffer): Promise<Verdict> {
  if (!at) return { skipped: `needs ${flag} HOST:PORT` };
  const holds: TcpHold[] = await inBatches(ctx, ctx.opts.count, () => {
    const first = ctx.opts.proxyProtocol ? Buffer.concat([proxyV1Header(ctx.attackerAddress(), at), firstBytes()]) : firstBytes();
    return openTcp(at, first, CONNECT_TIMEOUT_MS);
  });
  await hold(ctx);
  const kept = holds.filter((h) => h.connected && !h.closedByServer && !h.socket.destroyed).length;
  closeAll(holds);
  return verdictOf(holds.length, kept);
}

export const rtmpConnFlood: Attack = {
  name: 'rtmp-conn-flood',
  what: 'many RTMP connections (handshake started) from one address; expect a per-address cap',
  run: (ctx) => tcpFlood(ctx, ctx.opts.rtmp, '--rtmp', rtmpC0C1),
};

export const rtspConnFlood: Attack = {
  name: 'rtsp-conn-flood',
  what: 'many RTSP connections (one OPTIONS each) from one address; expect a per-address cap',
  run: (ctx) => tcpFlood(ctx, ctx.opts.rtsp, '--rtsp', () => Buffer.from(`OPTIONS rtsp://${ctx.opts.rtsp!.host}:${ctx.opts.rtsp!.port}/live RTSP/1.0\r\nCSeq: 1\r\n\r\n`)),
};

/** srtInduction is the caller's first handshake packet (HSv4 induction, as libsrt sends it). */
export function srtInduction(socketId: number): Buffer {
  return encodeHandshake({
    version: 4, encryption: 0, extensionField: UDT_DGRAM, initialSeq: socketId & 0x7fff_ffff, mtu: 1500, flowWindow: 8192,
    type: HS_TYPE_INDUCTION, socketId, synCookie: 0, peerIp: Buffer.from([127, 0, 0, 1, ...new Array<number>(12).fill(0)]), extensions: [],
  }, 0, 0);
}

export const srtConnFlood: Attack = {
  name: 'srt-conn-flood',
  what: 'SRT handshakes from many UDP ports of one address; expect a per-address cap on handshakes/sessions',
  async run(ctx) {
    const at = ctx.opts.srt;
    if (!at) return { skipped: 'needs --srt HOST:PORT' };
    const n = Math.min(ctx.opts.count, 1000);
    const r = await udpExchange(at, Array.from({ length: n }, (_, i) => srtInduction(0x1000 + i)), Math.min(HOLD_MS, ctx.msLeft()));
    return { refused: r.answered < r.sent, detail: `${r.answered} of ${r.sent} induction handshakes answered` };
  },
};

async function wsFlood(ctx: AttackContext, url: string): Promise<Verdict> {
  const holds: WsHold[] = await inBatches(ctx, ctx.opts.count, () => openWs(url, ctx.attackerHeaders(), CONNECT_TIMEOUT_MS));
  await hold(ctx);
  const kept = holds.filter((h) => h.opened && !h.closedByServer).length;
  const refusedStatuses = [...new Set(holds.map((h) => h.refusedStatus).filter((s) => s !== undefined))];
  closeAll(holds);
  return verdictOf(holds.length, kept, refusedStatuses.length ? `; upgrades refused with ${refusedStatuses.join(', ')}` : '');
}

const wsBase = (ctx: AttackContext) => ctx.base.replace(/^http/, 'ws');

export const chatWsFlood: Attack = {
  name: 'chat-ws-flood',
  what: 'many chat WebSockets (Centrifugo protocol) from one address; expect a per-address cap',
  run: (ctx) => wsFlood(ctx, `${wsBase(ctx)}/connection/websocket`),
};

export const pusherWsFlood: Attack = {
  name: 'pusher-ws-flood',
  what: 'many Pusher-protocol WebSockets from one address; expect a per-address cap',
  async run(ctx) {
    if (!ctx.opts.pusherKey) return { skipped: 'needs --pusher-key KEY' };
    return wsFlood(ctx, `${wsBase(ctx)}/app/${encodeURIComponent(ctx.opts.pusherKey)}?protocol=7&client=js&version=8.4.0`);
  },
};

export const flvViewerFlood: Attack = {
  usesLiveStream: true,
  name: 'flv-viewer-flood',
  what: 'many HTTP-FLV viewers of one live channel from one address; expect a per-address cap',
  async run(ctx) {
    const { channel, why } = await ctx.liveChannel();
    if (!channel) return { skipped: why ?? 'no live channel' };
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    const url = new URL(`${ctx.base}/live/${channel}.flv`);
    type Viewer = { status: number; ended: boolean; destroy(): void };
    const viewers: Viewer[] = await inBatches(ctx, ctx.opts.count, () => new Promise<Viewer>((resolve) => {
      const v: Viewer = { status: 0, ended: false, destroy: () => req.destroy() };
      const req = request(url, { agent, headers: ctx.attackerHeaders(), timeout: CONNECT_TIMEOUT_MS }, (res) => {
        v.status = res.statusCode ?? 0;
        res.on('data', () => {});
        res.on('end', () => { v.ended = true; });
        res.on('error', () => { v.ended = true; });
        resolve(v);
      });
      req.on('error', () => { v.ended = true; resolve(v); });
      req.end();
    }));
    await hold(ctx);
    const kept = viewers.filter((v) => v.status === 200 && !v.ended).length;
    const statuses = [...new Set(viewers.map((v) => v.status))];
    for (const v of viewers) v.destroy();
    agent.destroy();
    return verdictOf(viewers.length, kept, `; statuses ${statuses.join(', ')}`);
  },
};

export const hlsViewerInflation: Attack = {
  usesLiveStream: true,
  name: 'hls-viewer-inflation',
  what: 'LL-HLS playlist requests with a different User-Agent each, from one address; expect the viewer count bounded per address',
  async run(ctx) {
    const { channel, why } = await ctx.liveChannel();
    if (!channel) return { skipped: why ?? 'no live channel' };
    const viewers = async () => {
      const r = await http(`${ctx.base}/api/v1/channels/${channel}`);
      return (JSON.parse(r.text) as { channel?: { stream?: { viewers?: Record<string, number> } } }).channel?.stream?.viewers?.hls ?? 0;
    };
    const before = await viewers();
    const n = Math.min(ctx.opts.count, 500);
    let ok = 0;
    for (let i = 0; i < n && ctx.msLeft() > 0; i += BATCH) {
      const rs = await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, (_, k) =>
        http(`${ctx.base}/live/${channel}/index.m3u8`, { headers: { ...ctx.attackerHeaders(), 'user-agent': `hostile-player/${i + k}` } })));
      ok += rs.filter((r) => r.status === 200).length;
    }
    const gained = (await viewers()) - before;
    return { refused: gained < ok, detail: `${ok} playlist requests with distinct User-Agents; the HLS viewer count grew by ${gained}` };
  },
};

export const whepFlood: Attack = {
  usesLiveStream: true,
  name: 'whep-flood',
  what: 'many WHEP (WebRTC playback) sessions of one live channel from one address; expect a per-address cap',
  async run(ctx) {
    const { channel, why } = await ctx.liveChannel();
    if (!channel) return { skipped: why ?? 'no live channel' };
    const offer = await whepOffer();
    const n = Math.min(ctx.opts.count, 100);
    const locations: string[] = [];
    const statuses = new Map<number, number>();
    let firstRefusal = '';
    for (let i = 0; i < n && ctx.msLeft() > 0; i += 10) {
      const rs = await Promise.all(Array.from({ length: Math.min(10, n - i) }, () =>
        http(`${ctx.base}/live/${channel}/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp', ...ctx.attackerHeaders() }, body: offer })));
      for (const r of rs) {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const loc = r.headers.get('location');
        if (r.status === 201 && loc) locations.push(loc);
        else firstRefusal ||= `${r.status} ${r.text.slice(0, 120)}`;
      }
    }
    for (const loc of locations) await http(new URL(loc, ctx.base).href, { method: 'DELETE', headers: ctx.attackerHeaders() });
    const accepted = statuses.get(201) ?? 0;
    const sent = [...statuses.values()].reduce((a, b) => a + b, 0);
    return { refused: accepted < sent, detail: `${accepted} of ${sent} sessions accepted (${[...statuses].map(([k, v]) => `${k}×${v}`).join(' ')})${firstRefusal ? `; first refusal: ${firstRefusal}` : ''}` };
  },
};

/** whepOffer builds one recvonly H.264 + Opus offer with werift (reused for every session of the flood). */
export async function whepOffer(): Promise<string> {
  const { RTCPeerConnection, RTCRtpCodecParameters } = await import('werift');
  const pc = new RTCPeerConnection({
    iceUseIpv6: false,
    codecs: {
      video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90_000, payloadType: 102, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] })],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2, payloadType: 111 })],
    },
  });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp;
  await pc.close();
  return sdp;
}
