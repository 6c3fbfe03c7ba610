import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WordFilter, MASK, type FilterEntry } from '../../../../src/chat/moderation/filter.js';
import { describeSkeleton, skeletonOf } from '../../../../src/chat/moderation/normalize.js';

const ENTRIES: FilterEntry[] = [
  { word: '시발', action: 'block' },
  { word: '병신', action: 'mask' },
  { word: '개새끼', action: 'block' },
  { word: '존나', action: 'mask' },
  { word: '닥쳐', action: 'mask' },
  { word: 'fuck', action: 'mask' },
  { word: 'shit', action: 'block' },
  { word: 'bitch', action: 'block' },
  { word: 'ass', action: 'mask' },
  { word: 'son of a bitch', action: 'block' },
];
const filter = WordFilter.compile(ENTRIES);

/** Evasions that must be caught: [text, expected action, expected output when masked]. */
const CAUGHT: [string, 'block' | 'mask', string?][] = [
  ['시발', 'block'],
  ['씨발', 'block'], // tense consonant
  ['씨빨', 'block'],
  ['시1발', 'block'], // digit inserted
  ['시.발', 'block'], // symbol inserted
  ['시~!발', 'block'],
  ['시 발', 'block'], // spaced syllables
  ['아 진짜 시 발 뭐야', 'block'],
  ['ㅅㅂ', 'block'], // initial-consonant abbreviation
  ['ㅆㅂ', 'block'],
  ['ㅅ ㅂ', 'block'],
  ['아 ㅅㅂ 짜증나', 'block'],
  ['ㅅㅣㅂㅏㄹ', 'block'], // jamo-decomposed spelling
  ['ㅅ ㅣ ㅂ ㅏ ㄹ', 'block'],
  ['시바ㄹ', 'block'], // half composed
  ['시이이이발', 'block'], // elongated
  ['ｼ발'.replace('ｼ', '시'), 'block'],
  ['개 새 끼', 'block'],
  ['개새기', 'block'],
  ['ㄱㅅㄲ', 'block'],
  ['이 병신아', 'mask', `이 ${MASK}아`],
  ['병1신', 'mask', MASK],
  ['ㅂㅅ', 'mask', MASK],
  ['존나 좋아', 'mask', `${MASK} 좋아`],
  ['졸라'.replace('졸라', '존 나') + ' 맛있다', 'mask', `${MASK} 맛있다`],
  ['shit', 'block'],
  ['SHIT', 'block'],
  ['sh1t', 'block'], // leet
  ['$hit', 'block'],
  ['s.h.i.t', 'block'],
  ['s h i t', 'block'],
  ['shiiiiit', 'block'], // repeated letters
  ['ｓｈｉｔ', 'block'], // full-width
  ['ѕһіt', 'block'], // Cyrillic look-alikes
  ['śhít', 'block'], // accents
  ['sh\u200bit', 'block'], // zero-width space
  ['what the fuck', 'mask', `what the ${MASK}`],
  ['f u c k this', 'mask', `${MASK} this`],
  ['fuuuuck', 'mask', MASK],
  ['f*u*c*k', 'mask', MASK],
  ['motherfucker', 'mask', `mother${MASK}er`],
  ['you ass', 'mask', `you ${MASK}`],
  ['a s s', 'mask', MASK],
  ['b1tch', 'block'],
  ['son of a bitch', 'block'],
];

/** Ordinary sentences that must pass untouched. */
const PASS: string[] = [
  '안녕하세요 오늘 방송 재밌어요',
  '시발점에서 다시 시작하자', // 시발점 = starting point
  '이 노선의 시발역은 서울역입니다',
  '그 시 발표 좋았어', // 시 + 발표 across a word gap
  '시를 발표했다',
  '곳불이 났어요', // final ㅅ + initial ㅂ is not bare ㅅㅂ
  '사비로 샀어요',
  '신발 새로 샀다',
  '병원에 신발을 두고 왔다',
  '이번 병신년 달력', // year name
  '개나리가 피었네',
  '새끼발가락을 찧었어', // 새끼 alone is not 개새끼
  '존경합니다 나중에 봐요',
  '닭쳐다보기',
  'ㅋㅋㅋㅋ 개웃기네',
  'ㅎㅇ ㅂㅇ',
  'this hit song', // "s hit" across words
  'the class was great',
  'pass the glass',
  'assassin creed and classic bass',
  'Scunthorpe United',
  'he shifted it',
  'I love shiitake mushrooms',
  'cocktail party',
  'hello world 123',
  'https://example.com/path',
  '😀👍 :kekw:',
];

