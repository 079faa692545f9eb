import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// The layers that stand on configuration: systems and configuration import none of them.
const ABOVE_CONFIG = [
  '**/pipeline/*',
  '**/steps/*',
  '**/commands/*',
  '**/cli/*',
  '**/release/*',
  '**/doctor/*',
  '**/project/*',
  '**/scaffold/*',
]

// The layering (README "Design"): each outside library behind the one module that owns it.
const only = {
  execa: {group: ['execa'], message: 'Children are spawned in src/process.ts only.'},
  aws: {group: ['@aws-sdk/*', '@smithy/*'], message: 'The AWS SDK lives in src/systems/aws/ only.'},
  listr2: {group: ['listr2'], message: 'listr2 is an output host: src/cli/ only.'},
  belowConfig: {
    group: ['**/config/*', ...ABOVE_CONFIG],
    message:
      'Systems sit below configuration, the engine, steps and commands: they may not import them (the ledger is src/ledger.ts).',
  },
  // src/process.ts, the spawn point, stands on the leaf modules beside it (secrets, ledger, output-block).
  belowSystems: {
    group: ['./*/*'],
    message: 'src/process.ts sits below every folder of src/: it imports only the modules beside it.',
  },
  belowEngine: {
    group: ABOVE_CONFIG,
    message:
      'Configuration sits below the engine, steps, commands, project/ and scaffold/: it may not import them (step ids are src/step-ids.ts, target folders src/config/target.ts).',
  },
}
const restrict = (...patterns) => ({'no-restricted-imports': ['error', {patterns}]})

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'dist.next/',
      'dist-tsc/',
      'node_modules/',
      '.cache/',
      '.cache-bench/',
      'coverage/',
      'examples/',
      'oclif.manifest.json',
      // Mutation testing's sandbox copy and reports (npm run mutation).
      '.stryker-tmp*/',
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
  // The entry and the bundle loader are CommonJS (bin/run.cjs says why).
  {
    files: ['bin/**/*.cjs', 'bench/oclif-floor/bin/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
      },
    },
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
    },
  },
  // Every byte of output goes through the IoHost in src/cli/.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/process.ts', 'src/systems/aws/**', 'src/cli/**'],
    rules: {
      ...restrict(only.execa, only.aws, only.listr2),
      'no-restricted-properties': [
        'error',
        {object: 'process', property: 'stdout', message: 'Output goes through the IoHost (src/cli/).'},
        {object: 'process', property: 'stderr', message: 'Output goes through the IoHost (src/cli/).'},
      ],
      'no-console': 'error',
    },
  },
  {files: ['src/process.ts'], rules: restrict(only.belowSystems, only.listr2, only.aws)},
  {files: ['src/config/**/*.ts'], rules: restrict(only.belowEngine, only.execa, only.listr2, only.aws)},
  {files: ['src/systems/**/*.ts'], rules: restrict(only.belowConfig, only.execa, only.listr2, only.aws)},
  {files: ['src/systems/aws/**/*.ts'], rules: restrict(only.belowConfig, only.execa, only.listr2)},
  {
    files: ['src/pipeline/engine.ts', 'src/ledger.ts', 'src/pipeline/io-host.ts', 'src/pipeline/step.ts'],
    rules: restrict({
      group: ['**/cli/*', '**/commands/*', '**/steps/*', '**/release/*', '**/doctor/*', 'listr2', 'execa'],
      message: 'The engine knows steps only through the Step interface and output only through IoHost.',
    }),
  },
)
