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
  // The layering (README "Design"): each outside library behind the one module that owns it, and
  // every byte of output through the IoHost in src/cli/.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/process.ts', 'src/systems/aws/**', 'src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {group: ['execa'], message: 'Children are spawned in src/process.ts only.'},
            {group: ['@aws-sdk/*', '@smithy/*'], message: 'The AWS SDK lives in src/systems/aws/ only.'},
            {group: ['listr2'], message: 'listr2 is an output host: src/cli/ only.'},
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        {object: 'process', property: 'stdout', message: 'Output goes through the IoHost (src/cli/).'},
        {object: 'process', property: 'stderr', message: 'Output goes through the IoHost (src/cli/).'},
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['src/process.ts', 'src/systems/aws/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {patterns: [{group: ['listr2'], message: 'listr2 is an output host: src/cli/ only.'}]},
      ],
    },
  },
  {
    files: ['src/systems/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/config/*', '**/steps/*', '**/commands/*', '**/cli/*', '**/release/*', '**/doctor/*'],
              message: 'Systems sit below configuration, steps and commands: they may not import them.',
            },
            {group: ['execa'], message: 'Children are spawned in src/process.ts only.'},
            {group: ['listr2'], message: 'listr2 is an output host: src/cli/ only.'},
          ],
        },
      ],
    },
  },
  {
    files: ['src/systems/aws/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/config/*', '**/steps/*', '**/commands/*', '**/cli/*', '**/release/*', '**/doctor/*'],
              message: 'Systems sit below configuration, steps and commands: they may not import them.',
            },
            {group: ['listr2'], message: 'listr2 is an output host: src/cli/ only.'},
          ],
        },
      ],
    },
  },
  {
    files: ['src/pipeline/engine.ts', 'src/pipeline/ledger.ts', 'src/pipeline/io-host.ts', 'src/pipeline/step.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/cli/*', '**/commands/*', '**/steps/*', '**/release/*', '**/doctor/*', 'listr2', 'execa'],
              message: 'The engine knows steps only through the Step interface and output only through IoHost.',
            },
          ],
        },
      ],
    },
  },
)
