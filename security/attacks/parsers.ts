/**
 * Oversize and malformed input on every parser: HTTP JSON bodies, the RTMP handshake and chunk
 * stream, RTSP requests, SRT packets, WHIP/WHEP SDP and the PROXY protocol header. A defended
 * server answers each with an error or closes the connection, keeps little memory, and stays up.
 */
import { randomBytes } from 'node:crypto';
import type { Attack, AttackContext, Verdict } from '../lib/context.js';
import { answeredOrClosed, http, proxyV1Header, tcpProbe, udpExchange, type TcpProbeResult } from '../lib/net.js';
import type { HostPort } from '../lib/options.js';
import { encodeChunks, setChunkSizeMessage, RTMP_MSG_COMMAND_AMF0 } from '../../src/formats/rtmp-chunk.js';
import { CTRL_HANDSHAKE, encodeControl, encodeDataPacket } from '../../src/formats/srt-packet.js';
import { rtmpC0C1, srtInduction } from './connections.js';

const PROBE_WAIT_MS = 3000;

/** preamble is the PROXY header a trusted balancer would send first (with --proxy-protocol), so the parser under test sees the bytes. */
function preamble(ctx: AttackContext, at: HostPort): Buffer[] {
  return ctx.opts.proxyProtocol ? [proxyV1Header(ctx.attackerAddress(), at)] : [];
}

async function tcpCases(ctx: AttackContext, at: HostPort, cases: Array<[string, Buffer[]]>, ok: (r: TcpProbeResult) => boolean = answeredOrClosed, withPreamble = true): Promise<Verdict> {
  const results: string[] = [];
  let failed = 0;
  for (const [name, chunks] of cases) {
    if (ctx.msLeft() === 0) break;
    const r = await tcpProbe(at, [...(withPreamble ? preamble(ctx, at) : []), ...chunks], Math.min(PROBE_WAIT_MS, ctx.msLeft()));
    const good = r.connected && ok(r);
    if (!good) failed++;
    results.push(`${name}: ${!r.connected ? 'no connection' : r.closedByServer ? 'closed' : r.head ? `answered ${r.head.split('\r\n')[0]!.slice(0, 40)}` : 'kept open, no answer'}`);
  }
  return { refused: failed === 0, detail: results.join('; ') };
}

