/** RenditionPicture is what tells two renditions apart for a viewer (vods.ts's Rendition has these fields). */
export interface RenditionPicture {
  name: string;
  height: number;
  videoCodec: string | null;
  bytes: number;
}

/**
 * distinctRenditions keeps one rendition per picture (height and video codec), so a player's
 * quality menu never lists "360p" twice: of equals the source wins (it is the original), else
 * the smaller file. Order is otherwise kept. A 720p job on a 360p source made such twins before
 * those jobs were skipped.
 */
export function distinctRenditions<R extends RenditionPicture>(list: readonly R[]): R[] {
  const best = new Map<string, R>();
  for (const r of list) {
    const key = `${r.height}:${r.videoCodec ?? ''}`;
    const kept = best.get(key);
    if (!kept || (kept.name !== 'source' && (r.name === 'source' || r.bytes < kept.bytes))) best.set(key, r);
  }
  const keep = new Set(best.values());
  return list.filter((r) => keep.has(r));
}
