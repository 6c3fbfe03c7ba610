/**
 * Restream SSRF: an owner may name any RTMP target; the server must refuse ones that reach this
 * host or private networks, in every spelling, and must connect to the address it checked.
 */
import { createServer, type AddressInfo } from 'node:net';
import type { Attack, AttackContext } from '../lib/context.js';
import { http, sleep } from '../lib/net.js';

/** How long a rebinding push has to reach the trap (relays retry within seconds). */
const REBIND_WAIT_MS = 8000;

async function tryTargets(ctx: AttackContext, urls: string[]): Promise<{ refused: boolean; detail: string }> {
  const a = ctx.accounts.attacker;
  const accepted: string[] = [];
  const odd: string[] = [];
  for (const url of urls) {
    const r = await http(`${ctx.base}/api/v1/channels/${a.channel}/restreams`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.token}`, ...ctx.attackerHeaders() },
      body: JSON.stringify({ name: 'hostile', url, streamKey: 'k', enabled: false }),
    });
    if (r.status === 201) {
      accepted.push(url);
      // Leave nothing behind on the target.
      const id = (JSON.parse(r.text) as { restream: { id: string } }).restream.id;
      await http(`${ctx.base}/api/v1/channels/${a.channel}/restreams/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${a.token}`, ...ctx.attackerHeaders() } });
    } else if (!/restream_target_forbidden|invalid_restream_url/.test(r.text)) odd.push(`${url}: ${r.status} ${r.text.slice(0, 80)}`);
  }
  const refused = accepted.length === 0 && odd.length === 0;
  return { refused, detail: refused ? `${urls.length} targets refused` : [accepted.length ? `accepted: ${accepted.join(' ')}` : '', ...odd].filter(Boolean).join('; ') };
}

export const ssrfPrivateV4: Attack = {
  name: 'ssrf-private-v4',
  what: 'restream targets on loopback, private, link-local (cloud metadata) and CGNAT IPv4 addresses; expect restream_target_forbidden',
  run: (ctx) => tryTargets(ctx, [
    'rtmp://127.0.0.1/live', 'rtmp://127.1/live', 'rtmp://10.0.0.1/live', 'rtmp://172.16.0.1/live', 'rtmp://192.168.1.1/live',
    'rtmp://169.254.169.254/live', 'rtmp://100.64.0.1/live', 'rtmp://0.0.0.0/live', 'rtmp://2130706433/live', 'rtmp://localhost/live',
  ]),
};

export const ssrfIpv6Forms: Attack = {
  name: 'ssrf-ipv6-forms',
  what: 'restream targets in IPv6 spellings of private addresses (::/96, 64:ff9b::/96, fec0::/10, ::ffff:0:0:0/96, mapped); expect restream_target_forbidden',
  run: (ctx) => tryTargets(ctx, [
    'rtmp://[::1]/live', 'rtmp://[::ffff:127.0.0.1]/live', 'rtmp://[::127.0.0.1]/live', 'rtmp://[64:ff9b::7f00:1]/live', 'rtmp://[64:ff9b::a9fe:a9fe]/live',
    'rtmp://[fec0::1]/live', 'rtmp://[::ffff:0:7f00:1]/live', 'rtmp://[::ffff:0:a00:1]/live', 'rtmp://[fe80::1]/live', 'rtmp://[fd00::1]/live',
  ]),
};

export const ssrfRebinding: Attack = {
  name: 'ssrf-rebinding',
  what: 'a live channel pushes to a name that resolves public at the check and to this machine later (DNS rebinding); expect no connection to the private address',
  usesLiveStream: true,
  async run(ctx) {
    const name = ctx.opts.rebindName;
    if (!name) return { skipped: 'needs --rebind-name HOST: a name you control that answers a public address first and 127.0.0.1 afterwards (the target must run on this machine, where the suite listens)' };
    const { channel, why } = await ctx.liveChannel();
    if (!channel) return { skipped: why ?? 'no live channel' };
    // The suite listens on loopback: a push that reaches it went to the rebound, private address.
    let hits = 0;
    const trap = createServer((sock) => { hits++; sock.destroy(); });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const port = (trap.address() as AddressInfo).port;
    const legit = ctx.accounts.legit;
    const auth = { authorization: `Bearer ${legit.token}`, ...ctx.attackerHeaders() };
    try {
      const r = await http(`${ctx.base}/api/v1/channels/${channel}/restreams`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ name: 'hostile-rebind', url: `rtmp://${name}:${port}/live`, streamKey: 'k', enabled: true }),
      });
      if (r.status !== 201) return { refused: true, detail: `refused when saved: ${r.status} ${r.text.slice(0, 120)}` };
      const id = (JSON.parse(r.text) as { restream: { id: string } }).restream.id;
      const until = Date.now() + Math.min(REBIND_WAIT_MS, ctx.msLeft());
      while (hits === 0 && Date.now() < until) await sleep(200);
      await http(`${ctx.base}/api/v1/channels/${channel}/restreams/${id}`, { method: 'DELETE', headers: auth });
      return { refused: hits === 0, detail: hits ? `the push connected to 127.0.0.1:${port} ${hits} time(s)` : `no connection reached 127.0.0.1:${port} in ${REBIND_WAIT_MS / 1000} s` };
    } finally {
      trap.close();
    }
  },
};
