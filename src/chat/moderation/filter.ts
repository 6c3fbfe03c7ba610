/**
 * The word filter: one Aho–Corasick automaton over skeleton codes per
 * channel (channel entries + global entries + built-in exceptions), rebuilt
 * when the lists change. A message is scanned once, in time linear in its
 * length, whatever the number of entries.
 */
import { BARRIER, initialsSkeleton, isHangulSyllableWord, isLatinCode, skeletonOf } from './normalize.js';

export type FilterAction = 'mask' | 'block' | 'allow';

/** FilterEntry is one listed word; `allow` entries are exceptions that shield the words they contain. */
export interface FilterEntry {
  word: string;
  action: FilterAction;
}

export type FilterResult =
  | { action: 'pass' }
  | { action: 'mask'; text: string; words: string[] }
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
  'scunthorpe', 'penistone', 'cocktail', 'shitake', 'shiitake', 'assassin', 'classic', 'passage', 'embassy',
];

/** SHORT_LATIN is the longest all-Latin entry that only matches whole words (`ass` never hits `class`). */
export const SHORT_LATIN = 3;

interface Pattern {
  entry: number;
  length: number;
  /** whole-word match required in the original text. */
  wholeWord: boolean;
}

const ACTION_RANK: Record<FilterAction, number> = { allow: 0, mask: 1, block: 2 };

/** WordFilter is a compiled, immutable matcher. */
export class WordFilter {
  private readonly next: Map<number, number>[] = [new Map<number, number>()];
  private readonly fail: number[] = [0];
  private readonly out: number[][] = [[]];
  private readonly patterns: Pattern[] = [];
  private readonly entries: FilterEntry[] = [];
  private hasAllow = false;

  /** compile builds the automaton; duplicate words keep the strongest action (block > mask > allow). */
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
    return this.entries.length;
  }

  private add(e: FilterEntry): void {
    const sk = skeletonOf(e.word.trim()).codes;
    if (sk.length === 0) return;
    const id = this.entries.push(e) - 1;
    if (e.action === 'allow') this.hasAllow = true;
    const latinOnly = sk.every(isLatinCode);
    this.insert(sk, { entry: id, length: sk.length, wholeWord: latinOnly && sk.length <= SHORT_LATIN });
    // 시발 also catches its initial-consonant abbreviation ㅅㅂ (exceptions do not need one).
    const word = e.word.trim().normalize('NFC');
    if (e.action !== 'allow' && isHangulSyllableWord(word)) {
      const ini = initialsSkeleton(word);
      if (ini.length >= 2) this.insert(ini, { entry: id, length: ini.length, wholeWord: false });
    }
  }

  private insert(codes: number[], p: Pattern): void {
    let s = 0;
    for (const c of codes) {
      let t = this.next[s]!.get(c);
      if (t === undefined) {
        t = this.next.push(new Map()) - 1;
        this.fail.push(0);
        this.out.push([]);
        this.next[s]!.set(c, t);
      }
      s = t;
    }
    this.out[s]!.push(this.patterns.push(p) - 1);
  }

  /** build sets failure links breadth-first and merges each state's outputs with its failure state's. */
  private build(): void {
    const queue: number[] = [];
    for (const t of this.next[0]!.values()) { this.fail[t] = 0; queue.push(t); }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      for (const [c, t] of this.next[s]!) {
        let f = this.fail[s]!;
        while (f !== 0 && !this.next[f]!.has(c)) f = this.fail[f]!;
        const g = this.next[f]!.get(c);
        this.fail[t] = g !== undefined && g !== t ? g : 0;
        const inherited = this.out[this.fail[t]]!;
        if (inherited.length) this.out[t] = this.out[t]!.concat(inherited);
        queue.push(t);
      }
    }
  }

  /** check scans a message once and says whether to pass, mask or block it. */
  check(text: string): FilterResult {
    if (this.entries.length === 0) return { action: 'pass' };
    const sk = skeletonOf(text);
    const codes = sk.codes;
    // Matches as flat triples: pattern, first code, last code.
    let hits: number[] | undefined;
    let s = 0;
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i]!;
      let t = this.next[s]!.get(c);
      while (t === undefined && s !== 0) {
        s = this.fail[s]!;
        t = this.next[s]!.get(c);
      }
      s = t ?? 0;
      const o = this.out[s]!;
      if (o.length) {
        hits ??= [];
        for (const p of o) hits.push(p, i - this.patterns[p]!.length + 1, i);
      }
    }
    if (!hits) return { action: 'pass' };
    let blocked: string | undefined;
    const spans: number[] = [];
    const words: string[] = [];
    for (let h = 0; h < hits.length; h += 3) {
      const p = this.patterns[hits[h]!]!;
      const e = this.entries[p.entry]!;
      if (e.action === 'allow') continue;
      const from = hits[h + 1]!;
      const to = hits[h + 2]!;
      if (this.hasAllow && this.shielded(hits, from, to)) continue;
      if (p.wholeWord && !isWholeWord(text, sk.start[from]!, sk.end[to]!)) continue;
      if (e.action === 'block') { blocked = e.word; break; }
      spans.push(sk.start[from]!, sk.end[to]!);
      words.push(e.word);
    }
    if (blocked !== undefined) return { action: 'block', word: blocked };
    if (spans.length === 0) return { action: 'pass' };
    return { action: 'mask', text: maskSpans(text, spans), words };
  }

  /** shielded tells whether an allow match covers codes from..to. */
  private shielded(hits: number[], from: number, to: number): boolean {
    for (let h = 0; h < hits.length; h += 3) {
      const e = this.entries[this.patterns[hits[h]!]!.entry]!;
      if (e.action === 'allow' && hits[h + 1]! <= from && hits[h + 2]! >= to) return true;
    }
    return false;
  }
}

const LETTER_RE = /\p{L}/u;

/** isWholeWord: no letter right before the match start or right after its end in the original text. */
function isWholeWord(text: string, start: number, end: number): boolean {
  const before = start > 0 ? text.charAt(start - 1) : '';
  const after = end < text.length ? text.charAt(end) : '';
  return !(before && LETTER_RE.test(before)) && !(after && LETTER_RE.test(after));
}

/** maskSpans replaces the union of [start, end) spans with MASK each. */
function maskSpans(text: string, spans: number[]): string {
  const pairs: [number, number][] = [];
  for (let i = 0; i < spans.length; i += 2) pairs.push([spans[i]!, spans[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
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
