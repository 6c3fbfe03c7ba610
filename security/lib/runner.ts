/**
 * runSuite sets up two accounts on the target, then runs each attack under a time bound while a
 * legitimate user works, and reports per attack: refused or not, whether the target stayed up,
 * its RSS growth (with --pid) and the legitimate user's success and latency.
 */
import { readFileSync } from 'node:fs';
import { ATTACKER_ADDRESS, LEGIT_ADDRESS, createAccount, forwardedFor, type Accounts, type Attack, type AttackContext } from './context.js';
import { LegitUser, type LegitSummary } from './legit-user.js';
import { LiveStream } from './live-stream.js';
import { http, sleep } from './net.js';
import type { SuiteOptions } from './options.js';

export interface AttackReport {
  name: string;
  what: string;
  /** refused: the server defended as expected; accepted: it did not; skipped: not run (see detail); error: the attack itself failed. */
  outcome: 'refused' | 'accepted' | 'skipped' | 'error';
  detail: string;
  /** The target answered /healthz (and its process exists, with --pid) after the attack. */
  processUp: boolean;
  /** VmRSS after the attack minus before, and the highest sample during it minus before (MiB; null without --pid). */
  rssGrowthMiB: number | null;
  rssPeakGrowthMiB: number | null;
  legit: LegitSummary | null;
  seconds: number;
}

const RSS_SAMPLE_MS = 200;
const SETTLE_MS = 300;
/** The static file the legitimate user loads (every onair web build has it). */
export const STATIC_PATH = '/favicon.svg';

/** rssMiB reads a process's resident set size from /proc (null when it cannot be read). */
export function rssMiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function targetUp(base: string, pid: number | undefined): Promise<boolean> {
  if (pid !== undefined) {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
  }
  return (await http(`${base}/healthz`, { timeoutMs: 10_000 })).status === 200;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export async function setUp(opts: SuiteOptions): Promise<Accounts> {
  const base = opts.target.origin;
  return {
    legit: await createAccount(base, 'legit', forwardedFor(opts, LEGIT_ADDRESS)),
    attacker: await createAccount(base, 'attacker', forwardedFor(opts, ATTACKER_ADDRESS)),
  };
}

/** runAttack runs one attack with the measurements around it. */
export async function runAttack(opts: SuiteOptions, accounts: Accounts, attack: Attack, live: LiveStream): Promise<AttackReport> {
  const base = opts.target.origin;
  const deadline = Date.now() + opts.attackSeconds * 1000;
  const ctx: AttackContext = {
    opts,
    base,
    accounts,
    attackerHeaders: () => forwardedFor(opts, ATTACKER_ADDRESS),
    attackerAddress: () => ATTACKER_ADDRESS,
    msLeft: () => Math.max(0, deadline - Date.now()),
    liveChannel: async () => {
      const channel = await live.channel();
      return channel ? { channel } : { why: live.failure };
    },
  };
  const rssBefore = opts.pid !== undefined ? rssMiB(opts.pid) : null;
  let rssPeak = rssBefore;
  const sampler = opts.pid !== undefined ? setInterval(() => {
    const r = rssMiB(opts.pid!);
    if (r !== null && (rssPeak === null || r > rssPeak)) rssPeak = r;
  }, RSS_SAMPLE_MS) : undefined;
  const legit = new LegitUser(base, accounts.legit, forwardedFor(opts, LEGIT_ADDRESS), STATIC_PATH);
  const t0 = Date.now();
  legit.start();
  let outcome: AttackReport['outcome'];
  let detail: string;
  try {
    let bound: NodeJS.Timeout | undefined;
    // The attack is given its time plus a grace period to clean up; past that it is abandoned.
    const verdict = await Promise.race([
      attack.run(ctx),
      new Promise<never>((_, reject) => { bound = setTimeout(() => reject(new Error(`did not finish within ${opts.attackSeconds + 10} s`)), (opts.attackSeconds + 10) * 1000); }),
    ]).finally(() => clearTimeout(bound));
    if ('skipped' in verdict) {
      outcome = 'skipped';
      detail = verdict.skipped;
    } else {
      outcome = verdict.refused ? 'refused' : 'accepted';
      detail = verdict.detail;
    }
  } catch (e) {
    outcome = 'error';
    detail = e instanceof Error ? e.message : String(e);
  }
  const legitSummary = await legit.stop();
  clearInterval(sampler);
  await sleep(SETTLE_MS);
  const rssAfter = opts.pid !== undefined ? rssMiB(opts.pid) : null;
  return {
    name: attack.name,
    what: attack.what,
    outcome,
    detail,
    processUp: await targetUp(base, opts.pid),
    rssGrowthMiB: rssBefore !== null && rssAfter !== null ? round1(rssAfter - rssBefore) : null,
    rssPeakGrowthMiB: rssBefore !== null && rssPeak !== null ? round1(rssPeak - rssBefore) : null,
    legit: outcome === 'skipped' ? null : legitSummary,
    seconds: round1((Date.now() - t0) / 1000),
  };
}

/** runSuite runs the selected attacks one after another and returns their reports. */
export async function runSuite(opts: SuiteOptions, attacks: Attack[], onReport?: (r: AttackReport) => void): Promise<AttackReport[]> {
  const unknown = (opts.only ?? []).filter((n) => !attacks.some((a) => a.name === n));
  if (unknown.length > 0) throw new Error(`unknown attack(s): ${unknown.join(', ')}`);
  const selected = attacks.filter((a) => !opts.only || opts.only.includes(a.name));
  const accounts = await setUp(opts);
  const live = new LiveStream(opts.target.origin, opts.rtmp, accounts.legit, opts.proxyProtocol);
  const reports: AttackReport[] = [];
  try {
    // Go live before the first attack, so waiting for the stream never eats an attack's time.
    if (selected.some((a) => a.usesLiveStream)) await live.channel();
    for (const a of selected) {
      const r = await runAttack(opts, accounts, a, live);
      reports.push(r);
      onReport?.(r);
    }
  } finally {
    live.stop();
  }
  return reports;
}
