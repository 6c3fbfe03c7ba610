import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  escapeVttText, formatVttTimestamp, msToMpegTs, parseVtt, parseVttTimestamp, unescapeVttText, VttError, writeVtt, type VttDocument,
} from '../../../src/formats/webvtt.js';

/** Golden table: each document and the exact text it is written as. */
const GOLDEN: { name: string; value: VttDocument; text: string }[] = [
  { name: 'empty', value: { cues: [] }, text: 'WEBVTT\n' },
  {
    name: 'two cues with ids and Korean',
    value: { cues: [{ id: '1', startMs: 0, endMs: 2500, text: '안녕하세요' }, { id: '2', startMs: 2500, endMs: 3_723_004, text: 'two\nlines' }] },
    text: 'WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\n안녕하세요\n\n2\n00:00:02.500 --> 01:02:03.004\ntwo\nlines\n',
  },
  {
    name: 'HLS segment with timestamp map and settings',
    value: { timestampMap: { mpegts: 900000, localMs: 0 }, cues: [{ startMs: 10_000, endMs: 12_000, text: 'a < b & c > d', settings: 'line:90% align:center' }] },
    text: 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\n00:00:10.000 --> 00:00:12.000 line:90% align:center\na &lt; b &amp; c &gt; d\n',
  },
  {
    name: 'arrow in text is escaped',
    value: { cues: [{ startMs: 1, endMs: 2, text: 'x --> y' }] },
    text: 'WEBVTT\n\n00:00:00.001 --> 00:00:00.002\nx --&gt; y\n',
  },
  { name: 'title', value: { title: 'onair captions', cues: [] }, text: 'WEBVTT onair captions\n' },
];

test('webvtt: golden documents write to exact text and parse back', () => {
  for (const g of GOLDEN) {
    assert.equal(writeVtt(g.value), g.text, g.name);
    assert.deepEqual(parseVtt(g.text), g.value, g.name);
  }
});

test('webvtt: timestamps', () => {
  const table: [number, string][] = [[0, '00:00:00.000'], [999, '00:00:00.999'], [61_001, '00:01:01.001'], [360_000_000, '100:00:00.000']];
  for (const [ms, s] of table) {
    assert.equal(formatVttTimestamp(ms), s);
    assert.equal(parseVttTimestamp(s), ms);
  }
  assert.equal(parseVttTimestamp('01:02.003'), 62_003, 'hours are optional');
  for (const bad of ['1:02.003', '00:60:00.000', '00:00:00,000', '00:00:00.00', '']) assert.throws(() => parseVttTimestamp(bad), VttError, bad);
  assert.throws(() => formatVttTimestamp(-1), VttError);
});

test('webvtt: escaping removes blank lines and entity round trip', () => {
  assert.equal(escapeVttText('a\r\n\r\nb\n\n\nc'), 'a\nb\nc', 'a blank line would end the cue');
  assert.equal(unescapeVttText('<v Roger>hi &amp; &lt;bye&gt;</v>&nbsp;'), 'hi & <bye>\u00a0');
  const nasty = 'if a<b && b>c --> &amp; <i>';
  assert.equal(parseVtt(writeVtt({ cues: [{ startMs: 0, endMs: 1, text: nasty }] })).cues[0]!.text, nasty);
});

test('webvtt: ids cannot break the format', () => {
  const text = writeVtt({ cues: [{ id: 'a-->b\nc', startMs: 0, endMs: 1, text: 'x' }] });
  assert.equal(text, 'WEBVTT\n\na--b c\n00:00:00.000 --> 00:00:00.001\nx\n');
  assert.equal(parseVtt(text).cues.length, 1);
});

test('webvtt: parser tolerates BOM, CRLF, NOTE and STYLE blocks; rejects garbage', () => {
  const doc = parseVtt('\ufeffWEBVTT\r\n\r\nNOTE written by hand\r\n\r\nSTYLE\r\n::cue { color: red }\r\n\r\n00:01.000 --> 00:02.000\r\nhello\r\n');
  assert.deepEqual(doc, { cues: [{ startMs: 1000, endMs: 2000, text: 'hello' }] });
  assert.throws(() => parseVtt('WEBVTTX\n'), VttError);
  assert.throws(() => parseVtt('hello\n'), VttError);
  assert.throws(() => parseVtt('WEBVTT\n\nid only\n'), VttError);
  assert.throws(() => parseVtt('WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nbackwards\n'), VttError);
  assert.throws(() => parseVtt('WEBVTT\nX-TIMESTAMP-MAP=LOCAL:00:00:00.000\n'), VttError);
  assert.throws(() => writeVtt({ cues: [{ startMs: 2, endMs: 1, text: 'x' }] }), VttError);
});

test('webvtt: MPEG-TS clock conversion wraps at 33 bits', () => {
  assert.equal(msToMpegTs(10_000), 900_000);
  assert.equal(msToMpegTs(2 ** 33 / 90), 0);
  assert.equal(msToMpegTs(-1), 2 ** 33 - 90);
});
