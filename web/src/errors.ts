/**
 * errors.ts: the web app's words for the codes the server sends (ApiError codes of
 * src/http/errors.ts, refusal codes in the studio's live and ABR views). The server sends a code
 * with parameters; here it becomes a sentence in the page's language.
 */
import { ApiError } from './api';
import { isStringKey, t } from './i18n';

/** Vars are a code's parameters as the server sent them (details), plus `msg`, the server's own detail. */
export type CodeVars = Record<string, unknown>;

/** codeText words a server code with its parameters, or undefined when the web app has no words for it. */
export function codeText(code: string, vars: CodeVars = {}): string | undefined {
  const key = `error.${code}`;
  if (!isStringKey(key)) return undefined;
  const filled: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(vars)) if (typeof v === 'string' || typeof v === 'number') filled[k] = v;
  return t(key, filled);
}

/** errorText is what the user reads for a failure: its code's words when it has a known code, else its message. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return codeText(err.code, { ...err.details, msg: err.message }) ?? err.message;
  return err instanceof Error ? err.message : String(err);
}

/** refusalOfStatus is the code a listener's refusal answers with, for clients that see only the HTTP status (players). */
export function refusalOfStatus(status: number): 'too_many_connections' | 'server_full' | undefined {
  return status === 429 ? 'too_many_connections' : status === 503 ? 'server_full' : undefined;
}
