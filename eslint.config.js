// eslint flat config: typescript-eslint's strict type-checked rules over src/, web/src, test/, bench/ and scripts/.
// Every rule below that is turned off or relaxed says why on its own line.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** nodeGlobals are the Node globals the plain .mjs scripts use (TypeScript files get theirs from @types/node). */
const nodeGlobals = { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', performance: 'readonly', setImmediate: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' };

export default tseslint.config(
  { ignores: ['dist/**', 'web/dist/**', 'node_modules/**', 'bench/results/**', 'bench/.cache/**', 'test-artifacts/**', '.tmp/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // tsconfig.lint.json adds test/, bench/ and scripts/ to the server program; web/ keeps its own DOM program,
        // listed first so a web file a test imports (test/unit/web) is still typed by the web program.
        project: ['./web/tsconfig.json', './tsconfig.lint.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numbers and booleans in log and error templates read fine; objects, nullish and unknown are still caught.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `a + b` with a number and a string builds labels and byte-count messages on purpose.
      '@typescript-eslint/restrict-plus-operands': ['error', { allowNumberAndString: true }],
      // `return handler()` in a void switch arm and `() => call()` shorthands are the codebase's idiom: the value is void on both sides.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // `let x` declared before a closure that reads it, then assigned once, cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Leading underscore marks a parameter or destructured slot kept for its position or to drop a key.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Non-index `!` marks invariants the compiler cannot see (a Map entry set just above, a field set by start()); index misses are handled by noUncheckedIndexedAccess with real checks.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Defensive checks on values decoded from the wire, JSON or config stay even where the static type says they cannot miss.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Explicit String()/Number() at trust boundaries documents the conversion even when the type already matches.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // async functions without await implement Promise-returning contracts (Service.start/stop, hooks, route handlers) uniformly.
      '@typescript-eslint/require-await': 'off',
      // `.catch((err) => log(err))` only logs or forwards the error; typing the parameter unknown would add no check.
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
      // `[...text]` splits by code point on purpose (moderation normalisation and length limits count code points, not graphemes).
      '@typescript-eslint/no-misused-spread': 'off',
      // Control characters in these regexes are exactly what they strip or reject.
      'no-control-regex': 'off',
      // `{}` names "this feature needs no dependencies / adds no slots" in the composition root's descriptor types.
      '@typescript-eslint/no-empty-object-type': 'off',
      // AMF values and headers are stringified after a type test the rule cannot follow; real objects never reach these templates.
      '@typescript-eslint/no-base-to-string': 'off',
      // Passing bound-by-closure methods such as `clock.now` or `io.sleep` is safe: none of them use `this`.
      '@typescript-eslint/unbound-method': 'off',
      // `Promise<T | void>` says a handler may return nothing; the alternative `undefined` reads worse at every call site.
      '@typescript-eslint/no-invalid-void-type': 'off',
    },
  },
  {
    // Migrations and row mappers work on Kysely<any>: a migration must not depend on today's schema type.
    files: ['src/**/db.ts', 'src/platform/db/migrations.ts', 'src/platform/jobs/schema.ts', 'src/media/abr/settings.ts', 'src/media/record/vods.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['test/**', 'testkit/**', 'bench/**', 'security/**'],
    rules: {
      // node:test's test()/describe()/t.test() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }],
      // Tests and benchmarks read untyped JSON bodies, browser page.evaluate results and protocol frames, and assert on them: the assertion is the check.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Tests print whatever value failed; a template with an object is the message, not a bug.
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    files: ['web/src/**'],
    rules: {
      // Preact event handlers may be async; the browser ignores their promise and each handler catches its own errors.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: nodeGlobals },
  },
);
