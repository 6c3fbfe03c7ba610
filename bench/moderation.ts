/**
 * Per-message cost of the chat moderation path.
 *
 * Method: a ModerationEngine on a temporary SQLite database, a channel with
 * 1,000 filter entries (half Korean, half Latin, incl. real ones), the memory
 * ModerationState and a no-op publisher. Each sample is one
 * `engine.onPublish()` call for a realistic chat line (Korean and English,
 * ~8% hitting a filter entry, some commands excluded) from one of 500 users,
 * timed with process.hrtime around the awaited call. After a warm-up, the
 * numbers include everything the hook does per message: role lookup (cached,
 * re-read from the database every roleCacheSeconds), ban check, modes,
 * length, the word filter scan, the state admission (rate, duplicate,
 * recent ids) and stamping the message. Also reported: the word filter scan
 * alone, and the automaton build time.
 *
 * Optional `--redis` adds a run with the Redis state on a throwaway
 * redis-server (one Lua round trip per message over loopback; that run is
 * dominated by the network round trip, not by CPU).
 *
 * Usage: node --import tsx bench/moderation.ts [--messages 50000] [--entries 1000] [--redis] [--out DIR]
 * Writes moderation.json in the results directory (--out DIR, $BENCH_RESULTS_DIR, bench/results).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPlatform, openDatabase } from '../src/platform/index.js';
import { migrateAll } from '../src/features.js';
import { ModerationEngine } from '../src/chat/moderation/engine.js';
import { ModerationStore } from '../src/chat/moderation/db.js';
import { MemoryModerationState, type ModerationState } from '../src/chat/moderation/state.js';
import { RedisModerationState } from '../src/chat/moderation/state-redis.js';
import { WordFilter, type FilterEntry } from '../src/chat/moderation/filter.js';
import type { ServerPublisher } from '../src/chat/hooks.js';
import { resultsPath, writeResultJson } from './lib/results.js';
import { startRedis } from '../testkit/redis.js';
import { TEST_STREAM_KEY_SECRET } from '../testkit/db.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '50000' }, entries: { type: 'string', default: '1000' }, users: { type: 'string', default: '500' }, redis: { type: 'boolean', default: false }, out: { type: 'string' } } });
const MESSAGES = Number(values.messages);
const ENTRIES = Number(values.entries);
const USERS = Number(values.users);
const WARMUP = Math.min(5000, Math.floor(MESSAGES / 5));

/** A deterministic PRNG so runs compare. */
let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;

const SYLLABLES = [...'가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초코토포호구누두루무부수우주추쿠투푸후김박이최정강조윤장임한오서신권황안송류홍전고문양손배백허유남심노하곽성차주우구민진나지'];
const LATIN = 'abcdefghijklmnopqrstuvwxyz';

function filterEntries(n: number): FilterEntry[] {
  const out: FilterEntry[] = [
    { word: '시발', action: 'block' }, { word: '병신', action: 'mask' }, { word: '개새끼', action: 'block' }, { word: '존나', action: 'mask' },
    { word: 'fuck', action: 'mask' }, { word: 'shit', action: 'mask' }, { word: 'bitch', action: 'block' },
  ];
  const seen = new Set(out.map((e) => e.word));
  while (out.length < n) {
    const korean = out.length % 2 === 0;
    const len = korean ? 2 + Math.floor(rand() * 2) : 5 + Math.floor(rand() * 4);
    let w = '';
    for (let i = 0; i < len; i++) w += korean ? pick(SYLLABLES) : LATIN[Math.floor(rand() * 26)];
    if (seen.has(w)) continue;
    seen.add(w);
    out.push({ word: w, action: rand() < 0.3 ? 'block' : 'mask' });
  }
  return out;
}

const LINES = [
  '안녕하세요 오늘 방송 너무 재밌어요', 'ㅋㅋㅋㅋㅋㅋ 개웃기네', '와 방금 그거 뭐였음??', '오늘 몇 시까지 방송하세요?', '이 노래 제목 뭐예요',
  '시발점에서 다시 시작하자', '존나 잘한다 진짜', 'ㅅㅂ 이게 되네', '굿굿 👍👍', 'gg wp', 'lol that was insane', 'what the fuck was that',
  'first time here, love the stream!', 'can you play that song again?', 'hello from Seoul', '내일도 방송하나요?', '화질 좋네요 1080p?',
  'this is so good :kekw:', '😀😀😀', '이거 진짜 병신같네', 'nice shot!!!', '오 대박 대박', '채팅 빠르다', 'pog pog pog', '저녁 뭐 드셨어요',
];

