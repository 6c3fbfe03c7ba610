import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderErrorDocs } from '../../../scripts/gen-error-docs.js';
import { ERRORS } from '../../../src/http/errors.js';

test('docs/api-errors.md is in sync with the error registry', () => {
  assert.equal(readFileSync('docs/api-errors.md', 'utf8'), renderErrorDocs(), 'run: node --import tsx scripts/gen-error-docs.ts');
});

test('every error code has a 4xx/5xx status and a description', () => {
  for (const [code, e] of Object.entries(ERRORS)) {
    assert.ok(e.status >= 400 && e.status < 600, code);
    assert.ok(e.doc.length > 10, code);
  }
});
