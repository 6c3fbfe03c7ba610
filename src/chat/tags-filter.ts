/**
 * Publication tags filters (Centrifugo v6's subscribe `tf`): a tree of comparisons on a
 * publication's tags (a string map) joined by and / or / not. A subscription with a filter is
 * handed only the publications whose tags match (live and recovered). Parsed and checked once
 * at subscribe; a bad filter is a bad request (107), as in Centrifugo. Pure: values in, values out.
 */
import { ChatError, Errors } from './protocol/codes.js';

/** TagsFilter is a checked filter node: a comparison (leaf) or a logical node. */
export type TagsFilter =
  | { op: 'and' | 'or'; nodes: TagsFilter[] }
  | { op: 'not'; node: TagsFilter }
  | { op: 'cmp'; cmp: OneValueCmp; key: string; val: string }
  | { op: 'cmp'; cmp: 'in' | 'nin'; key: string; vals: readonly string[] }
  | { op: 'cmp'; cmp: 'ex' | 'nex'; key: string };

type OneValueCmp = 'eq' | 'neq' | 'sw' | 'ew' | 'ct' | 'lt' | 'lte' | 'gt' | 'gte';
const ONE_VALUE = new Set<string>(['eq', 'neq', 'sw', 'ew', 'ct', 'lt', 'lte', 'gt', 'gte']);

/** Bounds of a filter a client may send (onair's; Centrifugo sets none): nodes in all, depth, values per list, characters per string. */
export const TAGS_FILTER_LIMITS = { nodes: 64, depth: 8, vals: 64, chars: 256 } as const;

/** DECIMAL is the form a value needs for the numeric comparisons (lt, lte, gt, gte). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function bad(why: string): never {
  throw new ChatError({ ...Errors.badRequest, message: `bad request: tags filter ${why}` });
}

function optString(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') bad(`${k} is not a string`);
  if (v.length > TAGS_FILTER_LIMITS.chars) bad(`${k} is over ${TAGS_FILTER_LIMITS.chars} characters`);
  return v;
}

function optList(o: Record<string, unknown>, k: 'vals' | 'nodes'): unknown[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(`${k} is not a list`);
  return v as unknown[];
}

/** parseTagsFilter checks a subscribe request's `tf` and returns it as a TagsFilter, or throws ChatError 107. */
export function parseTagsFilter(raw: unknown): TagsFilter {
  const budget = { nodes: 0 };
  return parseNode(raw, 1, budget);
}

function parseNode(raw: unknown, depth: number, budget: { nodes: number }): TagsFilter {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('node is not an object');
  if (depth > TAGS_FILTER_LIMITS.depth) bad(`is deeper than ${TAGS_FILTER_LIMITS.depth}`);
  if (++budget.nodes > TAGS_FILTER_LIMITS.nodes) bad(`has more than ${TAGS_FILTER_LIMITS.nodes} nodes`);
  const o = raw as Record<string, unknown>;
  const op = optString(o, 'op');
  const nodes = optList(o, 'nodes');
  if (op === 'and' || op === 'or' || op === 'not') {
    if (op === 'not' && nodes.length !== 1) bad('not needs exactly one node');
    if (nodes.length === 0) bad(`${op} needs at least one node`);
    const children = nodes.map((n) => parseNode(n, depth + 1, budget));
    const [only] = children;
    return op === 'not' && only !== undefined ? { op, node: only } : { op: op as 'and' | 'or', nodes: children };
  }
  if (op !== '') bad(`op "${op}" is not and, or or not`);
  if (nodes.length > 0) bad('comparison has nodes');
  const cmp = optString(o, 'cmp');
  const key = optString(o, 'key');
  const val = optString(o, 'val');
  const vals = optList(o, 'vals');
  if (vals.length > TAGS_FILTER_LIMITS.vals) bad(`vals has more than ${TAGS_FILTER_LIMITS.vals} values`);
  if (cmp === '') bad('comparison has no cmp');
  if (key === '' && cmp !== 'ex' && cmp !== 'nex') bad(`${cmp} needs a key`);
  if (ONE_VALUE.has(cmp)) {
    if (val === '') bad(`${cmp} needs val`);
    if (vals.length > 0) bad(`${cmp} takes val, not vals`);
    return { op: 'cmp', cmp: cmp as OneValueCmp, key, val };
  }
  if (cmp === 'in' || cmp === 'nin') {
    if (vals.length === 0) bad(`${cmp} needs vals`);
    if (val !== '') bad(`${cmp} takes vals, not val`);
    const list = vals.map((v) => {
      if (typeof v !== 'string') bad('vals holds a non-string');
      if (v.length > TAGS_FILTER_LIMITS.chars) bad(`a value is over ${TAGS_FILTER_LIMITS.chars} characters`);
      return v;
    });
    return { op: 'cmp', cmp, key, vals: list };
  }
  if (cmp === 'ex' || cmp === 'nex') {
    if (val !== '' || vals.length > 0) bad(`${cmp} takes no value`);
    return { op: 'cmp', cmp, key };
  }
  return bad(`cmp "${cmp}" is unknown`);
}

/** numberOf reads a tag value for a numeric comparison; NaN when it is not a decimal number. */
function numberOf(s: string): number {
  return DECIMAL.test(s) ? Number(s) : NaN;
}

/** matchTags tells whether a publication with these tags passes the filter. */
export function matchTags(f: TagsFilter, tags: Readonly<Record<string, string>> | undefined): boolean {
  switch (f.op) {
    case 'and':
      return f.nodes.every((n) => matchTags(n, tags));
    case 'or':
      return f.nodes.some((n) => matchTags(n, tags));
    case 'not':
      return !matchTags(f.node, tags);
    case 'cmp':
      break;
  }
  const has = tags !== undefined && Object.hasOwn(tags, f.key);
  const v = has ? (tags[f.key] ?? '') : '';
  switch (f.cmp) {
    case 'eq':
      return has && v === f.val;
    case 'neq':
      return !has || v !== f.val;
    // A missing tag compares as '' in a set (Centrifugo reads the map's zero value).
    case 'in':
      return f.vals.includes(v);
    case 'nin':
      return !f.vals.includes(v);
    case 'ex':
      return has;
    case 'nex':
      return !has;
    case 'sw':
      return has && v.startsWith(f.val);
    case 'ew':
      return has && v.endsWith(f.val);
    case 'ct':
      return has && v.includes(f.val);
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      // A missing or non-numeric tag (or val) fails every numeric comparison.
      const a = has ? numberOf(v) : NaN;
      const b = numberOf(f.val);
      if (Number.isNaN(a) || Number.isNaN(b)) return false;
      return f.cmp === 'lt' ? a < b : f.cmp === 'lte' ? a <= b : f.cmp === 'gt' ? a > b : a >= b;
    }
  }
}

/** filterKey is a filter's canonical text: subscriptions with equal filters share their filtered batches. */
export function filterKey(f: TagsFilter): string {
  return JSON.stringify(f);
}
