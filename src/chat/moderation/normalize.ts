/**
 * Text skeletons for the word filter.
 *
 * `skeletonOf(text)` maps a chat message to a sequence of integer codes in
 * which the usual evasions collapse onto the spelling of the word itself:
 *
 * - full-width and compatibility forms (NFKD), accents, case and look-alike
 *   letters (Cyrillic/Greek → Latin, a small confusables table);
 * - leetspeak digits and symbols next to Latin letters (`sh1t`, `$hit`);
 *   other digits, punctuation, emoji and zero-width characters are dropped,
 *   so `f.u.c.k`, `시1발`, `시~발` read as the word;
 * - whitespace between single-letter tokens (`f u c k`, `시 발`, `ㅅ ㅂ`) is
 *   dropped; other whitespace becomes one BARRIER code that only entries
 *   containing a space can cross, so `this hit` never reads as `shit`;
 * - Hangul syllables are split into initial/vowel/final jamo codes with tense
 *   consonants folded to plain ones (씨발 = 시발) and compound vowels and
 *   finals split; standalone jamo typed one by one (ㅅㅣㅂㅏㄹ) get the same
 *   roles from their neighbours, so they read like the syllables; bare
 *   consonants not followed by a vowel (ㅅㅂ) get their own "bare" codes, so
 *   the abbreviation of an entry never matches the jamo inside real syllables
 *   (곳불 contains final ㅅ + initial ㅂ, not bare ㅅㅂ);
 * - a vowel-only syllable that repeats the previous vowel is an elongation
 *   (시이이발 = 시발), and repeated codes collapse (fuuuck = fuck).
 *
 * Each code keeps the UTF-16 span of the original text it came from, so a
 * match can be masked in the original message.
 */

/** BARRIER is the code for word-separating whitespace. */
export const BARRIER = 0x20;

const KIND_INITIAL = 0x110000;
const KIND_VOWEL = 0x110100;
const KIND_FINAL = 0x110200;
const KIND_BARE = 0x110300;
const COMPAT_BASE = 0x3130;

const SYLLABLE_FIRST = 0xac00;
const SYLLABLE_LAST = 0xd7a3;
const VOWELS_PER_INITIAL = 21 * 28;
const FINALS_PER_VOWEL = 28;
const COMPAT_CONSONANT_FIRST = 0x3131;
const COMPAT_CONSONANT_LAST = 0x314e;
const COMPAT_VOWEL_FIRST = 0x314f;
const COMPAT_VOWEL_LAST = 0x3163;

/** Initial consonants of a precomposed syllable, as compatibility jamo, in Unicode order. */
const INITIALS = 'ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ';
/** Medial vowels, in Unicode order. */
const MEDIALS = 'ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ';
/** Final consonants (index 0 = none), in Unicode order. */
const FINALS = '\0ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ';
const IEUNG = 'ㅇ'.charCodeAt(0);

/** Tense consonants fold to plain ones; compound ones split. Values are compatibility jamo. */
const CONSONANT_PARTS: Record<string, string> = {
  ㄲ: 'ㄱ', ㄸ: 'ㄷ', ㅃ: 'ㅂ', ㅆ: 'ㅅ', ㅉ: 'ㅈ',
  ㄳ: 'ㄱㅅ', ㄵ: 'ㄴㅈ', ㄶ: 'ㄴㅎ', ㄺ: 'ㄹㄱ', ㄻ: 'ㄹㅁ', ㄼ: 'ㄹㅂ', ㄽ: 'ㄹㅅ', ㄾ: 'ㄹㅌ', ㄿ: 'ㄹㅍ', ㅀ: 'ㄹㅎ', ㅄ: 'ㅂㅅ',
};
/** Compound vowels split into their simple parts. */
const VOWEL_PARTS: Record<string, string> = { ㅘ: 'ㅗㅏ', ㅙ: 'ㅗㅐ', ㅚ: 'ㅗㅣ', ㅝ: 'ㅜㅓ', ㅞ: 'ㅜㅔ', ㅟ: 'ㅜㅣ', ㅢ: 'ㅡㅣ' };

