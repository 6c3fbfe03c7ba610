/**
 * Private files: the data directory holds the database, the secrets file and recordings, so it is
 * created 0700 and those files 0600; an existing looser mode is tightened at start, with a log line.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';

/** PRIVATE_DIR_MODE lets only the owner list and enter the data directory. */
export const PRIVATE_DIR_MODE = 0o700;
/** PRIVATE_FILE_MODE lets only the owner read and write the database and secrets files. */
export const PRIVATE_FILE_MODE = 0o600;

/** ModeLog receives one line per tightened path (the server passes its logger's warn). */
export type ModeLog = (fields: { path: string; from: string; to: string }, msg: string) => void;

const octal = (mode: number) => '0' + (mode & 0o777).toString(8);

/** tighten chmods an existing path to `mode` when group or others have any access; it reports whether it did. */
function tighten(path: string, mode: number, log?: ModeLog): boolean {
  let current: number;
  try {
    current = statSync(path).mode & 0o777;
  } catch {
    return false;
  }
  if ((current & 0o077) === 0) return false;
  chmodSync(path, mode);
  log?.({ path, from: octal(current), to: octal(mode) }, 'tightened the permissions of a private path');
  return true;
}

/** makePrivateDir creates `dir` (and missing parents) 0700; an existing folder is left as it is. */
export function makePrivateDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** ensurePrivateDir creates `dir` 0700, or tightens an existing one (for the data directory only). */
export function ensurePrivateDir(dir: string, log?: ModeLog): void {
  makePrivateDir(dir);
  tighten(dir, PRIVATE_DIR_MODE, log);
}

/** ensurePrivateFile creates `file` empty with 0600 when missing (so no other mode is ever seen), or tightens it. */
export function ensurePrivateFile(file: string, log?: ModeLog): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  tighten(file, PRIVATE_FILE_MODE, log);
}

/** tightenIfPresent tightens `file` to 0600 when it exists (SQLite's -wal and -shm come and go). */
export function tightenIfPresent(file: string, log?: ModeLog): void {
  tighten(file, PRIVATE_FILE_MODE, log);
}
