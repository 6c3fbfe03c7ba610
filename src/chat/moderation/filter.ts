/**
 * The word filter: one Aho–Corasick automaton over skeleton codes per
 * channel (channel entries + global entries + built-in exceptions), rebuilt
 * when the lists change. A message is scanned once, in time linear in its
 * length, whatever the number of entries.
 */
import { BARRIER, initialsSkeleton, isHangulSyllableWord, isLatinCode, skeletonOf } from './normalize.js';

/** FilterAction: `hold` keeps a message out of the room until a manager approves it (the review queue). */
export type FilterAction = 'mask' | 'hold' | 'block' | 'allow';

/** FILTER_ACTIONS lists every action, weakest first. */
export const FILTER_ACTIONS: readonly FilterAction[] = ['allow', 'mask', 'hold', 'block'];

/** FilterEntry is one listed word; `allow` entries are exceptions that shield the words they contain. */
export interface FilterEntry {
  word: string;
  action: FilterAction;
}

export type FilterResult =
  | { action: 'pass' }
  | { action: 'mask'; text: string; words: string[] }
  | { action: 'hold'; word: string; text: string }
  | { action: 'block'; word: string };

/** MASK replaces each masked span. */
export const MASK = '***';

/**
 * DEFAULT_EXCEPTIONS are ordinary words that contain common filter entries.
 * 시발점 (starting point), 시발역 (first station) and 시발택시 contain 시발;
 * 병신년 is a year of the sexagenary cycle; 미친개 is "a mad dog" — kept
 * short on purpose: channels add their own with `/filter add WORD allow`.
 */
export const DEFAULT_EXCEPTIONS: readonly string[] = [
  '시발점', '시발역', '시발택시', '시발차', '병신년', '병신년도',
  'scunthorpe', 'penistone', 'cocktail', 'shitake', 'shiitake', 'assassin', 'classic', 'passage', 'embassy', 'snigger',
];

/** SHORT_LATIN is the longest all-Latin entry that only matches whole words (`ass` never hits `class`). */
export const SHORT_LATIN = 3;

interface Pattern {
  entry: FilterEntry;
  length: number;
  /** whole-word match required in the original text. */
  wholeWord: boolean;
}

/** AcState is one state of the Aho–Corasick automaton: its transitions, failure link and the patterns that end here. */
class AcState {
  readonly next = new Map<number, AcState>();
  out: Pattern[] = [];
  /** fail is the longest proper suffix state; the root's is itself. */
  fail: AcState;
  constructor(fail?: AcState) {
    this.fail = fail ?? this;
  }
}

/** Hit is one pattern match over skeleton codes from..to (inclusive). */
interface Hit { pattern: Pattern; from: number; to: number }

const ACTION_RANK: Record<FilterAction, number> = { allow: 0, mask: 1, hold: 2, block: 3 };

/** WordFilter is a compiled, immutable matcher. */
export class WordFilter {
  private readonly root = new AcState();
  private entryCount = 0;
  private hasAllow = false;

  /** compile builds the automaton; duplicate words keep the strongest action (block > hold > mask > allow). */
  static compile(entries: readonly FilterEntry[], exceptions: readonly string[] = DEFAULT_EXCEPTIONS): WordFilter {
    const f = new WordFilter();
    const byWord = new Map<string, FilterEntry>();
    for (const w of exceptions) byWord.set(w.normalize('NFC').toLowerCase(), { word: w, action: 'allow' });
    for (const e of entries) {
      const key = e.word.normalize('NFC').toLowerCase();
      const prev = byWord.get(key);
      if (!prev || ACTION_RANK[e.action] >= ACTION_RANK[prev.action]) byWord.set(key, e);
    }
    for (const e of byWord.values()) f.add(e);
    f.build();
    return f;
  }

  get size(): number {
    return this.entryCount;
  }

  private add(e: FilterEntry): void {
    const sk = skeletonOf(e.word.trim()).codes;
    if (sk.length === 0) return;
    this.entryCount++;
    if (e.action === 'allow') this.hasAllow = true;
    const latinOnly = sk.every(isLatinCode);
    this.insert(sk, { entry: e, length: sk.length, wholeWord: latinOnly && sk.length <= SHORT_LATIN });
    // 시발 also catches its initial-consonant abbreviation ㅅㅂ (exceptions do not need one).
    const word = e.word.trim().normalize('NFC');
    if (e.action !== 'allow' && isHangulSyllableWord(word)) {
      const ini = initialsSkeleton(word);
      if (ini.length >= 2) this.insert(ini, { entry: e, length: ini.length, wholeWord: false });
    }
  }

