// The hostile-input suite (security/, `npm run hostile`) against a fresh server (issue 19,
// acceptance): every attack runs while a legitimate user logs in, fetches a channel, chats and
// loads a static file. Asserts the server stays up, its RSS grows < 150 MiB per attack, the
// legitimate user's every round succeeds (latency is reported, not asserted), and each attack the
// server already defends against is refused. The server runs in a child process of its own, so
// its RSS is the server's alone and a crash shows as a dead process.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ATTACKS } from '../../security/attacks/index.js';
import { parseOptions, assertTargetsAllowed, UsageError } from '../../security/lib/options.js';
import { runSuite, type AttackReport } from '../../security/lib/runner.js';

const WEB_PUBLIC = fileURLToPath(new URL('../../web/public', import.meta.url));
const RSS_BUDGET_MIB = 150;
/** Attacks per flood: above every per-address cap this test's config sets. */
const COUNT = 30;

/**
 * Attacks whose defence lands in a parallel branch; the lead empties this after merging each fix
 * (and sets that fix's per-address caps below COUNT in the config below, since their defaults are
 * generous for carrier NAT). Until then they must run without error but may be accepted.
 */
const PENDING = new Set([
  // SRT answers inductions statelessly (SYN cookies; they hold nothing); limits.srt.perIp applies at the
  // conclusion (test/unit/media/srt/server.test.ts). The attack counts induction answers only, so it
  // cannot see the cap until it completes conclusions with a stream key.
  'srt-conn-flood',
]);
/**
 * Attacks that cannot run against the test server: ssrf-rebinding needs a name that resolves public
 * first and to loopback later, i.e. a resolver the server uses, and onair's public config has no
 * resolver setting (a stub can only be injected inside the restream code's own tests).
 */
const NEEDS_SERVER_SUPPORT = new Set(['ssrf-rebinding']);

const SERVER_HELPER = fileURLToPath(new URL('../../testkit/server.ts', import.meta.url));

interface ChildServer {
  child: ChildProcess;
  httpUrl: string;
  ports: Record<string, number>;
  pusherKey: string;
}

