/** Chat attacks: publishing to made-up channel names, and malformed protocol frames on both chat protocols. */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { chatToken, type Attack, type AttackContext, type Verdict } from '../lib/context.js';
import { ChatClient } from '../lib/chat-client.js';

const REPLY_TIMEOUT_MS = 5000;
const FRAME_WAIT_MS = 1500;

export const chatChannelFlood: Attack = {
  name: 'chat-channel-flood',
  what: 'one chat connection publishes to thousands of random chat: channel names; expect refusals (channels exist only for onair channels, per-user rate limit)',
  async run(ctx) {
    const chatUrl = `${ctx.base.replace(/^http/, 'ws')}/connection/websocket`;
    const client = await ChatClient.open(chatUrl, await chatToken(ctx.base, ctx.accounts.attacker, ctx.attackerHeaders()), ctx.attackerHeaders(), REPLY_TIMEOUT_MS);
    const n = Math.min(ctx.opts.count * 10, 5000);
    let accepted = 0;
    let sent = 0;
    const errors = new Map<string, number>();
    try {
      for (let i = 0; i < n && ctx.msLeft() > 0 && !client.closed; i += 100) {
        const rs = await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => client.publish(`chat:zz${randomBytes(8).toString('hex')}`, { text: 'x'.repeat(200) }, REPLY_TIMEOUT_MS)));
        sent += rs.length;
        for (const r of rs) {
          if (!r.error) accepted++;
          else errors.set(`${r.error.code} ${r.error.message}`, (errors.get(`${r.error.code} ${r.error.message}`) ?? 0) + 1);
        }
      }
    } finally {
      client.close();
    }
    const errs = [...errors].map(([k, v]) => `${k} ×${v}`).join('; ');
    return { refused: accepted < sent, detail: `${accepted} of ${sent} publications to made-up channels accepted${errs ? `; refused: ${errs}` : ''}${client.closed ? '; the server closed the connection' : ''}` };
  },
};

/** frameProbe opens a WebSocket, sends one frame and says how the server reacted within FRAME_WAIT_MS. */
function frameProbe(url: string, headers: Record<string, string>, frame: string | Buffer, before?: string): Promise<'closed' | 'error-reply' | 'ignored' | 'no-connection'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: REPLY_TIMEOUT_MS, maxPayload: 1 << 20 });
    let timer: NodeJS.Timeout | undefined;
    const done = (v: 'closed' | 'error-reply' | 'ignored' | 'no-connection') => { clearTimeout(timer); ws.removeAllListeners(); ws.on('error', () => {}); ws.terminate(); resolve(v); };
    let opened = false;
    ws.on('open', () => {
      opened = true;
      if (before) ws.send(before);
      ws.send(frame, (err) => { if (err) done('closed'); });
      timer = setTimeout(() => done('ignored'), FRAME_WAIT_MS);
    });
    ws.on('message', (m) => { if (/error/i.test(m.toString())) done('error-reply'); });
    ws.on('close', () => done(opened ? 'closed' : 'no-connection'));
    ws.on('error', () => done(opened ? 'closed' : 'no-connection'));
  });
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** The malformed frames sent to each chat protocol, by name. */
export function badFrames(): Array<[string, string | Buffer]> {
  return [
    ['garbage text', 'not json at all \u0000\uffff'],
    ['truncated JSON', '{"id":1,"connect":{"token":'],
    ['binary garbage', randomBytes(4096)],
    ['JSON nested 20000 deep', nested(20_000)],
    ['wrong types', '{"id":"x","publish":{"channel":123,"data":null}}'],
    ['oversize frame (4 MiB)', 'x'.repeat(4 << 20)],
  ];
}

async function framesAttack(ctx: AttackContext, url: string, before?: string): Promise<Verdict> {
  const results: string[] = [];
  let ignored = 0;
  for (const [name, frame] of badFrames()) {
    if (ctx.msLeft() === 0) break;
    const r = await frameProbe(url, ctx.attackerHeaders(), frame, before);
    if (r === 'ignored' || r === 'no-connection') ignored++;
    results.push(`${name}: ${r}`);
  }
  return { refused: ignored === 0, detail: results.join('; ') };
}

export const chatFrames: Attack = {
  name: 'chat-frames',
  what: 'garbage, truncated, binary, deeply nested, mistyped and oversize frames on the chat WebSocket; expect an error reply or a close for each',
  run: (ctx) => framesAttack(ctx, `${ctx.base.replace(/^http/, 'ws')}/connection/websocket`),
};

export const pusherFrames: Attack = {
  name: 'pusher-frames',
  what: 'the same malformed frames on the Pusher WebSocket; expect an error event or a close for each',
  async run(ctx) {
    if (!ctx.opts.pusherKey) return { skipped: 'needs --pusher-key KEY' };
    return framesAttack(ctx, `${ctx.base.replace(/^http/, 'ws')}/app/${encodeURIComponent(ctx.opts.pusherKey)}?protocol=7&client=js&version=8.4.0`);
  },
};
