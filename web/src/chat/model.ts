/** chat/model.ts: turns chat publications (whatever feature sent them) into rows the UI draws. Pure. */

export type Badge = 'owner' | 'manager' | 'subscriber' | 'admin';

export interface ChatRow {
  id: string;
  kind: 'message' | 'super' | 'system';
  userId: string;
  /** Login name when the publication carries it (moderation commands address users by it). */
  username?: string;
  name: string;
  badges: Badge[];
  text: string;
  ts: number;
  amount?: number;
  color?: string;
  /** ms the super chat stays pinned in the ticker. */
  pinMs?: number;
  /** A system row's notice code and parameters (docs/chat.md), worded in the page's language; `text` is the English fallback. */
  code?: string;
  params?: Readonly<Record<string, unknown>>;
}

/** ChatEvent is what one publication means for the list. */
export type ChatEvent =
  | { op: 'add'; row: ChatRow }
  | { op: 'clear' }
  | { op: 'delete'; ids: string[] }
  | { op: 'purgeUser'; userId: string; row?: ChatRow }
  | { op: 'mode'; slowSeconds?: number; row?: ChatRow }
  | { op: 'ignore' };

/** PubInfo is the Centrifugo ClientInfo the SDK gives with a publication. */
export interface PubInfo {
  user?: string;
  client?: string;
  connInfo?: unknown;
  chanInfo?: unknown;
}

const BADGE_ORDER: Badge[] = ['owner', 'manager', 'admin', 'subscriber'];

/** LOWEST_TIER is the colour of any amount below the next tier. */
const LOWEST_TIER = { min: 0, color: '#1e88e5', pinMs: 0 };
/** TIER_COLORS are default super chat colours by minimum amount (KRW), used when the server sends none. */
export const TIER_COLORS: { min: number; color: string; pinMs: number }[] = [
  { min: 100000, color: '#e62117', pinMs: 5 * 60_000 },
  { min: 50000, color: '#e91e63', pinMs: 2 * 60_000 },
  { min: 20000, color: '#f57c00', pinMs: 60_000 },
  { min: 10000, color: '#ffca28', pinMs: 30_000 },
  { min: 5000, color: '#1de9b6', pinMs: 15_000 },
  { min: 2000, color: '#00e5ff', pinMs: 10_000 },
  LOWEST_TIER,
];

