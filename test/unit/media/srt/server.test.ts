/**
 * The SRT listener's handshake against a hand-driven caller: the induction answer (v5, SRT magic,
 * cookie) keeps no state; a conclusion with a wrong cookie gets no answer; the right one gets
 * HSRSP with the larger latency; a repeated conclusion gets the same answer; rejections carry
 * 1000 + reason; data from another address is ignored; SHUTDOWN ends the session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { silentLogger } from '../../../../src/observability/logger.js';
import { SrtServer } from '../../../../src/media/srt/server.js';
import type { TsHub } from '../../../../src/media/srt/ingest.js';
import {
  decodeHsReq, decodeSrtPacket, encodeControl, encodeDataPacket, encodeHandshake, encodeHsReq, encodeStreamId, CTRL_SHUTDOWN, HS_TYPE_CONCLUSION,
  HS_TYPE_INDUCTION, PP_SOLO, rejectionReason, REJ_UNSECURE, REJX_FORBIDDEN, REJX_OVERLOAD, SRT_CMD_HSREQ, SRT_CMD_HSRSP, SRT_CMD_KMREQ, SRT_CMD_SID, SRT_MAGIC_CODE,
  SRT_OPT_TSBPDRCV, SRT_OPT_TSBPDSND, type Handshake, type HandshakeExtension,
} from '../../../../src/formats/srt-packet.js';

const CALLER_ID = 0x0102_0304;
const ISN = 12345;

async function setup(opts: { maxSessionsPerIp?: number; callerAddress?: string; srt?: SrtServer } = {}) {
  const hub: TsHub = { publish: () => null };
  const srt = opts.srt ?? new SrtServer({
    logger: silentLogger(), hub, latencyMs: 120, maxPayload: 1456, idleTimeoutMs: 5000, maxSessions: 4,
    ...(opts.maxSessionsPerIp !== undefined ? { maxSessionsPerIp: opts.maxSessionsPerIp } : {}),
    // Every key but "bad" is good, publishing the channel of its name.
    authorizePublish: async (key) => (key === 'good' ? { ok: true, channel: 'c' } : key !== 'bad' ? { ok: true, channel: key } : { ok: false, reason: 'invalid stream key', kind: 'key' }),
  });
  const port = opts.srt ? opts.srt.port : await srt.listen(0, '127.0.0.1');
  const caller = dgram.createSocket('udp4');
  await new Promise<void>((r) => caller.bind(0, opts.callerAddress ?? '127.0.0.1', () => r()));
  const inbox: Buffer[] = [];
  caller.on('message', (m) => inbox.push(m));
  const send = (b: Buffer) => caller.send(b, port, '127.0.0.1');
  const next = async (ms = 500): Promise<Buffer | null> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const m = inbox.shift();
      if (m) return m;
      await new Promise((r) => setTimeout(r, 5));
    }
    return null;
  };
  return { srt, caller, send, next, async close() { caller.close(); if (!opts.srt) await srt.close(); } };
}

function hs(type: number, cookie: number, extensions: HandshakeExtension[] = [], version = 5): Buffer {
  const h: Handshake = {
    version, encryption: 0, extensionField: version === 4 ? 2 : 5, initialSeq: ISN, mtu: 1500, flowWindow: 8192, type, socketId: CALLER_ID, synCookie: cookie,
    peerIp: Buffer.alloc(16), extensions,
  };
  return encodeHandshake(h, 0, 0);
}

const hsreq = (latency: number) => ({ type: SRT_CMD_HSREQ, data: encodeHsReq({ srtVersion: 0x010501, flags: 0xbf, receiverDelayMs: latency, senderDelayMs: latency }) });
const sid = (id: string) => ({ type: SRT_CMD_SID, data: encodeStreamId(id) });

async function induce(t: Awaited<ReturnType<typeof setup>>): Promise<number> {
  t.send(hs(HS_TYPE_INDUCTION, 0, [], 4));
  const p = decodeSrtPacket((await t.next())!);
  assert.equal(p.kind, 'handshake');
  if (p.kind !== 'handshake') throw new Error();
  assert.equal(p.destinationSocketId, CALLER_ID);
  assert.equal(p.handshake.version, 5);
  assert.equal(p.handshake.extensionField, SRT_MAGIC_CODE);
  assert.equal(p.handshake.type, HS_TYPE_INDUCTION);
  assert.notEqual(p.handshake.synCookie, 0);
  return p.handshake.synCookie;
}

test('induction keeps no state; a wrong cookie gets no answer; the right one gets HSRSP with the larger latency, twice the same', async () => {
  const t = await setup();
  try {
    const cookie = await induce(t);
    assert.equal(t.srt.sessionCount(), 0);
    t.send(hs(HS_TYPE_CONCLUSION, cookie ^ 1, [hsreq(300), sid('publish:good')]));
    assert.equal(await t.next(200), null, 'spoofed cookie: silence');
    t.send(hs(HS_TYPE_CONCLUSION, cookie, [hsreq(300), sid('publish:good')]));
    const answer = (await t.next())!;
    const p = decodeSrtPacket(answer);
    if (p.kind !== 'handshake') throw new Error('not a handshake');
    assert.equal(p.handshake.type, HS_TYPE_CONCLUSION);
    assert.equal(p.handshake.initialSeq, ISN);
    assert.notEqual(p.handshake.socketId, 0);
    const rsp = p.handshake.extensions.find((e) => e.type === SRT_CMD_HSRSP)!;
    const r = decodeHsReq(rsp.data);
    assert.equal(r.receiverDelayMs, 300, 'max(120, caller 300)');
    assert.ok(r.flags & SRT_OPT_TSBPDRCV && r.flags & SRT_OPT_TSBPDSND);
    assert.equal(t.srt.sessionCount(), 1);
    t.send(hs(HS_TYPE_CONCLUSION, cookie, [hsreq(300), sid('publish:good')]));
    let again = await t.next();
    while (again && !(again[0] === 0x80 && again[1] === 0)) again = await t.next(); // skip anything but handshakes
    assert.deepEqual(again, answer, 'a repeated conclusion gets the same answer');
    assert.equal(t.srt.sessionCount(), 1);
    const ours = p.handshake.socketId;
    // Data from another port is not this session's.
    const other = dgram.createSocket('udp4');
    await new Promise<void>((res) => other.bind(0, '127.0.0.1', () => res()));
    const data = encodeDataPacket({ seq: ISN, position: PP_SOLO, inOrder: false, encryption: 0, retransmitted: false, messageNumber: 1, timestamp: 0, destinationSocketId: ours, payload: Buffer.alloc(188, 0x47) });
    other.send(data, t.srt.port, '127.0.0.1');
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(t.srt.stats()[0]!.packets, 0);
    other.close();
    t.send(data);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(t.srt.stats()[0]!.packets, 1);
    t.send(encodeControl(CTRL_SHUTDOWN, 0, 0, ours, Buffer.alloc(4)));
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(t.srt.sessionCount(), 0);
  } finally {
    await t.close();
  }
});

test('rejections: a wrong key (1403 → 2403 on the wire), encryption asked (SRT_REJ_UNSECURE)', async () => {
  const t = await setup();
  try {
    const cookie = await induce(t);
    t.send(hs(HS_TYPE_CONCLUSION, cookie, [hsreq(120), sid('publish:bad')]));
    const p = decodeSrtPacket((await t.next())!);
    if (p.kind !== 'handshake') throw new Error();
    assert.equal(p.handshake.type, 2403);
    assert.equal(rejectionReason(p.handshake.type), REJX_FORBIDDEN);
    const t2 = await setup();
    try {
      const c2 = await induce(t2);
      t2.send(hs(HS_TYPE_CONCLUSION, c2, [hsreq(120), { type: SRT_CMD_KMREQ, data: Buffer.alloc(16) }, sid('publish:good')]));
      const q = decodeSrtPacket((await t2.next())!);
      if (q.kind !== 'handshake') throw new Error();
      assert.equal(rejectionReason(q.handshake.type), REJ_UNSECURE);
      assert.equal(t2.srt.sessionCount(), 0);
    } finally {
      await t2.close();
    }
  } finally {
    await t.close();
  }
});

test('limits.srt.perIp: one address past its cap is rejected with SRT_REJX_OVERLOAD; another address still publishes', async () => {
  const a = await setup({ maxSessionsPerIp: 1 });
  const b = await setup({ srt: a.srt });
  const c = await setup({ srt: a.srt, callerAddress: '127.0.0.2' });
  try {
    const answerOf = async (t: typeof a, key: string) => {
      const cookie = await induce(t);
      t.send(hs(HS_TYPE_CONCLUSION, cookie, [hsreq(120), sid(`publish:${key}`)]));
      const p = decodeSrtPacket((await t.next())!);
      if (p.kind !== 'handshake') throw new Error('not a handshake');
      return p.handshake.type;
    };
    assert.equal(await answerOf(a, 'one'), HS_TYPE_CONCLUSION);
    const refused = await answerOf(b, 'two');
    assert.equal(rejectionReason(refused), REJX_OVERLOAD, 'the same address (another port) is over its cap');
    assert.equal(await answerOf(c, 'three'), HS_TYPE_CONCLUSION, '127.0.0.2 is another address');
    assert.equal(a.srt.sessionCount(), 2);
    assert.deepEqual(a.srt.limits.refused, { per_ip: 1, global: 0 });
  } finally {
    await c.close();
    await b.close();
    await a.close();
    await a.srt.close();
  }
});
