/**
 * The default word list: data only, on for every channel unless its owner turns it off
 * (`/defaultfilter off`, or `defaultFilter: false` through PATCH …/moderation/modes). A channel
 * entry with the same word replaces a default one, and `/filter add WORD allow` shields an
 * ordinary word that contains one, so owners edit the list with the usual filter commands.
 *
 * Sources and judgement: written for onair from general knowledge of Korean and English chat
 * abuse (the words Korean streaming platforms and game chats are known to mask), not copied from
 * any published list. Each entry is the plain spelling only: the filter engine catches the 초성
 * abbreviation (시발 → ㅅㅂ), spacing (시 발), symbols (시1발, f.u.c.k), tense consonants
 * (씨발), elongation and look-alike letters by itself. A word stays OFF this list when an
 * ordinary sentence contains its skeleton and no short exception fixes that: 씹 (= 십, ten),
 * 썅 (= 샹 of 샹송), 새끼 (새끼손가락), 보지 (보지 마), 개년 (3개년 계획), 미친 (미친 듯이),
 * dick (Dickens), cock (peacock), retard (flame retardant), fag (three letters, British
 * cigarettes), ass (as a word it is also the animal; `asshole` is listed). The corpus of
 * ordinary sentences in test/unit/chat/moderation/default-words.test.ts keeps it that way.
 *
 * Every entry masks by default (the message still reaches the room with `***`); owners who
 * prefer refusal or review upgrade single words with `/filter add WORD block|hold`.
 */
import type { FilterEntry } from './filter.js';

/** DEFAULT_KO are Korean profanity and slurs. */
const DEFAULT_KO = [
  // profanity
  '시발', '씨팔', '개새끼', '씹새끼', '병신', '지랄', '좆', '존나', '엿먹어', '염병', '후레자식', '미친놈', '미친년',
  // insults aimed at someone's parents
  '느금마', '니애미', '니애비', '애미뒤진',
  // slurs against groups
  '한남충', '김치녀', '틀딱', '급식충', '짱깨', '쪽바리', '깜둥이', '장애새끼',
] as const;

/** DEFAULT_EN are English profanity and slurs. */
const DEFAULT_EN = [
  'fuck', 'shit', 'bitch', 'cunt', 'asshole', 'bastard', 'motherfucker', 'slut', 'whore', 'wanker', 'twat',
  'nigger', 'nigga', 'faggot',
] as const;

/** DEFAULT_WORDS are the default list's words. */
export const DEFAULT_WORDS: readonly string[] = [...DEFAULT_KO, ...DEFAULT_EN];

/** DEFAULT_FILTER_ENTRIES is the default list as filter entries (all `mask`). */
export const DEFAULT_FILTER_ENTRIES: readonly FilterEntry[] = DEFAULT_WORDS.map((word) => ({ word, action: 'mask' }));
