/**
 * Super-chat tiers: the amount picks the tier; the tier bounds the message
 * length and sets how long the super chat stays pinned in the ticker.
 */
import type { SuperChatTierConfig } from '../../config/schema.js';

/** CURRENCY is the wallet's only currency: Korean won, whole units. */
export const CURRENCY = 'KRW';

/** Tier is a tier as published to clients. */
export interface Tier extends SuperChatTierConfig {
  index: number;
}

/** tierFor picks the highest tier whose minAmount the amount reaches, or undefined below the first. */
export function tierFor(amount: number, tiers: readonly SuperChatTierConfig[]): Tier | undefined {
  let found: Tier | undefined;
  tiers.forEach((t, index) => {
    if (amount >= t.minAmount) found = { index, ...t };
  });
  return found;
}

/** textLength counts user-perceived characters the simple way: code points (Hangul syllables are one each). */
export const textLength = (s: string): number => [...s].length;

// C0/C1 control characters and bidi overrides, which can reorder how a name or amount reads next to the text.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

/** cleanMessage makes a one-line plain-text message: controls dropped, line breaks to spaces, trimmed. */
export function cleanMessage(s: string): string {
  return s.replace(CONTROL, '').replace(/[\r\n\t]+/g, ' ').trim();
}

/** formatKrw renders an amount the way ko-KR does, e.g. ₩10,000. */
export const formatKrw = (amount: number): string => `₩${amount.toLocaleString('en-US')}`;
