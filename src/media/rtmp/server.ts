/**
 * RtmpServer accepts RTMP connections and runs one RtmpSession per socket.
 * stop() closes the listener and every session, leaving no handle open.
 */
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { RtmpSession, type RtmpSessionContext } from './session.js';
import { ProxyProtocolGate, type ProxyProtocolOptions } from '../proxy-protocol-gate.js';
import type { ListenerLimits } from '../../net/listener-limits.js';

export class RtmpServer {
  private server: Server | null = null;
  readonly sessions = new Set<RtmpSession>();
  /** gate decides each connection's client address (media.proxyProtocol) before the session starts. */
  readonly gate: ProxyProtocolGate;

  constructor(
    private readonly ctx: RtmpSessionContext,
    proxyProtocol: ProxyProtocolOptions = { enabled: false, trusted: [], headerTimeoutMs: 0 },
    /** limits (limits.rtmp) count connections per client address; over a cap the socket is closed before the handshake. */
    private readonly limits: ListenerLimits | null = null,
  ) {
    this.gate = new ProxyProtocolGate(proxyProtocol, ctx.logger);
  }

  /** listen starts accepting; port 0 picks a free port. Resolves with the bound port. */
  async listen(port: number, host: string): Promise<number> {
    const server = createServer({ noDelay: true }, (socket: Socket) => this.gate.admit(socket, (s, clientIp) => this.accept(s, clientIp)));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.ctx.logger.error({ err }, 'rtmp listener error'));
    return (server.address() as AddressInfo).port;
  }

  private accept(socket: Socket, clientIp: string): void {
    const admission = this.limits?.admit(clientIp);
    if (admission && !admission.ok) {
      socket.destroy();
      return;
    }
    const session = new RtmpSession(socket, this.ctx, (s) => {
      this.sessions.delete(s);
      admission?.lease.release();
    }, clientIp);
    this.sessions.add(session);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.gate.close();
    for (const s of [...this.sessions]) s.close('server shutting down');
    this.sessions.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
