import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WordFilter } from '../../../../src/chat/moderation/filter.js';
import { DEFAULT_FILTER_ENTRIES, DEFAULT_WORDS } from '../../../../src/chat/moderation/default-words.js';

const filter = WordFilter.compile(DEFAULT_FILTER_ENTRIES);

/**
 * ORDINARY is a corpus of everyday Korean and English chat lines, many chosen because they
 * contain a listed word's letters (시발점, 수박씨 발라, 십만, 샹송, 3개년, 보지 마, Scunthorpe …).
 * The default list must let every one of them through unchanged.
 */
const ORDINARY = [
  '시발점에서 만나', '시발역에서 기다릴게', '수박씨 발라 먹기', '수박씨 발라 먹는 법 알려주세요', '시발택시 타 봤어?',
  '이 길이 모든 일의 시발점이었지', '병신년 새해 복 많이 받으세요', '십만 원 후원 감사합니다', '씹는 맛이 좋아요', '샹송 틀어 주세요',
  '3개년 계획을 세웠어요', '보지 마세요 스포 있어요', '새끼손가락 걸고 약속', '우리 개가 새끼를 낳았어요', '개 새끼 세 마리가 태어났어요',
  '미친 듯이 웃었어', '지존 등극', '조지아 커피 마시는 중', '존경합니다 스트리머님', '지난번 방송 재밌었어요',
  '시바견 너무 귀여워', '시바 견 산책 중', '발라드 불러 주세요', '씨앗을 심었어요', '병원 다녀왔어요',
  '신발 새로 샀어요', '시간 발표 언제예요', '그 시 발표회 어땠어', '엿 먹고 싶다 호박엿', '염색했어요 어때요',
  '지금 바로 시작합니다', '좋아요 누르고 가세요', '존버는 승리한다', '한남동 맛집 추천', '김치 담그는 중',
  '틀렸어요 다시 해 볼게요', '급식 먹었어요', '짱구 보러 갈래', '쪽지 보냈어요', '깜짝 놀랐어요',
  '장애물 달리기 1등', '니 애미가 아니라 내 어머니께서 요리하셨어', '느긋하게 봐요', '후레쉬 켜 주세요', '미친 척하고 한 판 더',
  'ㅋㅋㅋㅋㅋ', 'ㅎㅎ 안녕하세요', 'ㄱㄱ 가자', 'ㅇㅈ 인정', 'ㄹㅇ 진짜',
  'Scunthorpe United won today', 'I love a good cocktail', 'shiitake mushrooms are great', 'the assassin in that game', 'classic move',
  'pass the ball', 'what a great passage', 'the embassy is closed', 'Dickens wrote good books', 'a peacock in the zoo',
  'flame retardant jacket', 'Sussex is lovely', 'I snigger at that joke', 'hello everyone', 'this hit was huge',
  'good luck with the match', 'she sells sea shells', 'great assessment', 'the cockpit view is amazing', 'bass drop incoming',
  'a basset hound', 'shuttlecock', 'Hitchcock movie night', 'mishmash of ideas', 'counting to ten',
  'shift key is broken', 'Bitcoin price went up', 'pitch perfect', 'what a glitch', 'nice kitchen',
  '🎉🎉 축하해요', '₩10,000 후원 감사합니다', 'GG WP', 'LOL 웃기다', '오늘 방송 몇 시까지 해요?',
];

test('the default list: every entry is caught plain, in a sentence, spaced, with symbols, by 초성 and by look-alikes', () => {
  for (const word of DEFAULT_WORDS) {
    const chars = [...word];
    const hangul = /^[\uac00-\ud7a3]+$/.test(word);
    const variants: string[] = [word, hangul ? `아 ${word} 진짜` : `oh ${word} really`];
    if (chars.length > 1) {
      variants.push(chars.join(' '), chars.join('.'), chars.join('*'));
    }
    if (hangul) {
      if (chars.length >= 2) variants.push(initials(word), initials(word).split('').join(' '));
      variants.push(decomposed(word));
    } else {
      variants.push(fullWidth(word), lookAlike(word), word.toUpperCase());
    }
    for (const v of variants) {
      const r = filter.check(v);
      assert.equal(r.action, 'mask', `${word}: "${v}" → ${JSON.stringify(r)}`);
    }
  }
});

test('the default list masks only the word in an ordinary sentence', () => {
  assert.deepEqual(filter.check('시발 뭐야'), { action: 'mask', text: '*** 뭐야', words: ['시발'] });
  assert.deepEqual(filter.check('what the fuck is this'), { action: 'mask', text: 'what the *** is this', words: ['fuck'] });
  assert.equal((filter.check('ㅅㅂ 진짜') as { text: string }).text, '*** 진짜');
});

test('the default list lets every ordinary sentence of the corpus through', () => {
  for (const line of ORDINARY) assert.deepEqual(filter.check(line), { action: 'pass' }, line);
});

/** initials spells a Hangul word by its initial consonants (시발 → ㅅㅂ). */
function initials(word: string): string {
  const INITIALS = 'ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ';
  return [...word].map((c) => INITIALS.charAt(Math.floor((c.charCodeAt(0) - 0xac00) / (21 * 28)))).join('');
}

/** decomposed spells a Hangul word jamo by jamo (시발 → ㅅㅣㅂㅏㄹ), a common way round filters. */
function decomposed(word: string): string {
  const I = 'ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ';
  const V = 'ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ';
  const F = ' ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ';
  return [...word].map((c) => {
    const o = c.charCodeAt(0) - 0xac00;
    const f = F.charAt(o % 28);
    return I.charAt(Math.floor(o / (21 * 28))) + V.charAt(Math.floor((o % (21 * 28)) / 28)) + (f === ' ' ? '' : f);
  }).join('');
}

/** fullWidth writes Latin letters in their full-width forms (ｆｕｃｋ). */
const fullWidth = (w: string): string => [...w].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('');

/** lookAlike swaps Latin letters for Cyrillic ones that look the same, and i for 1 (leet). */
function lookAlike(w: string): string {
  const map: Record<string, string> = { a: 'а', e: 'е', o: 'о', c: 'с', p: 'р', x: 'х', y: 'у', i: '1' };
  return [...w].map((c) => map[c] ?? c).join('');
}