export function tierFor(amount: number): { color: string; pinMs: number } {
  return TIER_COLORS.find((t) => amount >= t.min) ?? LOWEST_TIER;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
/** Fields is a publication's object read key by key: any server may send any shape, so every value is checked where it is used. */
type Fields = Readonly<Record<string, unknown>>;
const NO_FIELDS: Fields = {};
/** fields views an object (arrays included, as before) as Fields; anything else as undefined. */
const fields = (v: unknown): Fields | undefined => (v !== null && typeof v === 'object' ? (v as Fields) : undefined);

/** badgesFor reads roles for one channel from a token's info (roles map) or a flat list. */
export function badgesFor(from: unknown, channel: string): Badge[] {
  const source = fields(from);
  if (!source) return [];
  const set = new Set<string>();
  const addAll = (list: unknown) => { if (Array.isArray(list)) for (const r of list as unknown[]) if (typeof r === 'string') set.add(r); };
  const roles = source.roles;
  if (Array.isArray(roles)) addAll(roles);
  else addAll(fields(roles)?.[channel]);
  addAll(source.badges);
  if (source.admin === true) set.add('admin');
  return BADGE_ORDER.filter((b) => set.has(b));
}

/** senderOf finds who sent a publication: the data's own user fields win over the connection info. */
function senderOf(data: Fields, info: PubInfo | undefined, channel: string): { userId: string; username?: string; name: string; badges: Badge[] } {
  const u = fields(data.user);
  const ci = fields(info?.connInfo);
  const userId = str(u?.id) ?? str(data.userId) ?? info?.user ?? '';
  const name = str(u?.displayName) ?? str(u?.name) ?? str(data.displayName) ?? str(data.name) ?? str(u?.username) ?? str(data.username) ?? str(ci?.name) ?? str(ci?.username) ?? (userId ? userId.slice(0, 8) : '?');
  const badges = badgesFor(u ?? data, channel);
  const username = str(u?.username) ?? str(data.username) ?? (ci && (info?.user ?? '') === userId ? str(ci.username) : undefined);
  return { userId, ...(username ? { username } : {}), name, badges: badges.length ? badges : badgesFor(ci, channel) };
}

let seq = 0;

/** systemRow is a notice row; the code and params, when the server sent them, are kept for wording it. */
function systemRow(id: string, d: Fields, text: string, ts: number): ChatRow {
  const code = str(d.code);
  const params = fields(d.params);
  return { id, kind: 'system', userId: '', name: '', badges: [], text, ts, ...(code ? { code } : {}), ...(code && params && !Array.isArray(params) ? { params } : {}) };
}

/**
 * interpret maps one `chat:{channel}` publication to a list change. Unknown shapes are
 * ignored rather than shown raw, so a new server-side type never breaks the page.
 */
export function interpret(data: unknown, info: PubInfo | undefined, channel: string, offset?: number | bigint): ChatEvent {
  const now = Date.now();
  const fallbackId = offset !== undefined ? `o${String(offset)}` : `l${++seq}`;
  if (typeof data === 'string') {
    const s = senderOf(NO_FIELDS, info, channel);
    return { op: 'add', row: { id: fallbackId, kind: 'message', ...s, text: data, ts: now } };
  }
  const d = fields(data);
  if (!d) return { op: 'ignore' };
  const type = str(d.type) ?? (d.amount !== undefined ? 'superchat' : d.text !== undefined ? 'message' : '');
  const id = str(d.id) ?? str(d.messageId) ?? fallbackId;
  const ts = num(d.ts) ?? num(d.createdAt) ?? num(d.time) ?? now;
  switch (type) {
    case 'message':
    case 'chat':
    case 'msg': {
      const text = str(d.text) ?? str(d.message) ?? '';
      if (!text) return { op: 'ignore' };
      return { op: 'add', row: { id, kind: 'message', ...senderOf(d, info, channel), text, ts } };
    }
    case 'superchat':
    case 'super_chat':
    case 'super-chat':
    case 'donation': {
      const amount = num(d.amount) ?? 0;
      const tier = fields(d.tier) ?? NO_FIELDS;
      const def = tierFor(amount);
      const pinnedUntil = num(d.pinnedUntil);
      const pinSeconds = num(tier.pinSeconds);
      const pinMs = pinnedUntil !== undefined ? Math.max(0, pinnedUntil - ts) : num(tier.pinMs) ?? (pinSeconds !== undefined ? pinSeconds * 1000 : undefined) ?? def.pinMs;
      return {
        op: 'add',
        row: { id, kind: 'super', ...senderOf(d, info, channel), text: str(d.message) ?? str(d.text) ?? '', ts, amount, color: str(tier.color) ?? str(d.color) ?? def.color, pinMs },
      };
    }
    case 'clear':
      return { op: 'clear' };
    case 'delete': {
      const ids = Array.isArray(d.ids) ? (d.ids as unknown[]).filter((x): x is string => typeof x === 'string') : [str(d.messageId) ?? str(d.id) ?? ''];
      return { op: 'delete', ids };
    }
    case 'ban':
    case 'timeout': {
      const target = str(d.userId) ?? str(fields(d.user)?.id) ?? str(fields(d.target)?.id) ?? '';
      const text = str(d.text) ?? str(d.message);
      return { op: 'purgeUser', userId: target, row: text ? systemRow(id, d, text, ts) : undefined };
    }
    case 'mode':
    case 'modes': {
      const modes = fields(d.modes);
      const slow = num(d.slowSeconds) ?? num(d.slow) ?? num(modes?.slowSeconds) ?? num(modes?.slow);
      const text = str(d.text) ?? str(d.message);
      return { op: 'mode', slowSeconds: slow, row: text ? systemRow(id, d, text, ts) : undefined };
    }
    case 'system':
    case 'notice':
    case 'moderation': {
      const text = str(d.text) ?? str(d.message) ?? '';
      if (!text) return { op: 'ignore' };
      const ev = str(d.event) ?? '';
      const slow = num(d.slowSeconds) ?? num(fields(d.modes)?.slowSeconds) ?? (/slow/i.test(ev) ? num(d.seconds) ?? num(d.value) ?? (/off/i.test(ev) || d.enabled === false ? 0 : undefined) : undefined);
      if (/^(ban|timeout)$/i.test(ev)) {
        const target = str(d.userId) ?? str(fields(d.user)?.id) ?? str(d.user) ?? str(fields(d.target)?.id) ?? str(d.target) ?? '';
        return { op: 'purgeUser', userId: target, row: systemRow(id, d, text, ts) };
      }
      if (slow !== undefined) return { op: 'mode', slowSeconds: slow, row: systemRow(id, d, text, ts) };
      return { op: 'add', row: systemRow(id, d, text, ts) };
    }
    default:
      return { op: 'ignore' };
  }
}

/** ChatList keeps at most `cap` rows, applying events in order. */
export class ChatList {
  rows: ChatRow[] = [];
  constructor(readonly cap = 200) {}

  apply(ev: ChatEvent): boolean {
    switch (ev.op) {
      case 'add':
        if (this.rows.some((r) => r.id === ev.row.id)) return false;
        this.rows.push(ev.row);
        if (this.rows.length > this.cap) this.rows.splice(0, this.rows.length - this.cap);
        return true;
      case 'clear':
        this.rows = [];
        return true;
      case 'delete': {
        const n = this.rows.length;
        const gone = new Set(ev.ids);
        this.rows = this.rows.filter((r) => !gone.has(r.id));
        return n !== this.rows.length;
      }
      case 'purgeUser':
        if (ev.userId) this.rows = this.rows.filter((r) => r.userId !== ev.userId || r.kind === 'super');
        if (ev.row) this.apply({ op: 'add', row: ev.row });
        return true;
      case 'mode':
        if (ev.row) return this.apply({ op: 'add', row: ev.row });
        return false;
      case 'ignore':
        return false;
    }
  }
}

/** effectCounts reads an aggregated `effects:{channel}` publication as effect → count. */
export function effectCounts(data: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const d = fields(data);
  if (!d) return out;
  const add = (k: unknown, v: unknown) => {
    const n = num(v) ?? 1;
    if (typeof k === 'string' && k && n > 0) out[k] = (out[k] ?? 0) + Math.min(n, 1_000_000);
  };
  const src = d.counts ?? d.effects ?? d.reactions;
  if (src && typeof src === 'object' && !Array.isArray(src)) for (const [k, v] of Object.entries(src)) add(k, v);
  else if (Array.isArray(src)) {
    for (const item of src as unknown[]) {
      const e = fields(item);
      add(e?.effect ?? e?.type ?? e?.name, e?.count);
    }
  }
  else if (typeof d.effect === 'string' || typeof d.type === 'string') add(d.effect ?? d.type, d.count);
  return out;
}
