/**
 * The part of SDP (RFC 8866) a WHEP server needs from a browser's offer: its media sections
 * and the payload types offered for H.264 and Opus. Pure: strings in, values out.
 *
 * We pick one H.264 payload type (packetization-mode=1, the profile closest to the source's)
 * and Opus, and narrow the offer to them before the WebRTC stack answers, so the answer names
 * exactly the payload types we send.
 */

export class SdpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdpError';
  }
}

/** MAX_OFFER_BYTES bounds an offer (browsers send a few kB). */
export const MAX_OFFER_BYTES = 64 * 1024;

export interface OfferedCodec {
  pt: number;
  /** Encoding name as written (H264, opus, VP8, rtx...). */
  name: string;
  clockRate: number;
  channels?: number;
  /** fmtp parameters, keys lower-cased. */
  fmtp: Record<string, string>;
}

export interface OfferedMedia {
  kind: string;
  mid?: string;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  port: number;
  codecs: OfferedCodec[];
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** parseOffer reads the media sections of an SDP offer; text that is not SDP throws SdpError. */
export function parseOffer(sdp: string): OfferedMedia[] {
  if (sdp.length > MAX_OFFER_BYTES) throw new SdpError(`offer larger than ${MAX_OFFER_BYTES} bytes`);
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new SdpError('not an SDP offer (no v=0 line)');
  if (!lines.some((l) => l.startsWith('o='))) throw new SdpError('SDP without an o= line');
  const media: (OfferedMedia & { byPt: Map<number, OfferedCodec> })[] = [];
  let sessionDirection: OfferedMedia['direction'] = 'sendrecv';
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new SdpError(`bad SDP line: ${line.slice(0, 40)}`);
    const cur = media[media.length - 1];
    if (line.startsWith('m=')) {
      const [kind, portText, proto, ...formats] = line.slice(2).split(' ');
      if (kind === undefined || proto === undefined) throw new SdpError(`bad m= line: ${line}`);
      const port = Number(portText);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SdpError(`bad m= port: ${line}`);
      const byPt = new Map<number, OfferedCodec>();
      const codecs: OfferedCodec[] = [];
      if (/RTP/.test(proto)) {
        for (const f of formats) {
          const pt = Number(f);
          if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new SdpError(`bad payload type ${f}`);
          const c: OfferedCodec = { pt, name: '', clockRate: 0, fmtp: {} };
          byPt.set(pt, c);
          codecs.push(c);
        }
      }
      media.push({ kind, port, direction: sessionDirection, codecs, byPt });
      continue;
    }
    if (!line.startsWith('a=')) continue;
    const attr = line.slice(2);
    const colon = attr.indexOf(':');
    const key = colon < 0 ? attr : attr.slice(0, colon);
    const value = colon < 0 ? '' : attr.slice(colon + 1);
    if (DIRECTIONS.has(key)) {
      if (cur) cur.direction = key as OfferedMedia['direction'];
      else sessionDirection = key as OfferedMedia['direction'];
      continue;
    }
    if (!cur) continue;
    if (key === 'mid') cur.mid = value;
    else if (key === 'rtpmap') {
      const m = /^(\d+) ([^/]+)\/(\d+)(?:\/(\d+))?$/.exec(value);
      const name = m?.[2];
      if (!m || name === undefined) throw new SdpError(`bad rtpmap: ${value}`);
      const c = cur.byPt.get(Number(m[1]));
      if (c) {
        c.name = name;
        c.clockRate = Number(m[3]);
        if (m[4]) c.channels = Number(m[4]);
      }
    } else if (key === 'fmtp') {
      const m = /^(\d+) (.*)$/.exec(value);
      const params = m?.[2];
      if (!m || params === undefined) throw new SdpError(`bad fmtp: ${value}`);
      const c = cur.byPt.get(Number(m[1]));
      if (c) {
        for (const kv of params.split(';')) {
          const eq = kv.indexOf('=');
          if (eq > 0) c.fmtp[kv.slice(0, eq).trim().toLowerCase()] = kv.slice(eq + 1).trim();
        }
      }
    }
  }
  if (media.length === 0) throw new SdpError('SDP offer without media sections');
  return media.map(({ byPt: _byPt, ...m }) => m);
}

/** profile_idc values (H.264 A.2) that decide the profile-level-id we prefer. */
const PROFILE_BASELINE = 66;
const PROFILE_MAIN = 77;
const PROFILE_HIGH = 100;

/**
 * h264Rank orders offered profile-level-ids for a source of `profileIdc`: the same
 * profile first, then those that decode it in practice (browsers' software H.264 decoders
 * ignore the signalled profile), constrained baseline last as the universal fallback.
 */
