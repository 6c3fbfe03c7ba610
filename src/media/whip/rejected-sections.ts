/**
 * Rejecting the media sections of a WHIP offer the ingest does not receive (a second video, a
 * codec it does not take). werift negotiates every audio and video section it is given and fails
 * on one without a codec it knows, and it has no way to reject a section; so those sections are
 * taken out of the offer werift sees and put back into its answer as rejected sections (port 0,
 * RFC 3264 §6), in the offer's order, as JSEP requires of an answer.
 */

/** Sections is an SDP split into its session lines and one line list per m= section. */
interface Sections {
  head: string[];
  media: string[][];
}

function split(sdp: string): Sections {
  const out: Sections = { head: [], media: [] };
  for (const line of sdp.split(/\r?\n/)) {
    if (line === '') continue;
    if (line.startsWith('m=')) out.media.push([line]);
    else (out.media.at(-1) ?? out.head).push(line);
  }
  return out;
}

const join = (lines: string[]): string => lines.join('\r\n') + '\r\n';

const midOf = (section: readonly string[]): string | undefined => section.find((l) => l.startsWith('a=mid:'))?.slice('a=mid:'.length);

/** withoutSections takes the sections at these indexes out of an offer, and their mids out of its BUNDLE group. */
export function withoutSections(offer: string, drop: ReadonlySet<number>): string {
  const { head, media } = split(offer);
  const mids = new Set(media.flatMap((s, i) => (drop.has(i) ? [midOf(s) ?? ''] : [])));
  const bundle = (l: string) => (l.startsWith('a=group:BUNDLE') ? l.split(' ').filter((t, i) => i === 0 || !mids.has(t)).join(' ') : l);
  return join([...head.map(bundle), ...media.filter((_, i) => !drop.has(i)).flat()]);
}

/** rejectedSection answers an offered section with a rejection: port 0, its first format, its mid, inactive. */
function rejectedSection(offered: readonly string[]): string[] {
  const [kind = 'm=video', , proto = 'UDP/TLS/RTP/SAVPF', fmt = '0'] = (offered[0] ?? '').split(' ');
  const mid = midOf(offered);
  return [`${kind} 0 ${proto} ${fmt}`, 'c=IN IP4 0.0.0.0', ...(mid === undefined ? [] : [`a=mid:${mid}`]), 'a=inactive'];
}

/** withRejectedSections puts a rejection for each dropped section of the offer back into the answer to withoutSections(offer, drop), at its place. */
export function withRejectedSections(answer: string, offer: string, drop: ReadonlySet<number>): string {
  const a = split(answer);
  const o = split(offer);
  const out = [...a.head];
  let next = 0;
  o.media.forEach((section, i) => {
    if (drop.has(i)) out.push(...rejectedSection(section));
    else out.push(...(a.media[next++] ?? []));
  });
  return join(out);
}
