/**
 * Cluster notices: the messages on Redis pub/sub that claim a role (docs/scale-out.md).
 * Pure: encode, sign, verify; no sockets, no timers.
 *
 *   heartbeat       {"v":1,"type":"heartbeat","node","seq","at","primaries":[{"channel","token","hls"?:{"nextMsn","discontinuity"}}]}
 *   lease-acquired  {"v":1,"type":"lease-acquired","node","seq","at","channel","token"}
 *   lease-released  {"v":1,"type":"lease-released","node","seq","at","channel","token"}
 *
 * On the wire a notice is `{hex HMAC-SHA256 over the body with cluster.secret}.{body}`. A
 * receiver ignores one whose MAC does not match (forged), whose time is further than
 * `maxSkewMs` from its clock (a replay from the past), or whose `seq` is not above the last it
 * accepted from that node (a replay inside the window). `seq` grows across restarts of a node
 * (it starts from the clock in microseconds), so a restarted node is not taken for a replay.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const NOTICE_VERSION = 1;
/** A notice longer than this is junk without parsing (a heartbeat with 100 channels is ~8 KiB). */
export const NOTICE_MAX_BYTES = 64 * 1024;
const MAC_HEX_LENGTH = 64;

const id = z.string().min(1).max(128);
const channel = z.string().min(1).max(64);
const token = z.string().regex(/^\d{1,30}$/);
const head = { v: z.literal(NOTICE_VERSION), node: id, seq: z.number().int().nonnegative(), at: z.number() };
const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** Where a primary's LL-HLS sequence stands (hls/packager.ts SequencePosition): a successor carries it on. */
const hlsSequence = z.object({ nextMsn: counter, discontinuity: counter }).strict();

export const noticeSchema = z.discriminatedUnion('type', [
  z.object({ ...head, type: z.literal('heartbeat'), primaries: z.array(z.object({ channel, token, hls: hlsSequence.optional() }).strict()).max(1000) }).strict(),
  z.object({ ...head, type: z.literal('lease-acquired'), channel, token }).strict(),
  z.object({ ...head, type: z.literal('lease-released'), channel, token }).strict(),
]);

export type ClusterNotice = z.infer<typeof noticeSchema>;
export type HlsSequence = z.infer<typeof hlsSequence>;
export type NoticeType = ClusterNotice['type'];
/** A notice as its sender builds it, before the header fields are stamped. */
export type NoticeBody = ClusterNotice extends infer N ? (N extends ClusterNotice ? Omit<N, 'v' | 'node' | 'seq' | 'at'> : never) : never;

/** Why a notice was ignored. */
export type NoticeRejection = 'too_large' | 'bad_mac' | 'not_json' | 'invalid' | 'stale' | 'replayed' | 'own';

function macOf(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** NoticeSigner stamps this node's notices with its id, a growing sequence number and the time, and signs them. */
export class NoticeSigner {
  private seq: number;

  constructor(private readonly secret: string, readonly node: string, private readonly now: () => number = Date.now) {
    this.seq = now() * 1000;
  }

  sign(body: NoticeBody): string {
    const t = this.now();
    this.seq = Math.max(this.seq + 1, t * 1000);
    const json = JSON.stringify({ v: NOTICE_VERSION, node: this.node, seq: this.seq, at: t, ...body });
    return `${macOf(this.secret, json).toString('hex')}.${json}`;
  }
}

/** NoticeVerifier accepts each authentic notice once, in its sender's order. */
export class NoticeVerifier {
  private readonly lastSeq = new Map<string, number>();

  constructor(
    private readonly secret: string,
    private readonly self: string,
    private readonly maxSkewMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  verify(raw: string | Buffer): { ok: true; notice: ClusterNotice } | { ok: false; why: NoticeRejection } {
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    if (Buffer.byteLength(text) > NOTICE_MAX_BYTES) return { ok: false, why: 'too_large' };
    const dot = text.indexOf('.');
    if (dot !== MAC_HEX_LENGTH) return { ok: false, why: 'bad_mac' };
    const given = Buffer.from(text.slice(0, dot), 'hex');
    const body = text.slice(dot + 1);
    const want = macOf(this.secret, body);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return { ok: false, why: 'bad_mac' };
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return { ok: false, why: 'not_json' };
    }
    const r = noticeSchema.safeParse(json);
    if (!r.success) return { ok: false, why: 'invalid' };
    const n = r.data;
    if (n.node === this.self) return { ok: false, why: 'own' };
    if (Math.abs(this.now() - n.at) > this.maxSkewMs) return { ok: false, why: 'stale' };
    const last = this.lastSeq.get(n.node);
    if (last !== undefined && n.seq <= last) return { ok: false, why: 'replayed' };
    this.lastSeq.set(n.node, n.seq);
    return { ok: true, notice: n };
  }
}