const partsOf = (table: Record<string, string>, jamo: number): number[] => {
  const p = table[String.fromCharCode(jamo)];
  return p ? [...p].map((c) => c.charCodeAt(0)) : [jamo];
};
/** CONS[k] / VOW[k]: simple compatibility jamo for compatibility jamo COMPAT_BASE + k. */
const CONS: number[][] = [];
const VOW: number[][] = [];
for (let cp = COMPAT_CONSONANT_FIRST; cp <= COMPAT_CONSONANT_LAST; cp++) CONS[cp - COMPAT_BASE] = partsOf(CONSONANT_PARTS, cp);
for (let cp = COMPAT_VOWEL_FIRST; cp <= COMPAT_VOWEL_LAST; cp++) VOW[cp - COMPAT_BASE] = partsOf(VOWEL_PARTS, cp);
/** consonantParts / vowelParts give a compatibility jamo's simple parts (itself when it has none). */
const consonantParts = (jamo: number): readonly number[] => CONS[jamo - COMPAT_BASE] ?? [jamo];
const vowelParts = (jamo: number): readonly number[] => VOW[jamo - COMPAT_BASE] ?? [jamo];
const INITIAL_CP = [...INITIALS].map((c) => c.charCodeAt(0));
const MEDIAL_CP = [...MEDIALS].map((c) => c.charCodeAt(0));
const FINAL_CP = [...FINALS].map((c) => c.charCodeAt(0));

/** Conjoining jamo (U+1100 block) → compatibility jamo, so every Hangul spelling meets in one alphabet. */
const CONJOINING: Map<number, number> = (() => {
  const m = new Map<number, number>();
  INITIAL_CP.forEach((cp, i) => m.set(0x1100 + i, cp));
  MEDIAL_CP.forEach((cp, i) => m.set(0x1161 + i, cp));
  FINAL_CP.forEach((cp, i) => { if (i > 0) m.set(0x11a7 + i, cp); });
  return m;
})();

/** Look-alike letters from other scripts (and a few symbols) that read as Latin letters. */
const CONFUSABLES: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', і: 'i', ї: 'i', ј: 'j', һ: 'h', ԁ: 'd', ԛ: 'q', ԝ: 'w', ɡ: 'g',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w', μ: 'u',
  // Latin extensions that NFKD leaves alone
  ı: 'i', ł: 'l', ø: 'o', đ: 'd', ß: 's', æ: 'e', œ: 'e',
};
/** Leetspeak: read as a letter only next to Latin letters (`sh1t`); elsewhere dropped (`시1발`). */
const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's', '!': 'i', '|': 'l', '€': 'e', '£': 'l' };

// Letter kinds of the first pass.
const K_LATIN = 1;
const K_SYLLABLE = 2;
const K_JAMO_C = 3;
const K_JAMO_V = 4;
const K_OTHER = 5;
const K_LEET = 6;

const LETTER_RE = /\p{L}/u;
const SPACE_RE = /\s/u;

/** One input code point after NFKD/case/confusables: up to a few normalised characters with their kind. */
interface CharInfo { parts: { kind: number; ch: number }[]; space: boolean }
const charCache = new Map<number, CharInfo>();
const NONE: CharInfo = { parts: [], space: false };
const SPACE: CharInfo = { parts: [], space: true };

function classify(cp: number): CharInfo {
  const hit = charCache.get(cp);
  if (hit) return hit;
  let info: CharInfo;
  const s = String.fromCodePoint(cp);
  if (SPACE_RE.test(s)) info = SPACE;
  else {
    const parts: CharInfo['parts'] = [];
    const leet = LEET[s];
    if (leet) {
      parts.push({ kind: K_LEET, ch: leet.charCodeAt(0) });
    } else {
      const decomposed = s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
      for (const ch of decomposed) {
        const c = ch.codePointAt(0)!;
        const conj = CONJOINING.get(c);
        if (conj !== undefined) { parts.push(jamoPart(conj)); continue; }
        if (c >= 0x61 && c <= 0x7a) { parts.push({ kind: K_LATIN, ch: c }); continue; }
        if (c >= COMPAT_CONSONANT_FIRST && c <= COMPAT_VOWEL_LAST) { parts.push(jamoPart(c)); continue; }
        const conf = CONFUSABLES[ch];
        if (conf) { parts.push({ kind: K_LATIN, ch: conf.charCodeAt(0) }); continue; }
        const l = LEET[ch];
        if (l) { parts.push({ kind: K_LEET, ch: l.charCodeAt(0) }); continue; }
        if (LETTER_RE.test(ch)) { parts.push({ kind: K_OTHER, ch: c }); continue; }
        // punctuation, symbols, emoji, digits, format characters: dropped
      }
    }
    info = parts.length ? { parts, space: false } : NONE;
  }
  if (charCache.size < 65536) charCache.set(cp, info);
  return info;
}

function jamoPart(c: number): { kind: number; ch: number } {
  return { kind: c >= COMPAT_VOWEL_FIRST ? K_JAMO_V : K_JAMO_C, ch: c };
}

/** Skeleton is a text's code sequence with each code's source span in the original string. */
export interface Skeleton {
  codes: number[];
  /** UTF-16 start offset in the original text of codes[i]. */
  start: number[];
  /** UTF-16 end offset (exclusive) in the original text of codes[i]. */
  end: number[];
}

