import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'dist.next/',
      'node_modules/',
      '.cache/',
      '.cache-bench/',
      'coverage/',
      'examples/',
      'oclif.manifest.json',
      // Mutation testing's sandbox copy and reports (npm run mutation).
      '.stryker-tmp/',
      'reports/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: [
      'bin/**/*.js',
      'test/fixtures/bin/**',
      'scripts/**/*.{js,mjs}',
      'bench/**/*.{js,mjs}',
      'eslint.config.js',
    ],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setInterval: 'readonly',
        setTimeout: 'readonly',
        fetch: 'readonly',
      },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
    },
  },
)
