/**
 * Overlay tokens: per-channel secrets for OBS browser sources. The secret is
 * shown once; only its SHA-256 is stored; revoking takes effect at once.
 */
import type { Db } from '../../platform/db/connect.js';
import type { ChannelsTable } from '../../platform/db/schema.js';
import { AppError } from '../../http/errors.js';
import { newId, randomToken, sha256 } from '../../platform/ids.js';
import { supportersDb, type OverlayTokensTable } from './db.js';

/** OVERLAY_TOKEN_PREFIX makes overlay secrets recognisable in logs and leak scanners. */
export const OVERLAY_TOKEN_PREFIX = 'ovl_';
/** MAX_OVERLAYS_PER_CHANNEL bounds live (unrevoked) overlay tokens per channel. */
export const MAX_OVERLAYS_PER_CHANNEL = 50;
/** LAST_USED_RESOLUTION_MS: last_used_at is written at most this often per token. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface PublicOverlay {
  id: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

const toPublic = (r: OverlayTokensTable): PublicOverlay => ({
  id: r.id, label: r.label, createdAt: Number(r.created_at), lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
});

export class OverlayTokenService {
  private readonly k;
  constructor(db: Db) {
    this.k = supportersDb(db);
  }

  async create(channel: ChannelsTable, label: string, createdBy: string | null): Promise<PublicOverlay & { token: string }> {
    const live = await this.k.selectFrom('overlay_tokens').select((eb) => eb.fn.countAll<string>().as('n')).where('channel_id', '=', channel.id).where('revoked_at', 'is', null).executeTakeFirstOrThrow();
    if (Number(live.n) >= MAX_OVERLAYS_PER_CHANNEL) throw new AppError('conflict', `a channel may have at most ${MAX_OVERLAYS_PER_CHANNEL} overlay tokens; revoke one first`);
    const token = OVERLAY_TOKEN_PREFIX + randomToken(24);
    const row: OverlayTokensTable = { id: newId(), channel_id: channel.id, token_hash: sha256(token), label: label.trim() || 'overlay', created_by: createdBy, created_at: Date.now(), last_used_at: null, revoked_at: null };
    await this.k.insertInto('overlay_tokens').values(row).execute();
    return { ...toPublic(row), token };
  }

  async list(channel: ChannelsTable): Promise<PublicOverlay[]> {
    const rows = await this.k.selectFrom('overlay_tokens').selectAll().where('channel_id', '=', channel.id).orderBy('created_at', 'desc').execute();
    return rows.map(toPublic);
  }

  async revoke(channel: ChannelsTable, id: string): Promise<PublicOverlay> {
    const row = await this.k.selectFrom('overlay_tokens').selectAll().where('channel_id', '=', channel.id).where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('not_found', `no overlay "${id}" on this channel`);
    if (row.revoked_at === null) {
      row.revoked_at = Date.now();
      await this.k.updateTable('overlay_tokens').set({ revoked_at: row.revoked_at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    }
    return toPublic(row);
  }

  /** validate answers the overlay when the token is this channel's and not revoked; else throws unauthorized. */
  async validate(channel: ChannelsTable, token: string | undefined): Promise<PublicOverlay> {
    if (!token || !token.startsWith(OVERLAY_TOKEN_PREFIX) || token.length > 200) throw new AppError('unauthorized', 'overlay token missing or malformed (?token=ovl_...)');
    const row = await this.k.selectFrom('overlay_tokens').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirst();
    if (!row || row.channel_id !== channel.id) throw new AppError('unauthorized', 'unknown overlay token for this channel');
    if (row.revoked_at !== null) throw new AppError('unauthorized', 'this overlay token was revoked; create a new overlay URL in the studio');
    const now = Date.now();
    if (row.last_used_at === null || now - Number(row.last_used_at) > LAST_USED_RESOLUTION_MS) {
      await this.k.updateTable('overlay_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
      row.last_used_at = now;
    }
    return toPublic(row);
  }
}
