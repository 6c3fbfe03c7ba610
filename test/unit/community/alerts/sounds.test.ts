// Alert sounds: uploads are recognised by their bytes, and each channel's choice and upload are
// kept on SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { engines, TEST_STREAM_KEY_SECRET } from '../../../../testkit/db.js';
import { createPlatform } from '../../../../src/platform/index.js';
import { AlertSoundStore, sniffAudio } from '../../../../src/community/alerts/sounds.js';

const CHIME = readFileSync(new URL('../../../../web/public/alert-sounds/chime.wav', import.meta.url));

test('sniffAudio knows WAV, Ogg and MP3 by their first bytes and nothing else', () => {
  assert.equal(sniffAudio(CHIME), 'audio/wav');
  assert.equal(sniffAudio(Buffer.from('OggS\0\x02')), 'audio/ogg');
  assert.equal(sniffAudio(Buffer.from('ID3\x04\0')), 'audio/mpeg');
  assert.equal(sniffAudio(Buffer.from([0xff, 0xfb, 0x90, 0x64])), 'audio/mpeg');
  for (const b of [Buffer.from('<svg onload=alert(1)>'), Buffer.from('RIFF\0\0\0\0AVI '), Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(0)]) assert.equal(sniffAudio(b), null);
});

for (const e of engines()) {
  test(`alert sound store (${e.engine})`, { skip: e.skip }, async (t) => {
    const h = await e.open();
    t.after(() => h.dispose());
    const { channel } = await createPlatform(h.db, TEST_STREAM_KEY_SECRET).channels.create({ name: 'snd' });
    const store = new AlertSoundStore(h.db);
    assert.deepEqual(await store.choice(channel.id), { sound: 'chime', hasCustom: false, updatedAt: 0 });
    await store.choose(channel.id, 'fanfare', 5);
    assert.deepEqual(await store.choice(channel.id), { sound: 'fanfare', hasCustom: false, updatedAt: 5 });
    assert.equal(await store.custom(channel.id), null);
    await store.upload(channel.id, 'audio/wav', CHIME, 7);
    assert.deepEqual(await store.choice(channel.id), { sound: 'custom', hasCustom: true, updatedAt: 7 });
    const c = await store.custom(channel.id);
    assert.equal(c?.type, 'audio/wav');
    assert.ok(c?.data.equals(CHIME), 'the upload comes back byte for byte');
    await store.choose(channel.id, 'none', 9);
    assert.deepEqual(await store.choice(channel.id), { sound: 'none', hasCustom: true, updatedAt: 9 }, 'the upload stays for later');
  });
}