function h264Rank(profileLevelId: string | undefined, sourceProfile: number | undefined): number {
  const id = (profileLevelId ?? '42e01f').toLowerCase();
  const profile = parseInt(id.slice(0, 2), 16);
  const constrainedBaseline = profile === PROFILE_BASELINE && (parseInt(id.slice(2, 4), 16) & 0x40) !== 0;
  if (sourceProfile === PROFILE_HIGH || (sourceProfile !== undefined && sourceProfile > PROFILE_HIGH)) {
    return profile === PROFILE_HIGH ? 0 : profile === PROFILE_MAIN ? 1 : constrainedBaseline ? 2 : 3;
  }
  if (sourceProfile === PROFILE_MAIN) return profile === PROFILE_MAIN ? 0 : profile === PROFILE_HIGH ? 1 : constrainedBaseline ? 2 : 3;
  // Baseline or unknown: constrained baseline is what every browser offers and decodes.
  return constrainedBaseline ? 0 : profile === PROFILE_BASELINE ? 1 : profile === PROFILE_MAIN ? 2 : profile === PROFILE_HIGH ? 3 : 4;
}

export interface CodecChoice {
  /** Index of the video section in the offer and the H.264 payload type chosen there. */
  video: { index: number; codec: OfferedCodec };
  /** Opus in the (first) audio section, when the offer has one. */
  audio?: { index: number; codec: OfferedCodec };
}

/**
 * chooseCodecs picks, in the first video section the peer can receive on, the H.264
 * packetization-mode=1 payload type whose profile best fits the source (`sourceProfile`:
 * profile_idc from avcC), and Opus in the first audio section. No H.264 mode 1 → SdpError.
 */
export function chooseCodecs(media: readonly OfferedMedia[], sourceProfile?: number): CodecChoice {
  const receives = (m: OfferedMedia) => m.port !== 0 && (m.direction === 'recvonly' || m.direction === 'sendrecv');
  const vIndex = media.findIndex((m) => m.kind === 'video' && receives(m));
  const video = media[vIndex];
  if (video === undefined) throw new SdpError('the offer has no video section to receive on');
  const h264 = video.codecs
    .filter((c) => c.name.toLowerCase() === 'h264' && c.clockRate === 90_000 && c.fmtp['packetization-mode'] === '1')
    .map((c, order) => ({ c, order, rank: h264Rank(c.fmtp['profile-level-id'], sourceProfile) }))
    .sort((a, b) => a.rank - b.rank || a.order - b.order);
  const best = h264[0];
  if (best === undefined) throw new SdpError('the offer has no H.264 with packetization-mode=1');
  const choice: CodecChoice = { video: { index: vIndex, codec: best.c } };
  const aIndex = media.findIndex((m) => m.kind === 'audio' && receives(m));
  const audio = media[aIndex];
  if (audio !== undefined) {
    const opus = audio.codecs.find((c) => c.name.toLowerCase() === 'opus' && c.clockRate === 48_000);
    if (opus) choice.audio = { index: aIndex, codec: opus };
  }
  return choice;
}

/**
 * narrowOffer rewrites an offer so the chosen sections list only the chosen payload type (and
 * its rtpmap/fmtp/rtcp-fb lines). Other sections are left as they are (the service refuses an
 * offer whose audio section has no Opus before it gets here).
 */
export function narrowOffer(sdp: string, keep: ReadonlyMap<number, number>): string {
  const lines = sdp.split(/\r?\n/);
  const out: string[] = [];
  let index = -1;
  let kept: number | undefined;
  const ptLine = /^a=(rtpmap|fmtp|rtcp-fb):(\d+|\*)[ ]/;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      index++;
      kept = keep.get(index);
      if (kept !== undefined) {
        const parts = line.split(' ');
        out.push([...parts.slice(0, 3), String(kept)].join(' '));
        continue;
      }
    } else if (kept !== undefined) {
      const m = ptLine.exec(line);
      if (m && m[2] !== '*' && Number(m[2]) !== kept) continue;
    }
    out.push(line);
  }
  return out.join('\r\n');
}

/**
 * dropRemoteCandidates removes the offer's candidates we must not use: all of them for an ICE-lite
 * server (it only answers the browser's checks), else the mDNS (`.local`) ones, which a server
 * cannot resolve without sending multicast queries; the browser's checks reach us either way.
 */
export function dropRemoteCandidates(sdp: string, all: boolean): string {
  return sdp
    .split(/\r?\n/)
    .filter((l) => {
      if (!l.startsWith('a=candidate:')) return true;
      return !all && !/\.local$/i.test(l.split(' ')[4] ?? '');
    })
    .join('\r\n');
}
