// Writes docs/api-errors.md from the error registry (src/http/errors.ts).
import { writeFileSync } from 'node:fs';
import { ERRORS } from '../src/http/errors.js';

export function renderErrorDocs(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.doc} |`);
  return ['# API errors', '', 'Every error from `/api/v1` is `{"error":{"code","message"}}` with one of these codes.', 'Generated from `src/http/errors.ts` by `node --import tsx scripts/gen-error-docs.ts`.', '', '| code | HTTP status | meaning |', '|---|---|---|', ...rows, ''].join('\n');
}

if (process.argv[1]?.endsWith('gen-error-docs.ts')) writeFileSync('docs/api-errors.md', renderErrorDocs());