const noopPublisher: ServerPublisher = { publish: async () => ({}), unsubscribeUser: async () => undefined };

function stats(samples: Float64Array): { medianUs: number; p90Us: number; p99Us: number; p999Us: number; meanUs: number; maxUs: number } {
  const s = Array.from(samples).sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { medianUs: r(q(0.5)), p90Us: r(q(0.9)), p99Us: r(q(0.99)), p999Us: r(q(0.999)), meanUs: r(s.reduce((a, b) => a + b, 0) / s.length), maxUs: r(s[s.length - 1]!) };
}


async function run(label: string, state: ModerationState, entries: FilterEntry[]) {
  const dir = mkdtempSync(join(tmpdir(), 'onair-bench-mod-'));
  const db = await openDatabase(`sqlite:${join(dir, 'bench.db')}`);
  try {
    await migrateAll(db);
    const platform = createPlatform(db, TEST_STREAM_KEY_SECRET);
    const owner = await platform.users.create({ username: 'owner', password: 'password1' });
    const { channel } = await platform.channels.create({ name: 'bench', ownerId: owner.id });
    const store = new ModerationStore(db);
    for (const e of entries) await store.addFilter(channel.id, e.word, e.action, owner.id);
    const users: string[] = [];
    for (let i = 0; i < USERS; i++) {
      // Users are plain rows: password hashing is not what we measure.
      const id = `u${i}`;
      await db.kysely.insertInto('users').values({ id, username: `viewer${i}`, display_name: `viewer ${i}`, password_hash: 'x', is_admin: 0, created_at: Date.now(), updated_at: Date.now() }).execute();
      users.push(id);
    }
    const engine = new ModerationEngine({ platform, store, state, publisher: noopPublisher, settings: { rateLimitMessages: 1_000_000, duplicateWindowSeconds: 30 } });
    engine.start();
    let n = 0;
    let masked = 0;
    let refused = 0;
    const samples = new Float64Array(MESSAGES);
    for (let i = 0; i < WARMUP + MESSAGES; i++) {
      const user = users[i % users.length]!;
      // A counter suffix keeps lines distinct, as in a real chat (duplicates would be refused).
      const text = `${pick(LINES)} ${i}`;
      const ctx = { channel: 'chat:bench', clientId: 'c' + user, user, info: { name: user, roles: { bench: ['follower'] } }, data: { type: 'message', text } };
      const t0 = process.hrtime.bigint();
      const d = await engine.onPublish(ctx);
      const t1 = process.hrtime.bigint();
      if (i >= WARMUP) {
        samples[n++] = Number(t1 - t0) / 1000;
        if (d.action === 'reject') refused++;
        else if (d.action === 'allow' && (d.data as { text: string }).text !== text) masked++;
      }
    }
    await engine.stop();
    return { label, messages: MESSAGES, masked, refused, ...stats(samples) };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const entries = filterEntries(ENTRIES);
  const t0 = performance.now();
  const filter = WordFilter.compile(entries);
  const compileMs = Math.round((performance.now() - t0) * 100) / 100;
  // The word filter alone.
  const fs = new Float64Array(MESSAGES);
  for (let i = 0; i < WARMUP; i++) filter.check(pick(LINES));
  for (let i = 0; i < MESSAGES; i++) {
    const text = pick(LINES);
    const a = process.hrtime.bigint();
    filter.check(text);
    fs[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  const filterOnly = stats(fs);
  const results = [await run('memory state', new MemoryModerationState(), entries)];
  if (values.redis) {
    const redis = await startRedis();
    try {
      const st = new RedisModerationState(redis.url);
      results.push(await run('redis state (loopback)', st, entries));
      await st.close();
    } finally {
      await redis.stop();
    }
  }
  const out = { date: new Date().toISOString(), node: process.version, entries: filter.size, users: USERS, compileMs, filterOnly, results, targetMedianUs: 20 };
  console.log(`moderation path, ${filter.size} filter entries (incl. built-in exceptions), ${USERS} users, ${MESSAGES} messages; automaton build ${compileMs} ms`);
  console.log(`  word filter alone        median ${filterOnly.medianUs} µs  p99 ${filterOnly.p99Us} µs`);
  for (const r of results) console.log(`  ${r.label.padEnd(24)} median ${r.medianUs} µs  p99 ${r.p99Us} µs  p99.9 ${r.p999Us} µs  mean ${r.meanUs} µs  (masked ${r.masked}, refused ${r.refused})`);
  console.log(`written ${writeResultJson(resultsPath('moderation.json', values.out), out)}`);
}

await main();
