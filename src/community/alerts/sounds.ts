/**
 * Alert sounds: each channel's choice of the sound its overlay plays with a super chat alert —
 * one of the bundled sounds (web/public/alert-sounds/), none, or the owner's upload (checked by
 * size and by its bytes: WAV, Ogg or MP3), kept in the database so every node serves it.
 */
import type { Kysely } from 'kysely';
import type { Db } from '../../platform/db/connect.js';
import type { AlertSoundsDatabase } from './db.js';

/** BUNDLED_SOUNDS ship with the web app at /alert-sounds/{name}.wav. */
export const BUNDLED_SOUNDS = ['chime', 'coin', 'fanfare'] as const;
/** DEFAULT_SOUND is what a channel that never chose plays. */
export const DEFAULT_SOUND = 'chime';
/** CUSTOM_SOUND names the owner's upload. */
export const CUSTOM_SOUND = 'custom';
export const NO_SOUND = 'none';

export type SoundChoice = (typeof BUNDLED_SOUNDS)[number] | typeof CUSTOM_SOUND | typeof NO_SOUND;

/** sniffAudio names the media type of an upload from its first bytes, or null when it is none we play. */
export function sniffAudio(b: Buffer): 'audio/wav' | 'audio/ogg' | 'audio/mpeg' | null {
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WAVE') return 'audio/wav';
  if (b.length >= 4 && b.subarray(0, 4).toString('latin1') === 'OggS') return 'audio/ogg';
  if (b.length >= 3 && b.subarray(0, 3).toString('latin1') === 'ID3') return 'audio/mpeg';
  // An MPEG audio frame sync (11 set bits) with layer III.
  if (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xe6) === 0xe2) return 'audio/mpeg';
  return null;
}

export class AlertSoundStore {
  private readonly k: Kysely<AlertSoundsDatabase>;
  constructor(db: Db) {
    this.k = db.kysely as unknown as Kysely<AlertSoundsDatabase>;
  }

  /** choice is the channel's sound and whether it has an upload. */
  async choice(channelId: string): Promise<{ sound: SoundChoice; hasCustom: boolean; updatedAt: number }> {
    const r = await this.k.selectFrom('alert_sounds').select(['sound', 'custom_type', 'updated_at']).where('channel_id', '=', channelId).executeTakeFirst();
    return { sound: (r?.sound ?? DEFAULT_SOUND) as SoundChoice, hasCustom: r?.custom_type !== null && r?.custom_type !== undefined, updatedAt: Number(r?.updated_at ?? 0) };
  }

  /** choose sets the channel's sound (custom only once uploaded: the caller checks). */
  async choose(channelId: string, sound: SoundChoice, now = Date.now()): Promise<void> {
    await this.k.insertInto('alert_sounds').values({ channel_id: channelId, sound, custom_type: null, custom_data: null, updated_at: now })
      .onConflict((oc) => oc.column('channel_id').doUpdateSet({ sound, updated_at: now })).execute();
  }

  /** upload keeps the channel's own sound and chooses it. */
  async upload(channelId: string, type: string, data: Buffer, now = Date.now()): Promise<void> {
    const row = { sound: CUSTOM_SOUND, custom_type: type, custom_data: data.toString('base64'), updated_at: now };
    await this.k.insertInto('alert_sounds').values({ channel_id: channelId, ...row }).onConflict((oc) => oc.column('channel_id').doUpdateSet(row)).execute();
  }

  /** custom is the channel's upload, or null. */
  async custom(channelId: string): Promise<{ type: string; data: Buffer; updatedAt: number } | null> {
    const r = await this.k.selectFrom('alert_sounds').select(['custom_type', 'custom_data', 'updated_at']).where('channel_id', '=', channelId).executeTakeFirst();
    if (!r?.custom_type || r.custom_data === null) return null;
    return { type: r.custom_type, data: Buffer.from(r.custom_data, 'base64'), updatedAt: Number(r.updated_at) };
  }
}
