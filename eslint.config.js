// ESLint: typescript-eslint's recommended type-checked rules over every TypeScript file that
// tsconfig.json covers (src, test, e2e, bench). Formatting is Prettier's job (prettier.config.js):
// these rule sets contain no formatting rules, so nothing here conflicts with it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'dist-bench/', 'coverage/', '.cluster/', '.cluster-*/'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // The same exemptions as tsc's noUnusedLocals/noUnusedParameters: `const { a: _a, ...rest } = o`
      // is how the code drops a key from a copy, and a leading underscore marks a parameter that an
      // interface requires but this implementation does not read.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
      // Off: an async function without await is the plain way to implement a Promise-returning
      // interface (Controller.setup, reconcile callbacks, API client fakes), and `async` is what turns
      // a throw in it into the rejection its callers handle. The bugs this rule hints at (a promise not
      // awaited) are caught by no-floating-promises, no-misused-promises and await-thenable, which stay on.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
