/** Content checks of chat modes: emote-only and link detection. */

/** EMOTE_TOKEN is a channel emote written as `:name:`. */
const EMOTE_TOKEN = /:[a-z0-9_+-]{1,32}:/gi;
/** EMOJI_RUN is text made only of emoji: pictographs, skin tones, flags, keycaps, joiners and variation selectors. */
const EMOJI_RUN = /^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|[#*0-9]\ufe0f?\u20e3|\u200d|\ufe0f|\ufe0e)+$/u;

/** isEmoteOnly: the text consists of `:emote:` tokens, emoji and whitespace, and has at least one of them. */
export function isEmoteOnly(text: string): boolean {
  const rest = text.replace(EMOTE_TOKEN, '').replace(/\s+/g, '');
  if (rest === '') return text.trim() !== '';
  return EMOJI_RUN.test(rest);
}

/** LINK_RE finds URLs and bare domain names with a common top-level domain. */
const LINK_RE = /(?:https?:\/\/|www\.)[^\s]|(?:^|[^\p{L}\p{N}@.-])[\p{L}\p{N}][\p{L}\p{N}-]*(?:\.[\p{L}\p{N}-]+)*\s?(?:\.|\[\.\]|\(\.\)|dot)\s?(?:com|net|org|io|gg|tv|kr|co|me|ly|xyz|app|dev|link|info|biz|ru|cn|jp|to|be|us|uk|live|site|online|shop|club|top)(?![\p{L}\p{N}])/iu;

/** hasLink tells whether the text contains something a browser or a reader would take for a link. */
export const hasLink = (text: string): boolean => LINK_RE.test(text);

/** fingerprint hashes a text for duplicate detection, insensitive to case and spacing (53-bit, not cryptographic). */
export function fingerprint(text: string): string {
  const t = text.toLowerCase().replace(/\s+/g, ' ').trim();
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
