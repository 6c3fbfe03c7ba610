/**
 * npm run hostile -- --target http://127.0.0.1:8080 [...]: the hostile-input suite. Attacks a
 * deployment you own with bounded floods and malformed input, and reports per attack whether it
 * was refused, whether the server stayed up, its RSS growth (--pid) and how a legitimate user
 * fared meanwhile. Loopback only unless --i-own-this-host. See docs/security.md.
 */
import { ATTACKS } from './attacks/index.js';
import { USAGE, UsageError, assertTargetsAllowed, parseOptions } from './lib/options.js';
import { runSuite, type AttackReport } from './lib/runner.js';

const fmt = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '-' : String(n));

function line(r: AttackReport): string {
  const legit = r.legit ? `legit ${r.legit.rounds - r.legit.failedRounds}/${r.legit.rounds} ok, p50 ${fmt(r.legit.p50Ms)} ms, p95 ${fmt(r.legit.p95Ms)} ms` : '';
  const mark = { refused: 'REFUSED ', accepted: 'ACCEPTED', skipped: 'skipped ', error: 'ERROR   ' }[r.outcome];
  const head = `${mark} ${r.name.padEnd(24)} up=${r.processUp ? 'yes' : 'NO '} rss+${fmt(r.rssGrowthMiB)} MiB (peak +${fmt(r.rssPeakGrowthMiB)}) ${legit}`;
  const failures = r.legit?.failures.length ? `\n         legit failures: ${r.legit.failures.join(' | ')}` : '';
  return `${head}\n         ${r.detail}${failures}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.length === 0) {
    console.log(USAGE);
    return 0;
  }
  if (argv.includes('--list')) {
    for (const a of ATTACKS) console.log(`${a.name.padEnd(24)} ${a.what}`);
    return 0;
  }
  const opts = parseOptions(argv);
  await assertTargetsAllowed(opts);
  const reports = await runSuite(opts, [...ATTACKS], opts.json ? undefined : (r) => console.log(line(r)));
  if (opts.json) console.log(JSON.stringify({ target: opts.target.origin, at: new Date().toISOString(), reports }, null, 2));
  const down = reports.some((r) => !r.processUp);
  return down ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(e instanceof UsageError ? `${e.message}\n\n${USAGE}` : e instanceof Error ? e.message : String(e));
  process.exit(2);
});
