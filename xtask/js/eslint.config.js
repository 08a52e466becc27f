// Lint of the ES modules in web/ and npm/ (the package's runtime entries) (run by `cargo xtask test`, step "js check"): the
// recommended rules plus a few that catch real bugs; no style rules (no formatting, naming or
// ordering opinions). The type check is tsconfig.json's. Run from the repository root
// (`xtask/js/node_modules/.bin/eslint --config xtask/js/eslint.config.js web`): with --config
// the patterns below are relative to the working directory.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    // The wasm-bindgen output (generated, gitignored) and third-party modules kept byte for
    // byte as their package ships them (web/vendor/README.md: version and checksums).
    ignores: ['web/pkg/**', 'web/vendor/**'],
  },
  {
    files: ['web/**/*.js', 'npm/**/*.js', 'examples/**/*.js', 'examples/**/*.mjs', 'tests/npm/*.js', 'tests/npm/*.mjs'],
    ...js.configs.recommended,
  },
  {
    files: ['web/**/*.js', 'npm/**/*.js', 'examples/**/*.js', 'examples/**/*.mjs', 'tests/npm/*.js', 'tests/npm/*.mjs'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // `_` names a value left out on purpose (`({ account: _, ...rest })`).
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'all' }],
      // `x == null` (null or undefined) is the one loose comparison allowed.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-implicit-globals': 'error',
      'no-unused-private-class-members': 'error',
      'array-callback-return': 'error',
      'no-self-compare': 'error',
      'no-template-curly-in-string': 'error',
      'no-unmodified-loop-condition': 'error',
      'no-unreachable-loop': 'error',
      'no-constructor-return': 'error',
      'no-throw-literal': 'error',
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-new-wrappers': 'error',
      'no-duplicate-imports': 'error',
      'no-var': 'error',
      'no-shadow-restricted-names': 'error',
      radix: 'error',
    },
  },
  {
    // Scripts run by Node and Deno (the edge job, the runtime tests' jobs).
    files: ['examples/**/*.mjs', 'tests/npm/*.mjs'],
    languageOptions: { globals: { ...globals.node, Deno: 'readonly' } },
  },
];
