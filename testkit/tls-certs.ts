/**
 * Shared helpers for the rtmps tests: a throw-away CA, a server certificate it signed and an
 * unrelated self-signed one (made with the openssl CLI in a temp dir), and a small node:tls
 * terminator that forwards each TLS connection to a plain RTMP port.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

const execFileP = promisify(execFile);
/** Certificates live two days: long enough for any run, short if one leaks. */
const CERT_DAYS = '2';

export interface TestCerts {
  dir: string;
  caFile: string;
  caPem: string;
  /** Signed by the CA, for IP 127.0.0.1 and DNS localhost. */
  serverKey: string;
  serverCert: string;
  /** Signed by the CA for DNS other.example only (a name mismatch for 127.0.0.1). */
  otherKey: string;
  otherCert: string;
  /** Self-signed, same names, signed by nobody the client trusts. */
  selfKey: string;
  selfCert: string;
  remove(): void;
}

/** opensslMissing gives a skip reason when the openssl CLI cannot run, else null. */
export async function opensslMissing(): Promise<string | null> {
  try {
    await execFileP('openssl', ['version'], { timeout: 10_000 });
    return null;
  } catch (err) {
    return `openssl CLI not available (${(err as Error).message.split('\n')[0]}): cannot make test certificates`;
  }
}

/** makeCerts creates a CA, two server certificates it signs and a self-signed one (EC P-256). */
export async function makeCerts(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'onair-rtmps-'));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileP('openssl', args, { timeout: 20_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await ssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', CERT_DAYS, '-subj', '/CN=onair test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await ssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  await ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', CERT_DAYS, '-extfile', f('server.ext'));
  await ssl('req', ...ec, '-keyout', f('other.key'), '-out', f('other.csr'), '-subj', '/CN=other.example');
  writeFileSync(f('other.ext'), 'subjectAltName=DNS:other.example\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  await ssl('x509', '-req', '-in', f('other.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('other.pem'), '-days', CERT_DAYS, '-extfile', f('other.ext'));
  await ssl('req', '-x509', ...ec, '-keyout', f('self.key'), '-out', f('self.pem'), '-days', CERT_DAYS, '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  return {
    dir,
    caFile: f('ca.pem'),
    caPem: readFileSync(f('ca.pem'), 'utf8'),
    serverKey: readFileSync(f('server.key'), 'utf8'),
    serverCert: readFileSync(f('server.pem'), 'utf8'),
    otherKey: readFileSync(f('other.key'), 'utf8'),
    otherCert: readFileSync(f('other.pem'), 'utf8'),
    selfKey: readFileSync(f('self.key'), 'utf8'),
    selfCert: readFileSync(f('self.pem'), 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsTerminator {
  port: number;
  /** TCP connections accepted (TLS handshakes attempted). */
  attempts: number;
  /** Date.now() of each accepted connection. */
  attemptTimes: number[];
  /** Handshakes that completed (the client trusted the certificate). */
  sessions: number;
  /** The SNI names clients sent (false: none). */
  servernames: (string | false)[];
  close(): Promise<void>;
}

/** startTlsTerminator accepts TLS on 127.0.0.1:0 and pipes each session to 127.0.0.1:backendPort. */
export async function startTlsTerminator(backendPort: number, key: string, cert: string): Promise<TlsTerminator> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = createTlsServer({ key, cert }, (tls: TLSSocket) => {
    t.sessions++;
    t.servernames.push(tls.servername ?? false);
    const plain = netConnect({ host: '127.0.0.1', port: backendPort, noDelay: true });
    track(plain);
    tls.pipe(plain).pipe(tls);
    tls.on('error', () => plain.destroy());
    plain.on('error', () => tls.destroy());
    tls.on('close', () => plain.destroy());
    plain.on('close', () => tls.destroy());
  });
  server.on('connection', (s: Socket) => {
    s.setNoDelay(true);
    t.attempts++;
    t.attemptTimes.push(Date.now());
    track(s);
  });
  // Handshakes the client aborts (untrusted certificate) are expected here.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const t: TlsTerminator = {
    port: (server.address() as AddressInfo).port,
    attempts: 0,
    attemptTimes: [],
    sessions: 0,
    servernames: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return t;
}
