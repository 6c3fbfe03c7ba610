/**
 * UdpPortPool hands out RTP/RTCP socket pairs for RTSP over UDP from media.rtsp.udpPortRange: an
 * even port for RTP and the next one for RTCP (RFC 3550 11), both bound. A pair taken by another
 * process (or another onair) is skipped; the search starts after the last pair handed out, so
 * a released pair is not reused at once (late packets of the old session would land in the new one).
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface UdpPair {
  /** The RTP port (even); RTCP is port + 1. */
  port: number;
  rtp: dgram.Socket;
  rtcp: dgram.Socket;
}

/** parsePortRange reads "LOW-HIGH" into the even RTP ports it allows. */
export function parsePortRange(range: string): { first: number; last: number } {
  const [lo = NaN, hi = NaN] = range.split('-').map(Number);
  const first = lo % 2 === 0 ? lo : lo + 1;
  const last = hi % 2 === 0 ? hi - 2 : hi - 1;
  if (!Number.isInteger(first) || !Number.isInteger(last) || last < first) throw new Error(`media.rtsp.udpPortRange ${range} holds no even/odd port pair`);
  return { first, last };
}

function bind(type: 'udp4' | 'udp6', port: number, host: string): Promise<dgram.Socket | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type, reuseAddr: false });
    const fail = (): void => {
      s.close();
      resolve(null);
    };
    s.once('error', fail);
    s.bind(port, host, () => {
      s.off('error', fail);
      resolve(s);
    });
  });
}

export class UdpPortPool {
  private readonly first: number;
  private readonly last: number;
  private cursor: number;
  readonly inUse = new Set<number>();

  constructor(range: string, private readonly host: string) {
    ({ first: this.first, last: this.last } = parsePortRange(range));
    // Servers sharing the range (tests, a restart) start at different places.
    const pairs = (this.last - this.first) / 2 + 1;
    this.cursor = this.first + 2 * Math.floor(Math.random() * pairs);
  }

  /** allocate binds a free pair; null when every pair in the range is taken. */
  async allocate(): Promise<UdpPair | null> {
    const type = net.isIPv6(this.host) ? 'udp6' : 'udp4';
    const pairs = (this.last - this.first) / 2 + 1;
    for (let i = 0; i < pairs; i++) {
      const port = this.cursor;
      this.cursor = this.cursor + 2 > this.last ? this.first : this.cursor + 2;
      if (this.inUse.has(port)) continue;
      const rtp = await bind(type, port, this.host);
      if (!rtp) continue;
      const rtcp = await bind(type, port + 1, this.host);
      if (!rtcp) {
        rtp.close();
        continue;
      }
      this.inUse.add(port);
      return { port, rtp, rtcp };
    }
    return null;
  }

  /** release closes a pair's sockets and frees its ports. */
  release(pair: UdpPair): void {
    if (!this.inUse.delete(pair.port)) return;
    for (const s of [pair.rtp, pair.rtcp]) {
      s.removeAllListeners('message');
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}