test('evasions are caught', () => {
  for (const [text, action, masked] of CAUGHT) {
    const r = filter.check(text);
    assert.equal(r.action, action, `${text} → ${JSON.stringify(r)} (${describeSkeleton(skeletonOf(text).codes)})`);
    if (masked !== undefined && r.action === 'mask') assert.equal(r.text, masked, text);
  }
});

test('ordinary sentences pass (no false positives)', () => {
  for (const text of PASS) {
    const r = filter.check(text);
    assert.equal(r.action, 'pass', `${text} → ${JSON.stringify(r)} (${describeSkeleton(skeletonOf(text).codes)})`);
  }
});

test('masking keeps the rest of the text and merges overlapping spans', () => {
  assert.deepEqual(filter.check('fuck fuck'), { action: 'mask', text: `${MASK} ${MASK}`, words: ['fuck', 'fuck'] });
  const r = filter.check('😀 병신 😀');
  assert.equal(r.action, 'mask');
  assert.equal((r as { text: string }).text, `😀 ${MASK} 😀`);
});

test('block wins over mask; channel entries upgrade a word and allow entries shield it', () => {
  assert.equal(filter.check('병신 시발').action, 'block');
  const up = WordFilter.compile([{ word: '병신', action: 'mask' }, { word: '병신', action: 'block' }]);
  assert.equal(up.check('병신').action, 'block');
  const allow = WordFilter.compile([{ word: 'shit', action: 'block' }, { word: 'shitzu', action: 'allow' }]);
  assert.equal(allow.check('my shitzu dog').action, 'pass');
  assert.equal(allow.check('shit').action, 'block');
});

test('an empty filter passes everything; entries that normalise to nothing are ignored', () => {
  assert.equal(WordFilter.compile([]).check('시발').action, 'pass');
  const f = WordFilter.compile([{ word: '!!!', action: 'block' }, { word: '   ', action: 'block' }]);
  assert.equal(f.check('!!!').action, 'pass');
});

test('skeletons: syllables, standalone jamo and abbreviations get distinct roles', () => {
  assert.equal(describeSkeleton(skeletonOf('시발').codes), 'Iㅅ Vㅣ Iㅂ Vㅏ Fㄹ');
  assert.equal(describeSkeleton(skeletonOf('ㅅㅣㅂㅏㄹ').codes), 'Iㅅ Vㅣ Iㅂ Vㅏ Fㄹ');
  assert.equal(describeSkeleton(skeletonOf('ㅆㅂ').codes), 'Bㅅ Bㅂ');
  assert.equal(describeSkeleton(skeletonOf('곳불').codes), 'Iㄱ Vㅗ Fㅅ Iㅂ Vㅜ Fㄹ');
  assert.equal(describeSkeleton(skeletonOf('과').codes), 'Iㄱ Vㅗ Vㅏ');
  assert.equal(describeSkeleton(skeletonOf('this hit').codes), 't h i s ␣ h i t');
  // Source spans point back into the original text.
  const sk = skeletonOf('a ｆｕ');
  // a, barrier (empty span at the next token), f, u
  assert.deepEqual([sk.start, sk.end], [[0, 2, 2, 3], [1, 2, 3, 4]]);
});

test('a 1,000-entry filter compiles and scans in linear time', () => {
  const many: FilterEntry[] = [];
  // Three letters per entry (no digits: they would read as leet or vanish); first letter a-m → block, n-z → mask.
  const letters = (i: number) => [Math.floor(i / 676) % 26, Math.floor(i / 26) % 26, i % 26].map((d) => String.fromCharCode(97 + d)).join('');
  for (let i = 0; i < 1000; i++) many.push({ word: `badword${letters(i * 17)}x`, action: letters(i * 17) < 'n' ? 'block' : 'mask' });
  many.push({ word: '시발', action: 'block' });
  const f = WordFilter.compile(many);
  assert.equal(f.check('this contains badwordaarx here').action, 'block');
  assert.equal(f.check('b a d w o r d n c r x').action, 'mask');
  assert.equal(f.check('오늘도 좋은 하루 되세요').action, 'pass');
});
