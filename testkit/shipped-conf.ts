// The load-balancer configs shipped in docs/ (nginx, HAProxy), as tests run them: the file with
// only its example addresses, ports and paths replaced. Each replacement must match, so the
// doc and the tests cannot drift apart.
import { readFileSync } from 'node:fs';

/** shippedConf reads a file under docs/ (a path relative to it). */
export function shippedConf(path: string): { path: string; text: string } {
  const full = new URL(`../docs/${path}`, import.meta.url).pathname;
  return { path: full, text: readFileSync(full, 'utf8') };
}

/** replaceOnce replaces `from` in `text` (every match of a global RegExp) and throws when nothing matched. */
export function replaceOnce(text: string, from: string | RegExp, to: string, file: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`${file} no longer contains ${String(from)}`);
  return out;
}