/** Letter is one letter of the first pass: its kind, normalised char, source span [start, end) and token number. */
interface Letter { kind: number; ch: number; start: number; end: number; token: number }
// Letters of the first pass, reused between calls (the filter runs on one thread): slots are
// overwritten in place, so a call allocates no letters once the pool is as long as its text.
const pool: Letter[] = [];

/** setLetter fills slot n (n is at most the pool's length: slots are filled in order). */
function setLetter(n: number, kind: number, ch: number, start: number, end: number, token: number): void {
  const l = pool[n];
  if (l === undefined) { pool.push({ kind, ch, start, end, token }); return; }
  l.kind = kind; l.ch = ch; l.start = start; l.end = end; l.token = token;
}

/** skeletonOf computes a text's skeleton (see the module comment). */
export function skeletonOf(text: string): Skeleton {
  // Pass 1: letters with kind, char, source span and token number.
  let n = 0;
  let token = 0;
  let pendingSpace = false;
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    let kind = 0;
    let ch = cp;
    if (cp >= 0x61 && cp <= 0x7a) kind = K_LATIN;
    else if (cp >= 0x41 && cp <= 0x5a) { kind = K_LATIN; ch = cp + 32; }
    else if (cp >= SYLLABLE_FIRST && cp <= SYLLABLE_LAST) kind = K_SYLLABLE;
    else if (cp === 0x20) { pendingSpace = true; i += w; continue; }
    else if (cp >= COMPAT_CONSONANT_FIRST && cp <= COMPAT_CONSONANT_LAST) kind = K_JAMO_C;
    else if (cp >= COMPAT_VOWEL_FIRST && cp <= COMPAT_VOWEL_LAST) kind = K_JAMO_V;
    if (kind !== 0) {
      if (pendingSpace && n > 0) token++;
      pendingSpace = false;
      setLetter(n++, kind, ch, i, i + w, token);
    } else {
      const info = classify(cp);
      if (info.space) pendingSpace = true;
      else if (info.parts.length) {
        if (pendingSpace && n > 0) token++;
        pendingSpace = false;
        for (const part of info.parts) setLetter(n++, part.kind, part.ch, i, i + w, token);
      }
    }
    i += w;
  }
  // Pass 2: leet characters become letters next to a Latin letter of the same token, else vanish.
  for (let j = 0; j < n; j++) {
    const l = pool[j];
    if (l === undefined || l.kind !== K_LEET) continue;
    let latin = false;
    for (let p = j - 1; p >= 0; p--) {
      const o = pool[p];
      if (o === undefined || o.token !== l.token) break;
      if (o.kind !== K_LEET) { latin = o.kind === K_LATIN; break; }
    }
    if (!latin) {
      for (let q = j + 1; q < n; q++) {
        const o = pool[q];
        if (o === undefined || o.token !== l.token) break;
        if (o.kind !== K_LEET) { latin = o.kind === K_LATIN; break; }
      }
    }
    l.kind = latin ? K_LATIN : 0;
  }
  // Compact dropped letters away: kept slots swap forward with dropped ones, so the pool keeps every object.
  let m = 0;
  for (let j = 0; j < n; j++) {
    const l = pool[j];
    if (l === undefined || l.kind === 0) continue;
    const dropped = pool[m];
    if (m !== j && dropped !== undefined) { pool[m] = l; pool[j] = dropped; }
    m++;
  }
  n = m;
  // Pass 3: whitespace between two single-letter tokens vanishes; other whitespace is a barrier.
  // A letter's token is "single" when it is the only letter of its token.
  const out: Skeleton = { codes: [], start: [], end: [] };
  const tokenAt = (j: number) => pool[j]?.token;
  const single = (j: number) => (j === 0 || tokenAt(j - 1) !== tokenAt(j)) && (j === n - 1 || tokenAt(j + 1) !== tokenAt(j));
  let prevVowel = -1; // vowel of the previous syllable when it had no final (elongation check)
  for (let j = 0; j < n; j++) {
    const l = pool[j];
    if (l === undefined) break;
    if (j > 0 && l.token !== tokenAt(j - 1)) {
      if (!(single(j) && single(j - 1))) { emit(out, BARRIER, l.start, l.start); prevVowel = -1; }
    }
    const { kind: k, ch: c, start: s, end: e } = l;
    if (k === K_SYLLABLE) {
      const off = c - SYLLABLE_FIRST;
      // The jamo strings are BMP characters, so a code unit index is a jamo index.
      const ini = INITIALS.charCodeAt(Math.floor(off / VOWELS_PER_INITIAL));
      const vow = MEDIALS.charCodeAt(Math.floor((off % VOWELS_PER_INITIAL) / FINALS_PER_VOWEL));
      const fin = FINALS.charCodeAt(off % FINALS_PER_VOWEL);
      if (ini === IEUNG && fin === 0 && vow === prevVowel) {
        // 시이이발: an elongating vowel syllable adds nothing; widen the previous code's span over it.
        if (out.end.length) out.end[out.end.length - 1] = e;
        continue;
      }
      for (const p of consonantParts(ini)) emit(out, KIND_INITIAL + p - COMPAT_BASE, s, e);
      for (const p of vowelParts(vow)) emit(out, KIND_VOWEL + p - COMPAT_BASE, s, e);
      if (fin !== 0) for (const p of consonantParts(fin)) emit(out, KIND_FINAL + p - COMPAT_BASE, s, e);
      prevVowel = fin === 0 ? vow : -1;
      continue;
    }
    if (k === K_JAMO_V) {
      for (const p of vowelParts(c)) emit(out, KIND_VOWEL + p - COMPAT_BASE, s, e);
      prevVowel = -1;
      continue;
    }
    if (k === K_JAMO_C) {
      const sameTokenOrJoined = (x: number) => x >= 0 && x < n && (tokenAt(x) === l.token || (single(x) && single(j)));
      const nextK = sameTokenOrJoined(j + 1) ? pool[j + 1]?.kind : 0;
      const prevK = sameTokenOrJoined(j - 1) ? pool[j - 1]?.kind : 0;
      let kind: number;
      if (nextK === K_JAMO_V) kind = KIND_INITIAL;
      else if (prevK === K_JAMO_V || (prevK === K_SYLLABLE && prevVowel !== -1 && nextK !== K_JAMO_C)) kind = KIND_FINAL;
      else kind = KIND_BARE;
      for (const p of consonantParts(c)) emit(out, kind + p - COMPAT_BASE, s, e);
      prevVowel = -1;
      continue;
    }
    emit(out, c, s, e);
    prevVowel = -1;
  }
  // Drop a leading or trailing barrier.
  if (out.codes.length && out.codes[out.codes.length - 1] === BARRIER) { out.codes.pop(); out.start.pop(); out.end.pop(); }
  return out;
}

