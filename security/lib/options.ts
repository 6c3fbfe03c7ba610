/**
 * Command-line options of the hostile-input suite and the loopback guard: the suite attacks only
 * this machine unless the operator states, with --i-own-this-host, that the target is theirs.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export interface SuiteOptions {
  /** Base URL of the HTTP port (API, web app, chat, HTTP-FLV, HLS, WHEP). */
  target: URL;
  rtmp?: HostPort;
  rtsp?: HostPort;
  srt?: HostPort;
  /** Run only the attacks with these names. */
  only?: string[];
  /** PID of the target process when it runs on this machine (RSS from /proc/PID/status). */
  pid?: number;
  /** Pusher app key (the web app's key; printed by `onair serve`). */
  pusherKey?: string;
  /** The target trusts this machine's X-Forwarded-For: attackers and the legitimate user get distinct made-up addresses. */
  spoofForwardedFor: boolean;
  /** The target's RTMP/RTSP listeners trust this machine as a PROXY protocol balancer: attack connections name made-up sources. */
  proxyProtocol: boolean;
  /** Connections, requests or messages per flood (each attack is bounded by this and by attackSeconds). */
  count: number;
  /** Longest time one attack may run. */
  attackSeconds: number;
  /** A host name the operator set up to answer a public address first and a private one later (DNS rebinding). */
  rebindName?: string;
  iOwnThisHost: boolean;
  json: boolean;
}

export class UsageError extends Error {}

export const USAGE = `usage: npm run hostile -- --target http://127.0.0.1:8080 [options]
  --rtmp HOST:PORT --rtsp HOST:PORT --srt HOST:PORT   media listeners to attack (left out: skipped)
  --only NAME[,NAME]      run only these attacks (--list names them)
  --pid PID               the target's process id, to read its RSS (same machine only)
  --pusher-key KEY        the Pusher app key, for the Pusher WebSocket attacks
  --spoof-forwarded-for   the target trusts our X-Forwarded-For (http.trustProxy): attackers and the
                          legitimate user get different addresses, as on the internet
  --proxy-protocol        the target trusts us as PROXY protocol balancer (media.proxyProtocol.trusted)
  --count N               connections/requests per flood (default 200, at most 5000)
  --attack-seconds S      time bound of each attack (default 15, at most 120)
  --rebind-name HOST      a name that resolves public first, private later (DNS rebinding check)
  --i-own-this-host       allow a target that is not this machine (yours only!)
  --json                  print the reports as JSON
  --list                  list the attacks and exit`;

const MAX_COUNT = 5000;
const MAX_ATTACK_SECONDS = 120;

function hostPort(flag: string, v: string): HostPort {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || !(port > 0 && port < 65536)) throw new UsageError(`${flag}: expected HOST:PORT, got "${v}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function boundedInt(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag}: an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

/** parseOptions reads the command line (without node and the script); --help and --list are left to the caller. */
export function parseOptions(argv: string[]): SuiteOptions {
  const o: Partial<SuiteOptions> = { spoofForwardedFor: false, proxyProtocol: false, count: 200, attackSeconds: 15, iOwnThisHost: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--target': {
        const v = value();
        let u: URL;
        try {
          u = new URL(v);
        } catch {
          throw new UsageError(`--target: not a URL: "${v}"`);
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--target: http:// or https://');
        o.target = new URL(u.origin);
        break;
      }
      case '--rtmp': o.rtmp = hostPort(flag, value()); break;
      case '--rtsp': o.rtsp = hostPort(flag, value()); break;
      case '--srt': o.srt = hostPort(flag, value()); break;
      case '--only': o.only = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--pid': o.pid = boundedInt(flag, value(), 1, 2 ** 22); break;
      case '--pusher-key': o.pusherKey = value(); break;
      case '--spoof-forwarded-for': o.spoofForwardedFor = true; break;
      case '--proxy-protocol': o.proxyProtocol = true; break;
      case '--count': o.count = boundedInt(flag, value(), 1, MAX_COUNT); break;
      case '--attack-seconds': o.attackSeconds = boundedInt(flag, value(), 1, MAX_ATTACK_SECONDS); break;
      case '--rebind-name': o.rebindName = value(); break;
      case '--i-own-this-host': o.iOwnThisHost = true; break;
      case '--json': o.json = true; break;
      default: throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (!o.target) throw new UsageError('--target is required');
  return o as SuiteOptions;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** isLoopbackAddress says whether an IP literal is this machine's loopback (IPv4-mapped forms included). */
export function isLoopbackAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return LOOPBACK.check(mapped[1]!, 'ipv4');
  const family = isIP(ip);
  return family === 4 ? LOOPBACK.check(ip, 'ipv4') : family === 6 ? LOOPBACK.check(ip, 'ipv6') : false;
}

/**
 * assertTargetsAllowed refuses any target host that is not loopback (every address a name
 * resolves to must be) unless iOwnThisHost is set.
 */
export async function assertTargetsAllowed(o: SuiteOptions, resolve: (host: string) => Promise<string[]> = defaultResolve): Promise<void> {
  if (o.iOwnThisHost) return;
  const hosts = [o.target.hostname.replace(/^\[|\]$/g, ''), o.rtmp?.host, o.rtsp?.host, o.srt?.host].filter((h): h is string => !!h);
  for (const host of new Set(hosts)) {
    const addresses = isIP(host) ? [host] : await resolve(host);
    if (addresses.length === 0 || !addresses.every(isLoopbackAddress)) {
      throw new UsageError(`refusing to attack ${host} (${addresses.join(', ') || 'unresolved'}): not this machine's loopback. Run the suite only against a deployment you own, and then add --i-own-this-host`);
    }
  }
}

async function defaultResolve(host: string): Promise<string[]> {
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}