export const httpJson: Attack = {
  name: 'http-json',
  what: 'oversize, malformed, deeply nested and mistyped JSON bodies and a header flood on the REST API; expect 4xx for each',
  async run(ctx) {
    const url = `${ctx.base}/api/v1/auth/login`;
    const json = { 'content-type': 'application/json', ...ctx.attackerHeaders() };
    const cases: Array<[string, RequestInit]> = [
      ['body of 8 MiB', { method: 'POST', headers: json, body: `{"username":"${'a'.repeat(8 << 20)}"}` }],
      ['truncated JSON', { method: 'POST', headers: json, body: '{"username":"a","password":' }],
      ['JSON nested 50000 deep', { method: 'POST', headers: json, body: '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000) }],
      ['wrong types', { method: 'POST', headers: json, body: '{"username":["a"],"password":{"$gt":""}}' }],
      ['prototype keys', { method: 'POST', headers: json, body: '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"username":"a","password":"b"}' }],
      ['binary body', { method: 'POST', headers: json, body: randomBytes(4096) }],
      ['200 headers of 8 KiB', { method: 'POST', headers: { ...json, ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'.repeat(8192)])) }, body: '{}' }],
    ];
    const results: string[] = [];
    let failed = 0;
    for (const [name, init] of cases) {
      const r = await http(url, init);
      // 0: the server dropped the connection, which is a refusal too (e.g. an oversized header block).
      const good = r.status === 0 || (r.status >= 400 && r.status < 500);
      if (!good) failed++;
      results.push(`${name}: ${r.status || 'connection closed'}`);
    }
    return { refused: failed === 0, detail: results.join('; ') };
  },
};

export const rtmpMalformed: Attack = {
  name: 'rtmp-malformed',
  what: 'a bad RTMP version, random bytes, and a connect command of garbage AMF after a good handshake; expect a close',
  async run(ctx) {
    const at = ctx.opts.rtmp;
    if (!at) return { skipped: 'needs --rtmp HOST:PORT' };
    const c2 = randomBytes(1536);
    return tcpCases(ctx, at, [
      ['version 0xff', [Buffer.concat([Buffer.from([0xff]), randomBytes(1536)])]],
      ['random bytes', [Buffer.concat([Buffer.from([3]), randomBytes(1536), randomBytes(1536), randomBytes(65536)])]],
      ['garbage AMF connect', [rtmpC0C1(), c2, encodeChunks(3, RTMP_MSG_COMMAND_AMF0, 0, 0, Buffer.concat([Buffer.from([0x02, 0xff, 0xff]), randomBytes(300)]), 128)]],
      ['chunk size 0', [rtmpC0C1(), c2, Buffer.concat([Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0]), Buffer.alloc(4)])]],
    ]);
  },
};

export const rtmpPreauthBuffering: Attack = {
  name: 'rtmp-preauth-buffering',
  what: 'before publish/play, 16 chunk streams each start a 4 MiB message and never finish it; expect a small pre-auth limit (close)',
  async run(ctx) {
    const at = ctx.opts.rtmp;
    if (!at) return { skipped: 'needs --rtmp HOST:PORT' };
    const chunkSize = 65536;
    const partial: Buffer[] = [];
    for (let csid = 4; csid < 20; csid++) {
      // fmt 0 header: timestamp 0, length 4 MiB (under the usual message limit), type 20 (AMF0 command), stream 0; then one chunk of payload.
      const header = Buffer.from([csid, 0, 0, 0, 0x40, 0x00, 0x00, RTMP_MSG_COMMAND_AMF0, 0, 0, 0, 0]);
      partial.push(Buffer.concat([header, randomBytes(chunkSize)]));
    }
    // Four connections at once, so their buffers add up in the target's RSS.
    const results = await Promise.all(Array.from({ length: 4 }, () =>
      tcpProbe(at, [...preamble(ctx, at), rtmpC0C1(), randomBytes(1536), setChunkSizeMessage(chunkSize), ...partial], Math.min(PROBE_WAIT_MS, ctx.msLeft()))));
    const kept = results.filter((r) => !r.closedByServer).length;
    return { refused: kept === 0, detail: `${results.length} connections × 16 partial 4 MiB messages: ${kept} kept open for ${PROBE_WAIT_MS / 1000} s` };
  },
};

export const rtspMalformed: Attack = {
  name: 'rtsp-malformed',
  what: 'RTSP random bytes, a 1 MiB request line, a lying Content-Length, 1000 headers and a stray interleaved frame; expect 4xx or a close',
  async run(ctx) {
    const at = ctx.opts.rtsp;
    if (!at) return { skipped: 'needs --rtsp HOST:PORT' };
    const url = `rtsp://${at.host}:${at.port}/live/x`;
    const options = Buffer.from(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 2\r\n\r\n`);
    // Every case must end in an answer (any RTSP status) or a close, never silence.
    const answered = (r: TcpProbeResult) => r.closedByServer || r.head.startsWith('RTSP/1.0 ');
    return tcpCases(ctx, at, [
      ['random bytes then a blank line', [randomBytes(8192), Buffer.from('\r\n\r\n')]],
      ['1 MiB request line', [Buffer.from(`DESCRIBE ${url}/${'a'.repeat(1 << 20)}`)]],
      ['Content-Length 1e9', [Buffer.from(`ANNOUNCE ${url} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 999999999\r\n\r\n`), randomBytes(65536)]],
      ['1000 headers', [Buffer.from(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n${Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${'v'.repeat(100)}\r\n`).join('')}\r\n`)]],
      ['interleaved frame before setup, then OPTIONS', [Buffer.from([0x24, 0, 0xff, 0xff]), randomBytes(65535), options]],
    ], answered);
  },
};

export const srtMalformed: Attack = {
  name: 'srt-malformed',
  what: 'random datagrams, truncated handshakes, data for unknown sockets and bad conclusions on SRT; expect them dropped and SRT still answering',
  async run(ctx) {
    const at = ctx.opts.srt;
    if (!at) return { skipped: 'needs --srt HOST:PORT' };
    const garbage: Buffer[] = [];
    for (let i = 0; i < 200; i++) garbage.push(randomBytes(1 + Math.floor(Math.random() * 1400)));
    for (let i = 0; i < 100; i++) garbage.push(encodeControl(CTRL_HANDSHAKE, 0, 0, 0, randomBytes(i % 48)));
    for (let i = 0; i < 100; i++) garbage.push(encodeDataPacket({ seq: i, position: 3, inOrder: false, encryption: 0, retransmitted: false, messageNumber: 1, timestamp: 0, destinationSocketId: 0x5000 + i, payload: randomBytes(1316) }));
    for (let i = 0; i < 50; i++) garbage.push(Buffer.concat([srtInduction(0x2000 + i).subarray(0, 16 + 48).fill(0xff, 36, 40), randomBytes(200)]));
    await udpExchange(at, garbage, 500);
    const after = await udpExchange(at, [srtInduction(0x7777)], 2000);
    return { refused: after.answered === 1, detail: `${garbage.length} malformed datagrams sent; a good induction afterwards was ${after.answered ? 'answered' : 'NOT answered'}` };
  },
};

export const sdpMalformed: Attack = {
  usesLiveStream: true,
  name: 'sdp-malformed',
  what: 'garbage, oversize and mistyped SDP to WHIP and WHEP; expect 4xx for each',
  async run(ctx) {
    const live = await ctx.liveChannel();
    const channel = live.channel ?? ctx.accounts.legit.channel;
    const bodies: Array<[string, string | Buffer, string]> = [
      ['garbage', 'v=0\r\nthis is not sdp\r\n', 'application/sdp'],
      ['binary', randomBytes(8192), 'application/sdp'],
      ['2 MiB SDP', `v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n${'a=x:'.padEnd(1000, 'y') + '\r\n'}`.repeat(2000), 'application/sdp'],
      ['5000 m-lines', `v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n${'m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\n'.repeat(5000)}`, 'application/sdp'],
      ['JSON as SDP', '{"sdp":1}', 'application/json'],
    ];
    const results: string[] = [];
    let failed = 0;
    for (const [name, body, type] of bodies) {
      for (const [where, url, auth] of [
        ['WHIP', `${ctx.base}/whip`, { authorization: `Bearer ${ctx.accounts.attacker.streamKey}` }],
        ['WHEP', `${ctx.base}/live/${channel}/whep`, {}],
      ] as const) {
        const r = await http(url, { method: 'POST', headers: { 'content-type': type, ...auth, ...ctx.attackerHeaders() }, body });
        const good = r.status === 0 || (r.status >= 400 && r.status < 500);
        if (!good) failed++;
        results.push(`${where} ${name}: ${r.status || 'connection closed'}`);
        const loc = r.headers.get('location');
        if (r.status === 201 && loc) await http(new URL(loc, ctx.base).href, { method: 'DELETE' });
      }
    }
    return { refused: failed === 0, detail: `${live.channel ? 'live' : 'offline'} channel; ${results.join('; ')}` };
  },
};

export const proxyHeader: Attack = {
  name: 'proxy-header',
  what: 'malformed PROXY protocol headers (v1 garbage, endless v1 line, v2 bad version, v2 lying length) on RTMP and RTSP; expect a close',
  async run(ctx) {
    if (!ctx.opts.proxyProtocol) return { skipped: 'needs --proxy-protocol (the RTMP/RTSP listeners must expect the header from this machine; otherwise these bytes are plain garbage, covered by rtmp-malformed and rtsp-malformed)' };
    const v2sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
    const cases: Array<[string, Buffer[]]> = [
      ['v1 garbage', [Buffer.from('PROXY TCP4 999.1.1.1 nonsense\r\n'), rtmpC0C1()]],
      ['v1 without end', [Buffer.from(`PROXY TCP4 ${'1'.repeat(4096)}`)]],
      ['v2 bad version', [Buffer.concat([v2sig, Buffer.from([0x31, 0x11, 0, 12]), randomBytes(12)])]],
      ['v2 lying length', [Buffer.concat([v2sig, Buffer.from([0x21, 0x11, 0xff, 0xff]), randomBytes(64)])]],
    ];
    const out: string[] = [];
    let refused = true;
    let ran = 0;
    for (const [flag, at] of [['rtmp', ctx.opts.rtmp], ['rtsp', ctx.opts.rtsp]] as const) {
      if (!at) continue;
      ran++;
      // No preamble: these bytes are the (bad) PROXY header itself.
      const v = await tcpCases(ctx, at, cases, (r) => r.closedByServer || /^RTSP\/\d\.\d [45]\d\d/.test(r.head), false);
      if ('refused' in v && !v.refused) refused = false;
      out.push(`${flag}: ${'detail' in v ? v.detail : v.skipped}`);
    }
    if (ran === 0) return { skipped: 'needs --rtmp or --rtsp' };
    return { refused, detail: out.join(' | ') };
  },
};
