/**
 * Fossil delta subscriptions: a channel's publications in the forms delta subscribers get,
 * built once per publication on a node and shared by every delta subscriber of the channel.
 *
 * In the JSON protocol a negotiated subscription gets every publication's data as a JSON
 * string (the SDK parses it): the full JSON text, or with `delta: true` a Fossil delta against
 * the previous publication's text. In protobuf the full data stays as it is (bytes) and a delta
 * is raw bytes (the transcoder writes a `delta: true` publication's string as bytes).
 */
import { encodePublication, encodePush, type Publication } from './protocol/codec.js';
import { fossilDelta } from './protocol/fossil.js';

/** DeltaForms are one batch's publications as pushes in every form a delta subscriber may need. */
export interface DeltaForms {
  /** The ordinary pushes (protobuf full form). */
  readonly normal: readonly string[];
  /** JSON full form: data as a JSON string. */
  readonly wrapped: readonly string[];
  /** The delta against the previous publication, or null where the full form is shorter or there is none. */
  readonly deltas: readonly (string | null)[];
}

/** DeltaFormat is the protocol format a variant is for. */
export type DeltaFormat = 'json' | 'protobuf';

/** wrapPublicationData is a publication with its data as a JSON string (the JSON full form). */
export function wrapPublicationData(pub: Publication): Publication {
  return { ...pub, data: JSON.stringify(pub.data) };
}

/**
 * buildDeltaForms makes the forms of a run of publications of one channel; `prev` is the data
 * (UTF-8 JSON text) of the channel's publication before the first, or null. Returns the forms
 * and the data of the last publication (the next run's `prev`).
 */
export function buildDeltaForms(channel: string, pubs: readonly Publication[], normal: readonly string[], prev: Buffer | null): { forms: DeltaForms; last: Buffer | null } {
  const wrapped: string[] = [];
  const deltas: (string | null)[] = [];
  let base = prev;
  for (const pub of pubs) {
    const data = Buffer.from(pub.data);
    wrapped.push(encodePush(channel, 'pub', encodePublication(wrapPublicationData(pub))));
    let d: string | null = null;
    // Only a publication that asks for it is a delta (Centrifugo's publish `delta` flag); any
    // publication is the base of the next one, as the SDK keeps every full one it gets.
    if (base !== null && pub.deltaWanted === true) {
      // Copies end on character boundaries, so the delta of UTF-8 text is UTF-8 text.
      const delta = fossilDelta(base, data).toString();
      if (delta.length < pub.data.length) d = encodePush(channel, 'pub', encodePublication({ ...pub, data: JSON.stringify(delta), delta: true }));
    }
    deltas.push(d);
    base = data;
  }
  return { forms: { normal, wrapped, deltas }, last: base };
}

/**
 * variantPushes is a batch's pushes for a delta subscriber: `fresh` when the subscriber has no
 * base yet (its first publication goes in full), else the first may be a delta too.
 */
export function variantPushes(forms: DeltaForms, format: DeltaFormat, fresh: boolean): string[] {
  const full = format === 'json' ? forms.wrapped : forms.normal;
  const out: string[] = [];
  for (let i = 0; i < full.length; i++) {
    const d = fresh && i === 0 ? null : forms.deltas[i];
    out.push(d ?? full[i] ?? '');
  }
  return out;
}
