/** What every attack gets: the options, the accounts the suite made, addresses to speak as, and its time bound. */
import { randomBytes } from 'node:crypto';
import type { SuiteOptions } from './options.js';
import { http } from './net.js';

export interface Account {
  username: string;
  password: string;
  token: string;
  channel: string;
  streamKey: string;
}

export interface Accounts {
  legit: Account;
  attacker: Account;
}

export interface AttackContext {
  opts: SuiteOptions;
  /** http://host:port without a trailing slash. */
  base: string;
  accounts: Accounts;
  /** Headers that make an attack request come from the attacker's address (X-Forwarded-For when spoofing is on). */
  attackerHeaders(): Record<string, string>;
  /** The attacker's source address for PROXY protocol headers. */
  attackerAddress(): string;
  /** Milliseconds left of this attack's time bound. */
  msLeft(): number;
  /** A live channel to attack as a viewer (publishing a test stream on first use), or undefined with the reason. */
  liveChannel(): Promise<{ channel?: string; why?: string }>;
}

export type Verdict = { refused: boolean; detail: string } | { skipped: string };

export interface Attack {
  name: string;
  /** One line: what is sent and what a defended server does. */
  what: string;
  /** The attack plays a live channel (the suite publishes a test stream before the first such attack). */
  usesLiveStream?: boolean;
  run(ctx: AttackContext): Promise<Verdict>;
}

/** The one address every attack speaks from (TEST-NET-2), and the legitimate user's (TEST-NET-3). */
export const ATTACKER_ADDRESS = '198.51.100.66';
export const LEGIT_ADDRESS = '203.0.113.7';

export function forwardedFor(opts: SuiteOptions, address: string): Record<string, string> {
  return opts.spoofForwardedFor ? { 'x-forwarded-for': address } : {};
}

const suffix = () => randomBytes(4).toString('hex');

/** createAccount registers a user with a channel of its own, so the suite never touches existing data. */
export async function createAccount(base: string, role: string, headers: Record<string, string>): Promise<Account> {
  const username = `hostile-${role}-${suffix()}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const json = { 'content-type': 'application/json', ...headers };
  const reg = await http(`${base}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ username, password }) });
  if (reg.status !== 201) throw new Error(`setup: registering ${username} answered ${reg.status} ${reg.text.slice(0, 200)} (the suite needs open registration on the target)`);
  const token = (JSON.parse(reg.text) as { token: string }).token;
  const channel = `h${role.slice(0, 1)}${suffix()}`;
  const ch = await http(`${base}/api/v1/channels`, { method: 'POST', headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify({ name: channel }) });
  if (ch.status !== 201) throw new Error(`setup: creating channel ${channel} answered ${ch.status} ${ch.text.slice(0, 200)}`);
  return { username, password, token, channel, streamKey: (JSON.parse(ch.text) as { streamKey: string }).streamKey };
}

/** chatToken asks the platform for a chat connection token for an account. */
export async function chatToken(base: string, account: Account, headers: Record<string, string>): Promise<string> {
  const r = await http(`${base}/api/v1/chat/token`, { method: 'POST', headers: { authorization: `Bearer ${account.token}`, ...headers } });
  if (r.status !== 200) throw new Error(`chat token: ${r.status} ${r.text.slice(0, 200)}`);
  return (JSON.parse(r.text) as { token: string }).token;
}