  private insert(codes: number[], p: Pattern): void {
    let s = this.root;
    for (const c of codes) {
      let t = s.next.get(c);
      if (t === undefined) {
        t = new AcState(this.root);
        s.next.set(c, t);
      }
      s = t;
    }
    s.out.push(p);
  }

  /** build sets failure links breadth-first and merges each state's outputs with its failure state's. */
  private build(): void {
    const root = this.root;
    const queue: AcState[] = [...root.next.values()];
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      if (!s) break;
      for (const [c, t] of s.next) {
        let f = s.fail;
        while (f !== root && !f.next.has(c)) f = f.fail;
        const g = f.next.get(c);
        t.fail = g !== undefined && g !== t ? g : root;
        const inherited = t.fail.out;
        if (inherited.length) t.out = t.out.concat(inherited);
        queue.push(t);
      }
    }
  }

  /** check scans a message once and says whether to pass, mask, hold or block it (block wins, then hold; a held text is masked too). */
  check(text: string): FilterResult {
    if (this.entryCount === 0) return { action: 'pass' };
    const sk = skeletonOf(text);
    const codes = sk.codes;
    const root = this.root;
    let hits: Hit[] | undefined;
    let s = root;
    let i = -1;
    for (const c of codes) {
      i++;
      let t = s.next.get(c);
      while (t === undefined && s !== root) {
        s = s.fail;
        t = s.next.get(c);
      }
      s = t ?? root;
      if (s.out.length) {
        hits ??= [];
        for (const pattern of s.out) hits.push({ pattern, from: i - pattern.length + 1, to: i });
      }
    }
    if (!hits) return { action: 'pass' };
    let blocked: string | undefined;
    let held: string | undefined;
    const spans: [number, number][] = [];
    const words: string[] = [];
    for (const { pattern: p, from, to } of hits) {
      const e = p.entry;
      if (e.action === 'allow') continue;
      if (this.hasAllow && shielded(hits, from, to)) continue;
      // from..to index codes of this skeleton, so both offsets exist.
      const start = sk.start[from] ?? 0;
      const end = sk.end[to] ?? text.length;
      if (p.wholeWord && !isWholeWord(text, start, end)) continue;
      if (e.action === 'block') { blocked = e.word; break; }
      if (e.action === 'hold') { held ??= e.word; continue; }
      spans.push([start, end]);
      words.push(e.word);
    }
    if (blocked !== undefined) return { action: 'block', word: blocked };
    if (held !== undefined) return { action: 'hold', word: held, text: spans.length ? maskSpans(text, spans) : text };
    if (spans.length === 0) return { action: 'pass' };
    return { action: 'mask', text: maskSpans(text, spans), words };
  }
}

/** shielded tells whether an allow match covers codes from..to. */
function shielded(hits: readonly Hit[], from: number, to: number): boolean {
  return hits.some((h) => h.pattern.entry.action === 'allow' && h.from <= from && h.to >= to);
}

const LETTER_RE = /\p{L}/u;

/** isWholeWord: no letter right before the match start or right after its end in the original text. */
function isWholeWord(text: string, start: number, end: number): boolean {
  const before = start > 0 ? text.charAt(start - 1) : '';
  const after = end < text.length ? text.charAt(end) : '';
  return !(before && LETTER_RE.test(before)) && !(after && LETTER_RE.test(after));
}

/** maskSpans replaces the union of [start, end) spans with MASK each. */
function maskSpans(text: string, spans: [number, number][]): string {
  const pairs = [...spans].sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  let curS = -1;
  let curE = -1;
  for (const [s, e] of pairs) {
    if (curS >= 0 && s <= curE) { curE = Math.max(curE, e); continue; }
    if (curS >= 0) { out += text.slice(pos, curS) + MASK; pos = curE; }
    curS = s;
    curE = e;
  }
  if (curS >= 0) { out += text.slice(pos, curS) + MASK; pos = curE; }
  return out + text.slice(pos);
}

export { BARRIER };