/** startChildServer runs startTestServer in a child node process and reads its addresses from one JSON line. */
async function startChildServer(overrides: Record<string, unknown>): Promise<ChildServer> {
  const code = `
    const { startTestServer } = await import(${JSON.stringify(SERVER_HELPER)});
    const s = await startTestServer(${JSON.stringify(overrides)});
    console.log(JSON.stringify({ httpUrl: s.httpUrl, ports: s.ports, pusherKey: s.secrets.pusherKey }));
    process.on('SIGTERM', () => { void s.close().then(() => process.exit(0)); });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ONAIR_LOG_LEVEL: 'silent' } });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`the server exited (${c}) before it listened`)));
  });
  return { child, ...(JSON.parse(first) as Omit<ChildServer, 'child'>) };
}

describe('hostile-input suite', () => {
  let s: ChildServer;
  let reports: AttackReport[] = [];

  before(async () => {
    s = await startChildServer({
      // Attackers and the legitimate user are told apart as on the internet: X-Forwarded-For from the
      // loopback "proxy", and PROXY protocol headers on RTMP/RTSP from the loopback "balancer".
      'http.trustProxy': ['127.0.0.1'],
      'media.proxyProtocol.enabled': true,
      'media.proxyProtocol.trusted': ['127.0.0.1'],
      'web.dir': WEB_PUBLIC,
      // Per-address caps below COUNT (their defaults are generous for carrier NAT), so the floods meet them.
      'limits.rtmp.perIp': 10, 'limits.rtsp.perIp': 10, 'limits.srt.perIp': 5, 'limits.chatWs.perIp': 10, 'limits.chatHttp.perIp': 10,
      'limits.pusher.perIp': 10, 'limits.flv.perIp': 10, 'limits.whep.perIp': 10, 'limits.hls.viewersPerIp': 10,
      // Sign-ups per address below COUNT too (the default, 20 an hour, leaves room for carrier NAT).
      'auth.registration.perAddress': 10,
      // The legitimate user publishes a chat message every round, many times a real user's pace.
      'moderation.rateLimitMessages': 10_000,
    });
    const opts = parseOptions([
      '--target', s.httpUrl,
      '--rtmp', `127.0.0.1:${s.ports.rtmp}`, '--rtsp', `127.0.0.1:${s.ports.rtsp}`, '--srt', `127.0.0.1:${s.ports.srt}`,
      '--pid', String(s.child.pid), '--pusher-key', s.pusherKey,
      '--spoof-forwarded-for', '--proxy-protocol', '--count', String(COUNT), '--attack-seconds', '6',
    ]);
    await assertTargetsAllowed(opts);
    reports = await runSuite(opts, [...ATTACKS], (r) => console.log(`# ${r.outcome} ${r.name}: ${r.detail} | rss +${r.rssGrowthMiB} MiB (peak +${r.rssPeakGrowthMiB}) | legit ${JSON.stringify(r.legit)}`));
  });
  after(async () => {
    if (!s || s.child.exitCode !== null) return;
    const exited = new Promise((resolve) => s.child.once('exit', resolve));
    s.child.kill('SIGTERM');
    await exited;
  });

  test('every attack ran (only those needing server support were skipped) and none failed to run', () => {
    assert.deepEqual(reports.map((r) => r.name), ATTACKS.map((a) => a.name));
    for (const r of reports) {
      if (NEEDS_SERVER_SUPPORT.has(r.name)) assert.equal(r.outcome, 'skipped', r.name);
      else assert.ok(r.outcome === 'refused' || r.outcome === 'accepted', `${r.name}: ${r.outcome} ${r.detail}`);
    }
  });

  test('the server stays up and its RSS grows less than 150 MiB during each attack', () => {
    assert.equal(s.child.exitCode, null, 'the server process is alive');
    for (const r of reports) {
      assert.equal(r.processUp, true, r.name);
      assert.ok(r.rssGrowthMiB !== null && r.rssGrowthMiB < RSS_BUDGET_MIB, `${r.name}: RSS +${r.rssGrowthMiB} MiB`);
      assert.ok(r.rssPeakGrowthMiB !== null && r.rssPeakGrowthMiB < RSS_BUDGET_MIB, `${r.name}: RSS peak +${r.rssPeakGrowthMiB} MiB`);
    }
  });

  test('the legitimate user keeps working during every attack', () => {
    for (const r of reports) {
      if (r.outcome === 'skipped') continue;
      assert.ok(r.legit && r.legit.rounds > 0, r.name);
      assert.equal(r.legit.failedRounds, 0, `${r.name}: ${r.legit.failures.join(' | ')}`);
    }
  });

  test('each attack the server defends against is refused', () => {
    const notRefused = reports.filter((r) => r.outcome === 'accepted' && !PENDING.has(r.name)).map((r) => `${r.name}: ${r.detail}`);
    assert.deepEqual(notRefused, []);
    const nowRefused = reports.filter((r) => r.outcome === 'refused' && PENDING.has(r.name)).map((r) => r.name);
    if (nowRefused.length > 0) console.log(`# refused now, remove from PENDING: ${nowRefused.join(', ')}`);
  });

  test('the suite refuses a target that is not this machine unless told the operator owns it', async () => {
    const resolve = async () => ['192.0.2.10'];
    await assert.rejects(assertTargetsAllowed(parseOptions(['--target', 'http://onair.example:8080']), resolve), UsageError);
    await assert.rejects(assertTargetsAllowed(parseOptions(['--target', 'http://127.0.0.1:8080', '--rtmp', '192.0.2.10:1935'])), /not this machine's loopback/);
    await assertTargetsAllowed(parseOptions(['--target', 'http://onair.example:8080', '--i-own-this-host']), resolve);
    await assertTargetsAllowed(parseOptions(['--target', 'http://[::1]:8080', '--rtsp', 'localhost:8554']), async () => ['127.0.0.1', '::1']);
    assert.throws(() => parseOptions(['--target', 'http://127.0.0.1:8080', '--count', '100000']), /--count/);
  });
});