/** emit appends a code, folding a repeat of the last code into it (fuuuck = fuck). */
function emit(out: Skeleton, code: number, s: number, e: number): void {
  const last = out.codes.length - 1;
  if (last >= 0 && out.codes[last] === code) {
    out.end[last] = e;
    return;
  }
  if (last < 0 && code === BARRIER) return;
  out.codes.push(code);
  out.start.push(s);
  out.end.push(e);
}

/** isHangulSyllableWord tells whether a string is two or more Hangul syllables and nothing else. */
export function isHangulSyllableWord(word: string): boolean {
  let count = 0;
  for (const ch of word) {
    const c = ch.charCodeAt(0);
    if (c < SYLLABLE_FIRST || c > SYLLABLE_LAST) return false;
    count++;
  }
  return count >= 2;
}

/** initialsSkeleton gives the bare-consonant abbreviation of a Hangul word (시발 → bare ㅅ ㅂ). */
export function initialsSkeleton(word: string): number[] {
  const codes: number[] = [];
  for (const ch of word) {
    const off = ch.charCodeAt(0) - SYLLABLE_FIRST;
    const ini = INITIALS.charCodeAt(Math.floor(off / VOWELS_PER_INITIAL));
    for (const p of consonantParts(ini)) {
      const code = KIND_BARE + p - COMPAT_BASE;
      if (codes[codes.length - 1] !== code) codes.push(code);
    }
  }
  return codes;
}

/** isLatinCode tells whether a skeleton code is a Latin letter. */
export const isLatinCode = (c: number): boolean => c >= 0x61 && c <= 0x7a;

/** describeSkeleton renders codes readably for tests and debugging (I/V/F/B prefixes for Hangul roles). */
export function describeSkeleton(codes: number[]): string {
  return codes.map((c) => {
    if (c === BARRIER) return '␣';
    if (c >= KIND_BARE) return 'B' + String.fromCharCode(c - KIND_BARE + COMPAT_BASE);
    if (c >= KIND_FINAL) return 'F' + String.fromCharCode(c - KIND_FINAL + COMPAT_BASE);
    if (c >= KIND_VOWEL) return 'V' + String.fromCharCode(c - KIND_VOWEL + COMPAT_BASE);
    if (c >= KIND_INITIAL) return 'I' + String.fromCharCode(c - KIND_INITIAL + COMPAT_BASE);
    return String.fromCodePoint(c);
  }).join(' ');
}
